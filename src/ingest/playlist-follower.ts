// Follows a byte-range playlist that its writer keeps rewriting and hands over only what is new:
// segments not seen before, the header once, ENDLIST once.
//
// A segment is new when it starts at or after the end of the last one handed over: every segment
// is a byte range of ONE growing file, so its offset orders it whatever the playlist says about
// positions. That makes any read safe: ffmpeg rewrites the playlist in place (and slides a window
// over it, see ffmpeg-args.ts), so a read may be empty, cut mid-line, list fewer segments than the
// last one, or have dropped segments off its head; none of that is an error, we wait for the next
// rewrite. Only a playlist that stays unreadable for UNREADABLE_WARN_MS is worth a warning.
//
// An event playlist (--tail of another program) only grows, so after the first parse we resume
// from the parser's cursor when the text before it is unchanged (checked on its first KiB and the
// bytes just before the cursor) and fall back to a full parse otherwise.

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
/** A rewrite in place takes milliseconds; a playlist unreadable for this long is really broken. */
export const UNREADABLE_WARN_MS = 5_000

export interface PlaylistUpdate {
  header: PlaylistHeader
  /** New segments, in order; `index` counts the segments handed over by this follower. */
  segments: Array<PlaylistSegment & { index: number }>
  /** True the first time #EXT-X-ENDLIST is seen. */
  ended: boolean
}

export interface PlaylistFollowerInit {
  path: string
  pollMs?: number
}

/** Emits 'error' once on an I/O failure or an oversized playlist; what a rewrite shows never is one. */
export class PlaylistFollower extends FollowedPath {
  private readonly onUpdate: (u: PlaylistUpdate) => Promise<void>
  private readonly now: () => number
  private cursor: ParseCursor | null = null
  private head = ''
  private anchor = ''
  private emitted = 0
  /** End offset of the last segment handed over: the next new segment starts here or later. */
  private nextOffset = 0
  private ended = false
  private lastStat = ''
  /** Since when every read failed to parse (null: the last one parsed), and whether we said so. */
  private unreadableSince: number | null = null
  private warned = false

  constructor (components: { logger: IngestLogger; now?: () => number }, init: PlaylistFollowerInit, onUpdate: (u: PlaylistUpdate) => Promise<void>) {
    super(components.logger, init.path, init.pollMs ?? DEFAULT_POLL_MS)
    this.onUpdate = onUpdate
    this.now = components.now ?? Date.now
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
      this.unreadable(result.error)
      return
    }
    if (this.unreadableSince !== null && this.warned) this.logger.info(`playlist ${this.path} is readable again`)
    this.unreadableSince = null
    this.warned = false
    const p = result.playlist
    const first = this.cursor === null
    const fresh = p.segments.filter((s) => s.offset >= this.nextOffset)
    const lost = fresh.length > 0 && this.emitted > 0 ? fresh[0].offset - this.nextOffset : 0
    if (lost > 0) {
      // Only if we fell a whole window behind the writer: the bytes still reach the log, but
      // no segment record will point into them.
      this.logger.warn(`playlist ${this.path}: segments over ${lost} bytes left the writer's window before we read them`)
    }
    const endedNow = p.ended && !this.ended
    this.cursor = p.cursor
    this.head = text.slice(0, Math.min(HEAD_CHECK, p.cursor.textOffset))
    this.anchor = text.slice(Math.max(0, p.cursor.textOffset - ANCHOR_CHECK), p.cursor.textOffset)
    const numbered = fresh.map((s, i) => ({ ...s, index: this.emitted + i }))
    this.emitted += fresh.length
    const last = fresh.at(-1)
    if (last) this.nextOffset = last.offset + last.length
    this.ended ||= p.ended
    if (first || fresh.length > 0 || endedNow) {
      await this.onUpdate({ header: p.cursor.header, segments: numbered, ended: endedNow })
    }
  }

  /** A read caught the file mid-rewrite (or it is garbage): wait for the next one, say so only if it lasts. */
  private unreadable (error: string): void {
    const now = this.now()
    this.unreadableSince ??= now
    if (!this.warned && now - this.unreadableSince >= UNREADABLE_WARN_MS) {
      this.warned = true
      this.logger.warn(`playlist ${this.path} unreadable for ${Math.round((now - this.unreadableSince) / 1000)} s: ${error}`)
    } else {
      this.logger.debug(`playlist ${this.path}: ${error} (a rewrite in progress?)`)
    }
  }
}
