// Who may use the local JSON API: programs on this machine (the CLI) and pages from this node's
// own origin. A page on any other origin cannot read answers (we send no CORS headers), is
// refused outright when its browser names it (Origin, Sec-Fetch-Site), and cannot change state
// without the per-node token, which only processes that can read <dir>/api.json have.
import { timingSafeEqual } from 'node:crypto'
import { isIP } from 'node:net'
import type { NextFunction, Request, Response } from 'express'

/** The header carrying the token on state-changing calls. */
export const API_TOKEN_HEADER = 'x-cjp2p-token'

export function isLoopback(addr: string | undefined): boolean {
  if (!addr) return false
  const a = addr.startsWith('::ffff:') ? addr.slice(7) : addr
  return a === '::1' || (isIP(a) === 4 && a.startsWith('127.'))
}

function sameOrigin(req: Request, origin: string): boolean {
  return origin === `http://${req.headers.host}`
}

export function localApiGuard(token: string) {
  const want = Buffer.from(token)
  return (req: Request, res: Response, next: NextFunction): void => {
    const refuse = (status: number, why: string) => { res.status(status).type('text/plain').send(why) }
    if (!isLoopback(req.socket.remoteAddress)) return refuse(403, 'the API answers only on loopback')
    const origin = req.headers.origin
    if (origin !== undefined && !sameOrigin(req, origin)) return refuse(403, 'foreign origin')
    const site = req.headers['sec-fetch-site']
    if (site === 'cross-site' || site === 'same-site') return refuse(403, 'foreign origin')
    if (req.method === 'GET' || req.method === 'HEAD') return next()
    const given = Buffer.from(String(req.headers[API_TOKEN_HEADER] ?? ''))
    if (given.length !== want.length || !timingSafeEqual(given, want)) return refuse(401, `missing or wrong ${API_TOKEN_HEADER} header (the token is in <dir>/api.json)`)
    if (req.method === 'POST' && !req.is('application/json')) return refuse(415, 'send application/json')
    next()
  }
}
