// One run of a writer (an ffmpeg process, or the foreign program in --tail mode): follows its media
// file and playlist and turns them into appends and segment records in LOG coordinates
// (log offset where the run started + offset in the run's file).
//
// Nothing of a run reaches the log before its playlist first appears, i.e. before its first segment
// is complete: a writer that dies earlier leaves no bytes no segment could ever reference. From then
// on, bytes are appended as they land on disk and a segment is passed on only once all its bytes were.

import { open } from 'node:fs/promises'
import { isAbsolute, dirname, resolve as resolvePath } from 'node:path'
import { readInit, startsIndependent, type InitFacts } from './fmp4-fragment.ts'
import type { IngestLogger } from './ingest-components.ts'
import { IngestError } from './ingest-error.ts'
import type { IngestSegment } from './ingest-sink.ts'
import { FileTail } from './file-tail.ts'
import { HolePuncher } from './hole-puncher.ts'
import { PlaylistFollower, type PlaylistUpdate } from './playlist-follower.ts'
import type { PlaylistHeader } from './playlist-parser.ts'

/** A moof with a few tracks' sample tables fits in this many bytes (ffmpeg: ~100-600). */
const MOOF_READ = 4096
/** An init segment is a few KiB; moov larger than this is read as far as it goes. */
const MAX_INIT_READ = 65536

export interface RunHooks {
  /** The run's first usable playlist; called before its first append. */
  header(h: PlaylistHeader, base: number): Promise<void>
  /** Resolves once the bytes are in the log. */
  append(bytes: Buffer): Promise<void>
  /** Offsets already in log coordinates; pdt null when the playlist has none. `independent`: an
   * fMP4 fragment that starts with a video sync sample (always false for MPEG-TS: not read). */
  segment(seg: Omit<IngestSegment, 'pdt' | 'part'> & { pdt: number | null; independent: boolean }): Promise<void>
  /** The playlist reached #EXT-X-ENDLIST (and every listed segment was passed on). */
  ended(): void
  error(err: Error): void
}

export interface RunInit {
  /** Log offset of the run file's byte 0. */
  base: number
  playlistPath: string
  /** Null in tail mode when only the playlist was given: taken from its segment or map URI. */
  mediaPath: string | null
  pollMs?: number
  /** The media file is ours (ffmpeg's, not another program's in --tail mode): free what is in the
   * log (hole-puncher.ts). */
  freeConsumed?: boolean
  /** Consumed bytes per hole punched (tests shrink it). */
  punchEveryBytes?: number
}

export class IngestRun {
  readonly base: number
  readonly playlistPath: string
  private readonly logger: IngestLogger
  private readonly hooks: RunHooks
  private readonly pollMs: number | undefined
  private readonly follower: PlaylistFollower
  private mediaPath: string | null
  private tail: FileTail | null = null
  private puncher: HolePuncher | null = null
  private readonly init: RunInit
  private delivered = 0
  private lastSegmentEnd = 0
  private writerDone = false
  private wake: (() => void) | null = null
  private finishing: Promise<void> | null = null
  private closed = false
  /** What the fMP4 init says about tracks, read once; null for MPEG-TS. */
  private initFacts: InitFacts | null = null

  constructor (components: { logger: IngestLogger }, init: RunInit, hooks: RunHooks) {
    this.logger = components.logger
    this.hooks = hooks
    this.base = init.base
    this.playlistPath = init.playlistPath
    this.pollMs = init.pollMs
    this.mediaPath = init.mediaPath
    this.init = init
    this.follower = new PlaylistFollower({ logger: this.logger }, { path: init.playlistPath, pollMs: init.pollMs }, (u) => this.onPlaylist(u))
    this.follower.on('error', (err: Error) => hooks.error(err))
  }

  /** Bytes of the run file now in the log. */
  get bytes (): number {
    return this.delivered
  }

  get segments (): number {
    return this.follower.segmentCount
  }

  start (): void {
    this.follower.start()
  }

  /** After the writer exited: pass on everything left, then close. Memoised. */
  finish (): Promise<void> {
    this.finishing ??= (async () => {
      this.writerDone = true
      this.wakeWaiters()
      try {
        await this.follower.drain()
        await this.tail?.drain()
      } finally {
        await this.close()
      }
    })()
    return this.finishing
  }

  /** Stops following without draining. Idempotent. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.writerDone = true
    this.wakeWaiters()
    await Promise.all([this.follower.close(), this.tail?.close(), this.puncher?.close()])
  }

  /** Bytes of the run file given back to the file system (hole-puncher.ts). */
  get freedBytes (): number {
    return this.puncher?.freedBytes ?? 0
  }

  private async onPlaylist (u: PlaylistUpdate): Promise<void> {
    if (!this.tail) {
      const uri = u.header.map?.uri ?? u.segments[0]?.uri
      if (this.mediaPath === null && uri !== undefined) this.mediaPath = this.resolveUri(uri)
      if (this.mediaPath === null) return // tail mode, nothing listed yet: no way to know the media file
      await this.hooks.header(u.header, this.base)
      if (u.header.map) this.initFacts = readInit(await this.readRunFile(u.header.map.offset, Math.min(u.header.map.length, MAX_INIT_READ)))
      this.tail = new FileTail({ logger: this.logger }, { path: this.mediaPath, pollMs: this.pollMs }, (b) => this.onBytes(b))
      if (this.init.freeConsumed) this.puncher = new HolePuncher({ logger: this.logger }, { path: this.mediaPath, everyBytes: this.init.punchEveryBytes })
      this.tail.on('error', (err: Error) => this.hooks.error(err))
      if (!this.closed) this.tail.start()
    }
    for (const s of u.segments) {
      if (this.resolveUri(s.uri) !== this.mediaPath) {
        throw new IngestError('ERR_BAD_PLAYLIST', `segment ${s.index} is in ${s.uri}, not in the followed media file ${this.mediaPath}`)
      }
      if (s.offset < this.lastSegmentEnd) {
        this.logger.warn(`segment ${s.index} at ${s.offset} overlaps the previous one (ends ${this.lastSegmentEnd}): skipped`)
        continue
      }
      const end = s.offset + s.length
      if (!(await this.waitForBytes(end))) {
        this.logger.warn(`segment ${s.index} needs bytes up to ${end}, the media file ended at ${this.delivered}: skipped`)
        continue
      }
      this.lastSegmentEnd = end
      const independent = this.initFacts ? startsIndependent(await this.readRunFile(s.offset, Math.min(s.length, MOOF_READ)), this.initFacts) : false
      await this.hooks.segment({ offset: this.base + s.offset, length: s.length, duration: s.duration, pdt: s.pdt, discontinuity: s.discontinuity, independent })
    }
    if (u.ended) this.hooks.ended()
  }

  /** Bytes of the run's media file (already on disk: the playlist lists them); empty if it is gone. */
  private async readRunFile (offset: number, length: number): Promise<Buffer> {
    if (this.mediaPath === null) return Buffer.alloc(0)
    try {
      const fh = await open(this.mediaPath, 'r')
      try {
        const buf = Buffer.alloc(length)
        const { bytesRead } = await fh.read(buf, 0, length, offset)
        return buf.subarray(0, bytesRead)
      } finally {
        await fh.close()
      }
    } catch (err) {
      this.logger.debug(`cannot read ${this.mediaPath} at ${offset}: ${(err as Error).message}`)
      return Buffer.alloc(0)
    }
  }

  private async onBytes (bytes: Buffer): Promise<void> {
    await this.hooks.append(bytes)
    this.delivered += bytes.length
    this.puncher?.consumed(this.delivered)
    this.wakeWaiters()
  }

  private async waitForBytes (end: number): Promise<boolean> {
    while (this.delivered < end) {
      if (this.writerDone) {
        // The writer is gone: whatever is on disk now is all there will be.
        if (!this.closed) await this.tail?.drain()
        return this.delivered >= end
      }
      await new Promise<void>((resolve) => {
        const prev = this.wake
        this.wake = () => { prev?.(); resolve() }
      })
    }
    return true
  }

  private wakeWaiters (): void {
    const w = this.wake
    this.wake = null
    w?.()
  }

  private resolveUri (uri: string): string {
    if (/^[a-z][a-z0-9+.-]*:/i.test(uri)) {
      throw new IngestError('ERR_BAD_PLAYLIST', `segment URI ${uri} is not a local file; --tail follows files only`)
    }
    return isAbsolute(uri) ? uri : resolvePath(dirname(this.follower.path), uri)
  }
}
