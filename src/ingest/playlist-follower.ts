// Follows a byte-range playlist that its writer keeps rewriting (ffmpeg: write temp + rename) and
// hands over only what is new: segments not seen before, the header once, ENDLIST once.
// An event playlist only grows, so after the first parse we resume from the parser's cursor when the
// text before it is unchanged (checked on its first KiB and the bytes just before the cursor) and
// fall back to a full parse otherwise.

import { readFile, stat } from 'node:fs/promises'
import type { IngestLogger } from './ingest-components.ts'
import { IngestError } from './ingest-error.ts'
import { DEFAULT_POLL_MS } from './file-tail.ts'
import { FollowedPath } from './followed-path.ts'
import { parsePlaylist, type ParseCursor, type PlaylistHeader, type PlaylistSegment } from './playlist-parser.ts'

/** We re-read the whole file on each change; 64 MiB is about six days of 1 s segments. */
export const MAX_PLAYLIST_BYTES = 64 * 1024 * 1024
/** Bytes compared to decide the text before the cursor did not change. */
const HEAD_CHECK = 1024
const ANCHOR_CHECK = 256

export interface PlaylistUpdate {
  header: PlaylistHeader
  /** New segments, in order; `index` is the position in the whole playlist. */
  segments: Array<PlaylistSegment & { index: number }>
  /** True the first time #EXT-X-ENDLIST is seen. */
  ended: boolean
}

export interface PlaylistFollowerInit {
  path: string
  pollMs?: number
}

/** Emits 'error' once on a fatal inconsistency (the playlist lost segments we already passed on). */
export class PlaylistFollower extends FollowedPath {
  private readonly onUpdate: (u: PlaylistUpdate) => Promise<void>
  private cursor: ParseCursor | null = null
  private head = ''
  private anchor = ''
  private emitted = 0
  private ended = false
  private lastStat = ''
  private lastError = ''

  constructor (components: { logger: IngestLogger }, init: PlaylistFollowerInit, onUpdate: (u: PlaylistUpdate) => Promise<void>) {
    super(components.logger, init.path, init.pollMs ?? DEFAULT_POLL_MS)
    this.onUpdate = onUpdate
  }

  get segmentCount (): number {
    return this.emitted
  }

  get hasEnded (): boolean {
    return this.ended
  }

  /** Re-reads now and resolves once every update found was handed over. */
  async drain (): Promise<void> {
    this.lastStat = ''
    await this.passAndSettle()
  }

  async close (): Promise<void> {
    await this.stopFollowing()
  }

  protected async readOnce (): Promise<void> {
    let st
    try {
      st = await stat(this.path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    const key = `${st.ino}:${st.size}:${st.mtimeMs}`
    if (key === this.lastStat) return
    if (st.size > MAX_PLAYLIST_BYTES) throw new IngestError('ERR_BAD_PLAYLIST', `${this.path} is over ${MAX_PLAYLIST_BYTES} bytes`)
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    this.lastStat = key
    // A writer without atomic renames can be caught mid-line: only complete lines count.
    text = text.slice(0, text.lastIndexOf('\n') + 1)
    await this.handle(text)
  }

  private async handle (text: string): Promise<void> {
    const c = this.cursor
    const resumable = c !== null && text.length >= c.textOffset && text.startsWith(this.head) &&
      text.slice(c.textOffset - this.anchor.length, c.textOffset) === this.anchor
    const result = parsePlaylist(text, resumable ? c : undefined)
    if (!result.ok) {
      // Possibly a half-written file from a non-atomic writer: wait for the next change.
      if (result.error !== this.lastError) this.logger.warn(`playlist ${this.path}: ${result.error}`)
      this.lastError = result.error
      return
    }
    this.lastError = ''
    const p = result.playlist
    if (p.cursor.segmentCount < this.emitted) {
      throw new IngestError('ERR_BAD_PLAYLIST', `${this.path} now lists ${p.cursor.segmentCount} segments, ${this.emitted} were already ingested`)
    }
    const first = this.cursor === null
    const fresh = p.segments
      .map((s, i) => ({ ...s, index: p.firstIndex + i }))
      .filter((s) => s.index >= this.emitted)
    const endedNow = p.ended && !this.ended
    this.cursor = p.cursor
    this.head = text.slice(0, Math.min(HEAD_CHECK, p.cursor.textOffset))
    this.anchor = text.slice(Math.max(0, p.cursor.textOffset - ANCHOR_CHECK), p.cursor.textOffset)
    this.emitted = p.cursor.segmentCount
    this.ended ||= p.ended
    if (first || fresh.length > 0 || endedNow) {
      await this.onUpdate({ header: p.cursor.header, segments: fresh, ended: endedNow })
    }
  }

}
