// Any file by content id: GET/HEAD /content/<id> (or /content/blake3/<root>) with Range, served
// from the complete file or from a fetch started on demand, each range as soon as its blocks are
// here; and a page with a <video> for it. A SHA-256 id verifies only the whole file, so until then
// every answer says X-Cjp2p-Verified: no, and with verifiedOnly such ranges are refused instead. A
// `blake3/` id's blocks are each checked against its tree before they are written, and a range is
// sent only once its blocks are written, so its answers are verified while it downloads too.
import type { Express, Request, Response } from 'express'
import type { PlayerContext } from './app.ts'
import { answerFileRange, parseRangeHeader } from './byte-range.ts'
import type { ContentReader } from './content-library.ts'
import { sendContentBytes } from './content-sender.ts'
import { html, page } from './pages/html.ts'
import { routeLabel } from './request-guard.ts'
import { cleanName } from '../store/file-names.ts'
import { isFetchableId } from '../store/file-id.ts'
import { BLAKE3_ID_PREFIX } from '../store/blake3/ids.ts'

/** How long a player is told to wait before asking again for a file not yet verified. */
const RETRY_AFTER_S = 5

export function registerContentRoutes(app: Express, { components, verifiedOnly }: PlayerContext): void {
  const { content, logger } = components
  if (!content) return

  /** The name the file is known by, or one the link carries in ?name= (for the Content-Type). */
  function nameOf(req: Request, id: string): string | undefined {
    return cleanName(req.query.name) ?? content!.name(id)
  }

  const serveContent = (idOf: (req: Request) => string) => async (req: Request, res: Response) => {
    const id = idOf(req)
    if (!isFetchableId(id)) {
      res.status(404).type('text/plain').send('not a content id (lowercase sha256 hex, or blake3/<hex>)')
      return
    }
    // A page on another site could embed <video src=...> and make this node fetch (and upload
    // afterwards) whatever it names; players and same-site pages do not send this.
    if (req.headers['sec-fetch-site'] === 'cross-site') {
      res.status(403).type('text/plain').send('a page on another site cannot use this node\'s gateway')
      return
    }
    const gone = new AbortController()
    const leave = () => gone.abort()
    // A player that seeks closes its connection; while we wait for blocks we write nothing, so
    // only the socket's end tells us (a response nobody reads must not hold the download's focus).
    const socket = req.socket
    socket.once('end', leave)
    res.once('close', () => { socket.off('end', leave); leave() })
    let reader: ContentReader
    try {
      reader = await content!.reader(id, gone.signal)
    } catch (err) {
      if (gone.signal.aborted) return
      res.status(504).type('text/plain').send(`cannot fetch ${id}: ${(err as Error).message}`)
      return
    }
    try {
      res.set('Accept-Ranges', 'bytes').set('Cache-Control', 'no-store')
        .set('X-Cjp2p-Verified', reader.verified ? 'yes' : 'no')
      if (verifiedOnly && !reader.verified) {
        res.status(503).set('Retry-After', String(RETRY_AFTER_S)).type('text/plain')
          .send(`${id} is still downloading and a sha256 id verifies only the whole file; --verified-only serves it once it has`)
        return
      }
      const answer = answerFileRange(reader.size, parseRangeHeader(req.headers.range))
      if (answer.status === 416) {
        res.status(416).set('Content-Range', `bytes */${reader.size}`).type('text/plain').send(answer.reason)
        return
      }
      // res.type looks the extension up in Express's MIME table; no name or an unknown one: octet-stream.
      res.status(answer.status).type(nameOf(req, id) ?? 'application/octet-stream').set('Content-Length', String(answer.end - answer.start))
      if (answer.status === 206) res.set('Content-Range', `bytes ${answer.start}-${answer.end - 1}/${reader.size}`)
      if (req.method === 'HEAD') {
        res.end()
        return
      }
      const complete = await sendContentBytes(reader, res, answer.start, answer.end, gone.signal)
      if (!complete) logger.debug('content response cut short', { id, start: answer.start, end: answer.end })
    } finally {
      await reader.close()
    }
  }
  app.get('/content/:id', routeLabel('content'), serveContent((req) => req.params.id as string))
  app.get('/content/blake3/:root', routeLabel('content'), serveContent((req) => BLAKE3_ID_PREFIX + (req.params.root as string)))

  const watchPage = (idOf: (req: Request) => string) => (req: Request, res: Response) => {
    const id = idOf(req)
    if (!isFetchableId(id)) {
      res.status(404).type('text/plain').send('not a content id (lowercase sha256 hex, or blake3/<hex>)')
      return
    }
    const name = nameOf(req, id)
    const src = `/content/${id}${name ? `?name=${encodeURIComponent(name)}` : ''}`
    res.set('Cache-Control', 'no-cache').type('html').send(page(`${name ?? id}`, html`<h1>${name ?? html`<code>${id}</code>`}</h1>
<video id="video" controls playsinline preload="metadata" src="${src}"></video>
<p><a href="${src}">${src}</a> (any player: <code>mpv URL</code>, <code>ffplay URL</code>)</p>`))
  }
  app.get('/watch/content/:id', routeLabel('watch'), watchPage((req) => req.params.id as string))
  app.get('/watch/content/blake3/:root', routeLabel('watch'), watchPage((req) => BLAKE3_ID_PREFIX + (req.params.root as string)))
}
