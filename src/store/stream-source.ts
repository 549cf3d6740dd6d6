// The writing side of a StreamLog on the node that owns the stream's key: cuts appended bytes into
// CHUNK_SIZE chunks, signs each chunk, segment, info and head, and journals a record before it is
// announced (so a restart never re-issues an announced index with different bytes). All writes run
// one at a time through `serial`, which is also the backpressure: append() resolves once its bytes
// are written and its complete chunks signed and journaled.
import { StoreError } from './errors.ts'
import type { StreamKey } from './keys.ts'
import { makeStreamId } from './stream-id.ts'
import type { StreamLog, StreamLogOptions } from './stream-log.ts'
import { CHUNK_SIZE, type PartPosition, type ChunkRecord, type MediaFormat, type SegmentRecord, type StreamHead, type StreamId, type StreamInfo } from './stream-types.ts'
import { signChunk, signHead, signInfo, signSegment, type SegmentFields } from './verify.ts'

export interface SourceOptions extends StreamLogOptions {
  format: MediaFormat
  /** fMP4 init range if already known; omit to keep what a reopened log had. */
  init?: { offset: number; length: number } | null
  targetDuration: number
}

type Init = { offset: number; length: number } | null

/** What the ingest knows of a segment or part; the source numbers it (n, and a part's msn). */
export type SegmentAddition = Omit<SegmentFields, 'n' | 'part'> & { part?: Omit<PartPosition, 'msn'> }

const sameInit = (a: Init, b: Init): boolean => a === b || (a !== null && b !== null && a.offset === b.offset && a.length === b.length)

export class StreamSource {
  private serial: Promise<unknown> = Promise.resolve()
  private pending: Buffer = Buffer.alloc(0)
  private ended = false

  private constructor(
    private readonly log: StreamLog,
    private readonly key: StreamKey,
    private nextChunk: number,
    /** True after a reopen until the next segment, which then carries discontinuity. */
    private restarted: boolean,
  ) {}

  static idFor(key: StreamKey, name: string): StreamId {
    return makeStreamId(key.publicKeyHex, name)
  }

  /** Takes over a freshly opened log: checks it can continue, re-reads a partial trailing chunk,
   * (re)signs the info if it changed, and signs a head. */
  static async attach(log: StreamLog, key: StreamKey, opts: SourceOptions): Promise<StreamSource> {
    if (log.head()?.ended) throw new StoreError('ERR_ENDED', `${log.id} has ended; start a stream with a new name`)
    let top = -1
    for (const n of log.chunks.keys()) if (n > top) top = n
    const last = top >= 0 ? (log.chunks.get(top) as ChunkRecord) : null
    if (last && last.length < CHUNK_SIZE) throw new StoreError('ERR_ENDED', `${log.id} has ended; start a stream with a new name`)
    const published = (top + 1) * CHUNK_SIZE
    if (log.dataSize < published) throw new StoreError('ERR_CORRUPT', `${log.id}: data file is shorter than its signed chunks`)
    for (let n = Math.max(0, log.chunks.floor, log.floor); n <= top; n++) {
      if (!log.hasChunk(n)) log.logger.warn('source chunk failed its re-check after restart; it stays a hole', { id: log.id, n })
    }

    const src = new StreamSource(log, key, top + 1, log.segments.max >= 0)
    const info = log.info()
    const init = opts.init !== undefined ? opts.init : (info?.init ?? null)
    if (!info || info.format !== opts.format || info.targetDuration !== opts.targetDuration || !sameInit(info.init, init)) {
      const created = info?.created ?? src.now()
      log.setInfo(signInfo(key, { id: log.id, format: opts.format, init, targetDuration: opts.targetDuration, created }))
    }
    // Bytes appended before a crash but never signed: chunk them now, in the same order.
    for (let pos = published; pos < log.dataSize; pos += CHUNK_SIZE) {
      const bytes = await log.data.read(Math.min(CHUNK_SIZE, log.dataSize - pos), pos, `re-reading ${log.id}`)
      if (bytes.length === CHUNK_SIZE) await src.publishChunk(bytes)
      else src.pending = bytes
    }
    src.publishHead()
    return src
  }

  append(bytes: Uint8Array): Promise<ChunkRecord[]> {
    return this.run(async () => {
      this.assertOpen()
      if (bytes.length === 0) return []
      const start = this.nextChunk * CHUNK_SIZE + this.pending.length
      await this.log.data.write(bytes, start, `appending to ${this.log.id}`)
      this.log.dataSize = Math.max(this.log.dataSize, start + bytes.length)
      const out: ChunkRecord[] = []
      let buf = this.pending.length ? Buffer.concat([this.pending, bytes]) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      while (buf.length >= CHUNK_SIZE) {
        out.push(await this.publishChunk(buf.subarray(0, CHUNK_SIZE)))
        buf = buf.subarray(CHUNK_SIZE)
      }
      this.pending = Buffer.from(buf) // a copy, so we never pin the caller's large buffer
      if (out.length) this.publishHead()
      return out
    })
  }

  addSegment(fields: SegmentAddition): Promise<SegmentRecord> {
    return this.run(async () => {
      this.assertOpen()
      const n = this.log.segments.max + 1
      const discontinuity = fields.discontinuity || this.restarted
      const { part, ...whole } = fields
      const rec = signSegment(this.key, this.log.id, { ...whole, n, discontinuity, ...(part ? { part: this.placePart(n, part, discontinuity) } : {}) })
      await this.log.appendJournal({ t: 'segment', r: rec })
      this.restarted = false
      this.log.segments.set(n, rec)
      this.log.emit('segment', rec)
      this.publishHead()
      return rec
    })
  }

  /** The media sequence number of a new part: the previous record's, or the next one when the part
   * starts a segment. A part after a discontinuity (or after whole-segment records) always does. */
  private placePart(n: number, part: { index: number; independent: boolean }, discontinuity: boolean): PartPosition {
    const last = this.log.segments.get(n - 1)
    const lastMsn = last ? last.part?.msn ?? last.n : null
    if (lastMsn !== null && last?.part && part.index > 0 && !discontinuity) return { msn: lastMsn, index: part.index, independent: part.independent }
    return { msn: lastMsn === null ? n : lastMsn + 1, index: 0, independent: part.independent }
  }

  setInit(init: Init): Promise<StreamInfo> {
    return this.run(async () => {
      this.assertOpen()
      const info = this.log.info() as StreamInfo
      const next = signInfo(this.key, { ...info, init })
      await this.log.appendJournal({ t: 'info', r: next })
      this.log.setInfo(next, true)
      return next
    })
  }

  /** Publishes the short final chunk, signs an ended head and makes it all durable. */
  end(): Promise<StreamHead> {
    return this.run(async () => {
      this.assertOpen()
      if (this.pending.length) await this.publishChunk(this.pending)
      this.pending = Buffer.alloc(0)
      this.ended = true
      // Journaled and awaited before it is published: the marks' commit below writes the journal
      // only when marks are pending, and the ended head must be on disk when end() resolves.
      const head = this.signNextHead(true)
      await this.log.appendJournal({ t: 'head', r: head })
      this.log.setHead(head, true)
      await this.log.commitMarks()
      return head
    })
  }

  /** Resolves when no source operation is running. */
  idle(): Promise<void> {
    return this.serial.then(() => {}, () => {})
  }

  private async publishChunk(bytes: Buffer): Promise<ChunkRecord> {
    const n = this.nextChunk
    const rec = signChunk(this.key, this.log.id, n, bytes, this.now())
    await this.log.appendJournal({ t: 'chunk', r: rec })
    this.log.chunks.set(n, rec)
    this.nextChunk = n + 1
    this.log.noteVerified(n)
    this.log.emit('verified', n, bytes)
    this.log.emit('chunk', n)
    return rec
  }

  private publishHead(): StreamHead {
    const head = this.signNextHead(false)
    this.log.setHead(head)
    return head
  }

  private signNextHead(ended: boolean): StreamHead {
    const prev = this.log.head()
    const chunks = this.nextChunk
    const lastLength = chunks > 0 ? (this.log.chunks.get(chunks - 1)?.length ?? CHUNK_SIZE) : 0
    return signHead(this.key, {
      id: this.log.id,
      chunks,
      length: chunks > 0 ? (chunks - 1) * CHUNK_SIZE + lastLength : 0,
      segments: this.log.segments.max + 1,
      time: Math.max(this.now(), prev?.time ?? 0),
      ended,
    })
  }

  private now(): number {
    return Math.max(0, Math.floor(this.log.clock()))
  }

  private assertOpen(): void {
    if (this.log.closed) throw new StoreError('ERR_CLOSED', `${this.log.id} is closed`)
    if (this.ended) throw new StoreError('ERR_ENDED', `${this.log.id} has ended`)
  }

  private run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.serial.then(fn)
    this.serial = p.catch(() => {})
    return p
  }
}
