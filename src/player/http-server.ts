import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RunningHttpServer {
  server: Server
  url: string
  /** Stops listening and destroys open connections (keep-alive and in-flight); idempotent. */
  close(): Promise<void>
}

/** Listens on 127.0.0.1 unless told otherwise: the player serves only this machine by default. */
export async function startHttpServer(app: RequestListener, opts: { host?: string; port: number }): Promise<RunningHttpServer> {
  const host = opts.host ?? '127.0.0.1'
  const server = createServer(app)
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
