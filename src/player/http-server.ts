import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ConnectionGuard } from './connection-guard.ts'

export interface RunningHttpServer {
  server: Server
  url: string
  /** Stops listening and destroys open connections (keep-alive and in-flight); idempotent. */
  close(): Promise<void>
}

/** Limits against slow and idle clients (issue 17: half-sent requests once filled every slot).
 * - maxConnections: a player page uses a handful; each media response holds one 64 KiB read.
 * - perAddress: one client cannot take every slot (on loopback everyone shares 127.0.0.1, so
 *   what protects the local player there is evicting idle sockets, see connection-guard.ts).
 * - headersTimeoutMs: a real client sends its headers in one packet; 5 s is generous.
 * - requestTimeoutMs: the whole request including a body (playback reports are under 4 KiB).
 * - idleTimeoutMs: a socket with no traffic either way (a client that stopped reading a media
 *   response) is closed; a live player asks every segment duration.
 * - checkIntervalMs: how often Node checks the header and request timeouts (default 30 s). */
export const HTTP_LIMITS = {
  maxConnections: 256,
  perAddress: 64,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  checkIntervalMs: 1_000,
} as const

/** Listens on 127.0.0.1 unless told otherwise: the player serves only this machine by default. */
export async function startHttpServer(app: RequestListener, opts: { host?: string; port: number }): Promise<RunningHttpServer> {
  const host = opts.host ?? '127.0.0.1'
  const server = createServer({
    headersTimeout: HTTP_LIMITS.headersTimeoutMs,
    requestTimeout: HTTP_LIMITS.requestTimeoutMs,
    keepAliveTimeout: HTTP_LIMITS.keepAliveTimeoutMs,
    connectionsCheckingInterval: HTTP_LIMITS.checkIntervalMs,
  }, app)
  server.setTimeout(HTTP_LIMITS.idleTimeoutMs, (socket) => socket.destroy())
  new ConnectionGuard(server, { max: HTTP_LIMITS.maxConnections, perAddress: HTTP_LIMITS.perAddress })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  let closing: Promise<void> | null = null
  return {
    server,
    url,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closing
    },
  }
}
