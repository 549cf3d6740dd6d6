import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RunningHttpServer {
  server: Server
  url: string
  /** Stops listening and destroys open connections (keep-alive and in-flight); idempotent. */
  close(): Promise<void>
}

/** Open connections at once: a player page uses a handful, so this only stops a runaway client
 * from holding unbounded sockets (each media response also holds one 64 KiB read). */
export const MAX_HTTP_CONNECTIONS = 256

/** Listens on 127.0.0.1 unless told otherwise: the player serves only this machine by default. */
export async function startHttpServer(app: RequestListener, opts: { host?: string; port: number }): Promise<RunningHttpServer> {
  const host = opts.host ?? '127.0.0.1'
  const server = createServer(app)
  server.maxConnections = MAX_HTTP_CONNECTIONS
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
