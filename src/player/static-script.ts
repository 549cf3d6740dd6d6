// A script the pages load (hls.js, the player, the dashboard), served from memory and gzipped
// for browsers that accept it. hls.js is the biggest thing a new viewer downloads before the
// first frame (390 KB for the light build): gzipped it is about a third, which is a third of the
// time on a slow link (issue #14, page load to first frame). Compressed once, in the background
// at start-up, not per request; until that is done the plain bytes go out.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { gzip } from 'node:zlib'
import type { Request, Response } from 'express'

/** Scripts change only with a new install; a short cache still picks up upgrades quickly. */
const SCRIPT_CACHE = 'public, max-age=300'

export class StaticScript {
  private readonly plain: Buffer
  private readonly etag: string
  private gzipped: Buffer | null = null

  /** Reads `file` now: a missing script is an install fault that should stop the node at start. */
  constructor(file: string) {
    this.plain = readFileSync(file)
    this.etag = `"${createHash('sha256').update(this.plain).digest('base64url').slice(0, 22)}"`
    // Compressing is ~20 ms of CPU for hls.js: in the thread pool, so start-up does not wait.
    gzip(this.plain, (err, out) => { if (!err) this.gzipped = out })
  }

  send(req: Request, res: Response): void {
    res.set({ 'Cache-Control': SCRIPT_CACHE, 'Content-Type': 'text/javascript; charset=utf-8', ETag: this.etag, Vary: 'Accept-Encoding' })
    if (req.fresh) {
      res.status(304).end()
      return
    }
    const zipped = this.gzipped !== null && req.acceptsEncodings('gzip') === 'gzip'
    if (zipped) res.set('Content-Encoding', 'gzip')
    res.send(zipped ? this.gzipped : this.plain)
  }
}
