// Cross-cutting HTTP concerns: the fixed route label every request is counted under, refusal of
// path tricks before any route sees the URL, and headers every answer carries.
import type { NextFunction, Request, Response } from 'express'
import type { MetricsSink } from '../metrics/types.ts'
import { isIP } from 'node:net'

/** The only values the `route` metric label takes (no ids, no paths: bounded cardinality). */
export type HttpRoute =
  | 'index' | 'watch' | 'playlist' | 'media' | 'status' | 'metrics' | 'dashboard' | 'report' | 'vendor' | 'content' | 'api' | 'other'

/** Longest request path we look at: a stream URL is under 200 characters, so 2 KiB is generous
 * and keeps a hostile URL from costing us decoding work. */
export const MAX_URL_LENGTH = 2048

/** Route handler prefix that names the route for metrics. */
export function routeLabel(route: HttpRoute) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    res.locals.route = route
    next()
  }
}

/** Counts every request once, when its response finishes or the connection drops. */
export function countRequests(sink: MetricsSink | undefined) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    if (sink) {
      let counted = false
      const count = (): void => {
        if (counted) return
        counted = true
        sink.httpRequest((res.locals.route as HttpRoute | undefined) ?? 'other', res.statusCode)
      }
      res.once('finish', count)
      res.once('close', count)
    }
    next()
  }
}

/** Refuses `..` and `.` segments (raw or percent-encoded), encoded slashes and backslashes, NUL,
 * malformed escapes and overlong URLs, so no route or file lookup ever sees them. */
export function refusePathTricks(req: Request, res: Response, next: NextFunction): void {
  const url = req.originalUrl ?? req.url
  if (url.length > MAX_URL_LENGTH) {
    res.status(414).type('text/plain').send('URI too long')
    return
  }
  const path = url.split('?', 1)[0]
  if (/%(2f|5c|00)/i.test(path) || /[\\\0]/.test(path) || !path.startsWith('/')) {
    res.status(400).type('text/plain').send('bad path')
    return
  }
  for (const segment of path.split('/')) {
    let decoded: string
    try {
      decoded = decodeURIComponent(segment)
    } catch {
      res.status(400).type('text/plain').send('bad path encoding')
      return
    }
    if (decoded === '.' || decoded === '..') {
      res.status(400).type('text/plain').send('bad path')
      return
    }
  }
  next()
}

/** Refuses requests whose Host is a name we were not told about. A web page on another site can
 * point its own DNS name at 127.0.0.1 (DNS rebinding) and then read our answers as same-origin;
 * it cannot make the browser send an IP literal or `localhost` as the Host for its own name. */
export function refuseForeignHosts(allowed: readonly string[] = []) {
  const names = new Set(['localhost', ...allowed.map((h) => h.toLowerCase())])
  return (req: Request, res: Response, next: NextFunction): void => {
    const host = req.headers.host
    if (host === undefined) { next(); return }
    const name = host.toLowerCase().replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1')
    if (isIP(name) !== 0 || names.has(name) || name.endsWith('.localhost')) { next(); return }
    res.status(403).type('text/plain').send('unknown Host: pass it with --http-allowed-host to serve it')
  }
}

export function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.set('X-Content-Type-Options', 'nosniff')
  res.set('Referrer-Policy', 'no-referrer')
  // hls.js runs its transmuxer in a blob: worker and feeds MediaSource through blob: URLs.
  res.set('Content-Security-Policy', "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
    "media-src 'self' blob:; worker-src 'self' blob:; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")
  next()
}
