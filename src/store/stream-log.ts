// StreamLog: one live stream on disk. The source appends bytes and signs chunk, segment, head and
// info records; a viewer (replica) puts records and chunk bytes it got from peers, and only bytes
// that match a signed record are ever written, marked verified, or read back.
//
// Layout under <dir>/streams/<pubkeyhex>/<name>/:
//   data          the byte log; chunk n lives at n*CHUNK_SIZE (sparse on a replica); with a
//                 retention window instead pieces data.<k> (see data-pieces.ts)
//   floor         the first chunk retention has not deleted (absent: 0)
//   records.jsonl append-only info/chunk/segment/head records, all re-verified on load
//   verified      append-only u32 chunk numbers whose bytes are durably in `data` (rewritten
//                 once mostly of deleted chunks, see verified-chunks.ts)
// Crash safety: bytes are written first; a chunk's number goes to `verified` only after its record
// is in the journal and `data` was fdatasync'ed (batched). On open, a chunk counts as verified only
// if its record loads AND (its mark is on disk OR, for the last few unmarked chunks, re-hashing
// the bytes on disk matches). So kill -9 can lose marks but never forge one.
//
// Memory: records live in RecordWindows (4,096 chunks = 64 MiB of stream, 16,384 segments; see
// recordWindowCaps); the verified set is a paged bitmap. Older chunks stay readable
// while this log is open but cannot be relayed (their records are gone from memory).
//
// Retention (`keep`, see retention.ts): after each new segment, everything older than the window
// is deleted: chunks below the new floor lose their verified bit and record (so they are neither
// served, relayed, listed nor fetched again), segment records whose bytes start below it go, the
// floor is written down, and whole data pieces below it are unlinked. The chunks holding the
// fMP4 init stay: every segment needs them. 'trim' (floor) tells the mesh. Once records.jsonl has
// doubled since its last rewrite, it is compacted to the records still kept (records-journal.ts).
import { EventEmitter } from 'node:events'
import { join } from 'node:path'
import { StoreError } from './errors.ts'
import { silentLogger, type StoreLogger } from './logger.ts'
import { recordKeeper, type RecordKeeper } from './record-keeper.ts'
import type { JournalEntry } from './records-journal.ts'
import type { RecordWindow, RecordWindowCaps } from './record-window.ts'
import { recordVerifier, type RecordVerifier } from './record-verifier.ts'
import { claimedIndex, sameChunkRecord, sameHead, sameInfo, sameSegment } from './same-record.ts'
import { KEEP_ALL, keepFrom, pieceChunksFor, type KeepPolicy } from './retention.ts'
import { openStreamFiles, pinnedPieces, writeFloor, type StreamData, type StreamFiles, type StreamStorage } from './stream-log-load.ts'
import { StreamSource, type SegmentAddition, type SourceOptions } from './stream-source.ts'
import { parseStreamId } from './stream-id.ts'
import { CHUNK_SIZE, type ChunkRecord, type SegmentRecord, type StreamHead, type StreamId, type StreamInfo, type StreamLogReader, type Verdict } from './stream-types.ts'
import { ACCEPT, ignore } from './verify.ts'
import type { VerifiedChunks } from './verified-chunks.ts'
import type { StreamKey } from './keys.ts'

export interface StreamLogOptions {
  /** Wall clock in ms since epoch; signed into records. */
  clock?: () => number
  logger?: StoreLogger
  /** Indexes of segment records kept in memory, and of chunk records up to DEFAULT_CHUNK_WINDOW (see the header). */
  recordWindow?: number
  /** Verified chunks per durability batch (fdatasync + marks append). */
  markBatch?: number
  /** Longest a verified chunk waits for its durability batch. */
  markIntervalMs?: number
  /** Files under `dir` by default; the simulator keeps logs in memory (memory-stream-files.ts). */
  storage?: StreamStorage
  /** The checks on peers' records and bytes (record-verifier.ts). */
  verifier?: RecordVerifier
  /** What is kept of a peer's record once it verified (record-keeper.ts). */
  keeper?: RecordKeeper
  /** What stays on disk (default: everything). */
  keep?: KeepPolicy
  /** Chunks per data piece when `keep` is a window (default: pieceChunksFor(keep)). */
  pieceChunks?: number
  /** Smallest records.jsonl worth compacting when `keep` is a window (default MIN_COMPACT_BYTES). */
  compactBytes?: number
}
export type { SourceOptions } from './stream-source.ts'

export const DEFAULT_RECORD_WINDOW = 16384
/** Chunk records beyond this many are of no use to a live swarm: 64 MiB of stream, over 5 minutes
 * at the default bitrate, while relaying happens within seconds of the edge. Segment records stay
 * at the full window, since retention (--keep 30m) lists and re-verifies segments that far back. A
 * smaller chunk window also fills early, so a long run's memory is flat after minutes, not after
 * the 22 minutes that 16,384 chunks took (the soak's flatness check). */
export const DEFAULT_CHUNK_WINDOW = 4096

/** `recordWindow` caps both kinds; the chunk window never exceeds DEFAULT_CHUNK_WINDOW. */
export function recordWindowCaps(recordWindow = DEFAULT_RECORD_WINDOW): RecordWindowCaps {
  return { chunks: Math.min(recordWindow, DEFAULT_CHUNK_WINDOW), segments: recordWindow }
}
const DEFAULT_MARK_BATCH = 64
const DEFAULT_MARK_INTERVAL_MS = 1000
/** A player reads a segment (hundreds of KiB) at a time; 64 MiB bounds one read's allocation. */
export const MAX_READ_BYTES = 64 * 1024 * 1024
/** missingChunks() is a work list for the scheduler; it never needs more than this at once. */
export const MAX_MISSING_LIST = 4096
/** Heads arrive with every chunk; journaling one a second is enough to restart near the edge. */
const HEAD_JOURNAL_INTERVAL_MS = 1000
/** A journal under this size is not worth rewriting (about 3 minutes of records). */
export const MIN_COMPACT_BYTES = 1024 * 1024

export function streamDir(dir: string, id: StreamId): string {
  const parsed = parseStreamId(id)
  if (!parsed) throw new StoreError('ERR_BAD_ID', `bad stream id ${JSON.stringify(id)}`)
  return join(dir, 'streams', parsed.publicKeyHex, parsed.name)
}

/** Beside StreamLogReader's events: 'verified' (n, bytes), chunk n's bytes just matched their
 * signed record (a replica's before they are written, the source's once journaled), for the mesh
 * to relay from memory; 'info', 'trim' (floor). */
export class StreamLog extends EventEmitter implements StreamLogReader {
  readonly id: StreamId
  readonly path: string
  readonly clock: () => number
  readonly logger: StoreLogger
  private infoRec: StreamInfo | null
  private headRec: StreamHead | null
  /** @internal records by index; the source writer fills these too. */
  readonly chunks: RecordWindow<ChunkRecord>
  readonly segments: RecordWindow<SegmentRecord>
  private readonly verified: VerifiedChunks
  private readonly writing = new Set<number>()
  private readonly inflight = new Set<Promise<unknown>>()
  private journaledHeadTime: number
  private closing: Promise<void> | null = null
  private source: StreamSource | null = null

  readonly data: StreamData
  /** The checks on peers' records and bytes (the swarm checks blocks with it too). */
  readonly verify: RecordVerifier
  private readonly keeper: RecordKeeper
  private readonly journal: StreamFiles['journal']
  private readonly keep: KeepPolicy
  private floorChunk: number
  private trimming: Promise<void> | null = null
  private trimAgain = false
  /** Journal size after the last compaction (retention only). */
  private compactedSize = 0
  private readonly compactBytes: number
  /** Bytes in the data file when opened, then the furthest byte written. */
  dataSize: number

  private constructor(id: StreamId, opts: StreamLogOptions, files: StreamFiles) {
    super()
    this.id = id
    this.path = files.path
    this.clock = opts.clock ?? Date.now
    this.logger = opts.logger ?? silentLogger
    this.data = files.data
    this.verify = opts.verifier ?? recordVerifier
    this.keeper = opts.keeper ?? recordKeeper
    this.journal = files.journal
    this.verified = files.verified
    this.dataSize = files.dataSize
    this.infoRec = files.records.info
    this.headRec = files.records.head
    this.chunks = files.records.chunks
    this.segments = files.records.segments
    this.journaledHeadTime = files.records.journaledHeadTime
    this.keep = opts.keep ?? KEEP_ALL
    this.compactBytes = opts.compactBytes ?? MIN_COMPACT_BYTES
    this.floorChunk = files.floor
    if (this.keep.kind !== 'all') this.on('segment', () => this.scheduleTrim())
  }

  /** Opens (or continues) the log of a stream this node is the source of. */
  static async createSource(dir: string, key: StreamKey, name: string, opts: SourceOptions): Promise<StreamLog> {
    const id = StreamSource.idFor(key, name)
    const log = await StreamLog.openAt(dir, id, opts)
    try {
      log.source = await StreamSource.attach(log, key, opts)
    } catch (err) {
      await log.close()
      throw err
    }
    return log
  }

  /** Opens (or continues) a viewer's copy of someone else's stream. */
  static async openReplica(dir: string, id: StreamId, opts: StreamLogOptions = {}): Promise<StreamLog> {
    return StreamLog.openAt(dir, id, opts)
  }

  private static async openAt(dir: string, id: StreamId, opts: StreamLogOptions): Promise<StreamLog> {
    const files = await (opts.storage ?? openStreamFiles)(streamDir(dir, id), id, {
      windows: recordWindowCaps(opts.recordWindow),
      markBatch: opts.markBatch ?? DEFAULT_MARK_BATCH,
      markIntervalMs: opts.markIntervalMs ?? DEFAULT_MARK_INTERVAL_MS,
      logger: opts.logger ?? silentLogger,
      pieceChunks: (opts.keep ?? KEEP_ALL).kind === 'all' ? null : (opts.pieceChunks ?? pieceChunksFor(opts.keep ?? KEEP_ALL)),
    })
    return new StreamLog(id, opts, files)
  }

  // ---- reader ----

  info(): StreamInfo | null { return this.infoRec }
  head(): StreamHead | null { return this.headRec }
  get isSource(): boolean { return this.source !== null }
  get closed(): boolean { return this.closing !== null }
  /** Highest segment index held + 1; records below it may be missing (joined late, windowed). */
  segmentCount(): number { return this.segments.max + 1 }
  segment(n: number): SegmentRecord | null { return this.segments.get(n) ?? null }
  chunkRecord(n: number): ChunkRecord | null { return this.chunks.get(n) ?? null }
  hasChunk(n: number): boolean { return this.verified.has(n) }
  /** Number of verified chunks (for status output). */
  verifiedCount(): number { return this.verified.size }
  /** First chunk retention has not deleted; nothing below it is held, asked for or accepted
   * (except the fMP4 init's chunks). 0 when the log keeps everything. */
  get floor(): number { return this.floorChunk }

  hasRange(offset: number, length: number): boolean {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) return false
    if (length === 0) return true
    const end = offset + length
    for (let n = Math.floor(offset / CHUNK_SIZE); n * CHUNK_SIZE < end; n++) {
      if (!this.verified.has(n)) return false
      // A record evicted from the window belongs to an old, hence full, chunk.
      const len = this.chunks.get(n)?.length ?? CHUNK_SIZE
      if (n * CHUNK_SIZE + len < Math.min(end, (n + 1) * CHUNK_SIZE)) return false
    }
    return true
  }

  /** Unverified chunk indexes in [from, to), ascending, at most MAX_MISSING_LIST of them. */
  missingChunks(from: number, to: number): number[] {
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to)) return []
    return this.verified.missing(Math.max(0, from, this.floorChunk), to, MAX_MISSING_LIST)
  }

  async read(offset: number, length: number): Promise<Buffer> {
    if (this.closing) throw new StoreError('ERR_CLOSED', `${this.id} is closed`)
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || length > MAX_READ_BYTES) {
      throw new StoreError('ERR_BAD_RECORD', `bad read range ${offset}+${length}`)
    }
    if (!this.hasRange(offset, length)) throw new StoreError('ERR_NOT_VERIFIED', `bytes ${offset}+${length} of ${this.id} are not verified`)
    if (length === 0) return Buffer.alloc(0)
    for (let n = Math.floor(offset / CHUNK_SIZE); n * CHUNK_SIZE < offset + length; n++) {
      if (this.verified.needsCheck(n)) await this.recheck(n)
    }
    return this.track(this.data.read(length, offset, `reading ${this.id}`))
  }

  /** Re-hashes a chunk trusted from its on-disk mark before its first read in this process. */
  private async recheck(n: number): Promise<void> {
    const rec = this.chunks.get(n)
    const bytes = rec ? await this.track(this.data.read(rec.length, n * CHUNK_SIZE, `re-checking chunk ${n}`)) : null
    if (rec && bytes && this.verify.chunkBytes(rec, bytes).result === 'accept') {
      this.verified.checked(n)
      return
    }
    this.verified.forget(n)
    this.logger.warn('a stored chunk no longer matches its signed record (damaged on disk); not serving it', { id: this.id, chunk: n })
    throw new StoreError('ERR_NOT_VERIFIED', `chunk ${n} of ${this.id} failed its re-check`)
  }

  // ---- replica puts ----

  putInfo(info: unknown): Verdict {
    if (this.closing) return ignore('closed')
    if (this.source) return ignore('we are the source')
    // Duplicates first: the record we hold was verified (same-record.ts), the verdict is the same.
    if (this.infoRec && sameInfo(this.infoRec, info)) return ignore('duplicate')
    const v = this.verify.info(this.id, info)
    if (v.result !== 'accept') return v
    const rec = this.keeper.info(info as StreamInfo)
    const cur = this.infoRec
    if (cur && cur.sig === rec.sig) return ignore('duplicate')
    // Info is signed once, except that the source may add the fMP4 init range later.
    if (cur && !(cur.init === null && rec.init !== null && cur.created === rec.created)) return ignore('conflicting info')
    this.setInfo(rec)
    return ACCEPT
  }

  putHead(head: unknown): Verdict {
    if (this.closing) return ignore('closed')
    if (this.source) return ignore('we are the source')
    if (this.headRec && sameHead(this.headRec, head)) return ignore('duplicate')
    const v = this.verify.head(this.id, head, this.headRec)
    if (v.result === 'accept') this.setHead(this.keeper.head(head as StreamHead))
    return v
  }

  putChunkRecord(rec: unknown): Verdict {
    if (this.closing) return ignore('closed')
    if (this.heldChunkRecord(rec)) return ignore('duplicate')
    const v = this.verify.chunkRecord(this.id, rec)
    if (v.result !== 'accept') return v
    const r = rec as ChunkRecord
    if (this.deleted(r.n)) return ignore('deleted by retention')
    const have = this.chunks.get(r.n)
    if (have) return have.sha256 === r.sha256 && have.length === r.length && have.blocks.join() === r.blocks.join() ? ignore('duplicate') : ignore('conflicting record')
    if (this.source) return ignore('we are the source')
    const picked = this.keeper.chunkRecord(r)
    if (!this.chunks.set(r.n, picked)) return ignore('outside window')
    this.journalInBackground({ t: 'chunk', r: picked })
    return ACCEPT
  }

  putSegment(rec: unknown): Verdict {
    if (this.closing) return ignore('closed')
    if (this.heldSegment(rec)) return ignore('duplicate')
    const v = this.verify.segment(this.id, rec)
    if (v.result !== 'accept') return v
    const r = rec as SegmentRecord
    if (r.offset < this.floorChunk * CHUNK_SIZE) return ignore('deleted by retention')
    const have = this.segments.get(r.n)
    if (have) return have.sig === r.sig ? ignore('duplicate') : ignore('conflicting record')
    if (this.source) return ignore('we are the source')
    const picked = this.keeper.segment(r)
    if (!this.segments.set(r.n, picked)) return ignore('outside window')
    this.journalInBackground({ t: 'segment', r: picked })
    this.emit('segment', picked)
    return ACCEPT
  }

  /** The very record we hold for its chunk, not below the floor: ignored as a duplicate without a
   * signature check (same-record.ts), the verdict verifying it would have ended in. */
  private heldChunkRecord(rec: unknown): boolean {
    const n = claimedIndex(rec)
    const have = n === undefined ? undefined : this.chunks.get(n)
    return have !== undefined && sameChunkRecord(have, rec) && !this.deleted(have.n)
  }

  private heldSegment(rec: unknown): boolean {
    const n = claimedIndex(rec)
    const have = n === undefined ? undefined : this.segments.get(n)
    return have !== undefined && sameSegment(have, rec) && have.offset >= this.floorChunk * CHUNK_SIZE
  }

  /** Stores chunk n's bytes if they match its record. Throws only for local faults (disk full). */
  async putChunk(n: number, bytes: Uint8Array): Promise<Verdict> {
    if (this.closing) return ignore('closed')
    if (this.deleted(n)) return ignore('deleted by retention')
    const rec = this.chunks.get(n)
    if (!rec) return ignore('no record for chunk')
    if (this.verified.has(n) || this.writing.has(n)) return ignore('duplicate')
    const v = this.verify.chunkBytes(rec, bytes)
    if (v.result !== 'accept') return v
    this.writing.add(n)
    try {
      // Verified bytes go on to our children now, not after a write and a read back: two trips
      // through the thread pool per relay, which a busy machine stretched into the tail of the
      // mesh's delay (issue #14). A child checks them itself; a store fault costs only our copy.
      this.emit('verified', n, Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
      await this.track(this.data.write(bytes, n * CHUNK_SIZE, `writing chunk ${n} of ${this.id}`))
    } finally {
      this.writing.delete(n)
    }
    this.dataSize = Math.max(this.dataSize, n * CHUNK_SIZE + bytes.length)
    this.noteVerified(n)
    this.emit('chunk', n)
    return ACCEPT
  }

  // ---- source (delegates to StreamSource, see stream-source.ts) ----

  append(bytes: Uint8Array): Promise<ChunkRecord[]> { return this.sourceOp((s) => s.append(bytes)) }
  addSegment(fields: SegmentAddition): Promise<SegmentRecord> { return this.sourceOp((s) => s.addSegment(fields)) }
  setInit(init: { offset: number; length: number } | null): Promise<StreamInfo> { return this.sourceOp((s) => s.setInit(init)) }
  end(): Promise<StreamHead> { return this.sourceOp((s) => s.end()) }

  /** Source operations fail as rejected promises (ERR_CLOSED, or ERR_BAD_ID on a replica). */
  private sourceOp<T>(fn: (s: StreamSource) => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new StoreError('ERR_CLOSED', `${this.id} is closed`))
    if (!this.source) return Promise.reject(new StoreError('ERR_BAD_ID', `${this.id} is a replica; only its source appends`))
    return fn(this.source)
  }

  // ---- internals shared with StreamSource ----

  /** @internal `journaled` when the caller already awaited its journal line. */
  setInfo(info: StreamInfo, journaled = false): void {
    this.infoRec = info
    if (!journaled) this.journalInBackground({ t: 'info', r: info })
    this.emit('info', info)
  }

  /** @internal `journaled` when the caller already awaited its journal line. */
  setHead(head: StreamHead, journaled = false): void {
    this.headRec = head
    if (journaled) this.journaledHeadTime = head.time
    else if (head.ended || head.time - this.journaledHeadTime >= HEAD_JOURNAL_INTERVAL_MS) {
      this.journaledHeadTime = head.time
      // An ended head goes at once: left for the batch, a kill within its second would restart a
      // stream that peers were told had ended.
      this.journalInBackground({ t: 'head', r: head }, head.ended ? 'now' : 'soon')
    }
    this.emit('head', head)
    if (head.ended) this.emit('end')
  }

  /** @internal */
  appendJournal(entry: JournalEntry): Promise<void> {
    return this.track(this.journal.append(entry))
  }

  /** Replica records are accepted synchronously; a failed journal write only costs a refetch
   * after restart, so it is logged rather than thrown at the peer that sent the record. Written
   * with the next batch (records-journal.ts 'soon'): needed on disk only before the chunk's mark. */
  private journalInBackground(entry: JournalEntry, when: 'now' | 'soon' = 'soon'): void {
    this.track(this.journal.append(entry, when)).catch((err: unknown) => {
      this.logger.warn('could not journal a stream record', { id: this.id, error: String(err) })
    })
  }

  /** @internal Marks chunk n verified now, and durably in the next batch. */
  noteVerified(n: number): void {
    this.verified.add(n)
  }

  /** @internal Durability point: records journaled, data synced, then marks appended. */
  commitMarks(): Promise<void> {
    return this.verified.commit()
  }

  // ---- retention ----

  /** Below the floor and not one of the init's chunks. */
  private deleted(n: number): boolean {
    if (n >= this.floorChunk) return false
    const init = this.infoRec?.init
    return !init || n < Math.floor(init.offset / CHUNK_SIZE) || n * CHUNK_SIZE >= init.offset + init.length
  }

  private scheduleTrim(): void {
    if (this.closing) return
    if (this.trimming) {
      this.trimAgain = true
      return
    }
    this.trimming = this.track(this.trim()).catch((err: unknown) => {
      this.logger.warn('could not delete old stream data', { id: this.id, error: String(err) })
    }).finally(() => {
      this.trimming = null
      if (this.trimAgain) {
        this.trimAgain = false
        this.scheduleTrim()
      }
    })
  }

  /** Deletes what fell out of the retention window (see the header). */
  private async trim(): Promise<void> {
    // The segment index in memory is a window too (recordWindow): when the policy reaches further
    // back than the records held, what lies below the oldest one can no longer be listed, nor be
    // verified after a restart; cut there rather than never.
    const from = keepFrom(this.keep, this.newestSegments()) ?? (this.segments.size >= this.segments.cap ? this.oldestSegment()?.offset ?? null : null)
    if (from === null) return
    const floor = Math.floor(from / CHUNK_SIZE)
    if (floor <= this.floorChunk) return
    const old = this.floorChunk
    this.floorChunk = floor
    for (let n = old; n < floor; n++) {
      if (!this.deleted(n)) continue
      this.verified.forget(n)
      this.chunks.delete(n)
    }
    for (const n of [...this.segments.keys()]) {
      if ((this.segments.get(n)?.offset ?? Infinity) < floor * CHUNK_SIZE) this.segments.delete(n)
    }
    this.emit('trim', floor)
    await writeFloor(this.path, floor)
    await this.data.dropBelow(floor, pinnedPieces(this.data, this.infoRec?.init))
    // Amortised: each rewrite reads the journal once, and happens only after it doubled.
    if (this.journal.size >= Math.max(this.compactBytes, 2 * this.compactedSize)) {
      this.compactedSize = await this.journal.compact((e) => e.t === 'chunk' ? !this.deleted(e.r.n) : e.t !== 'segment' || e.r.offset >= this.floorChunk * CHUNK_SIZE)
    }
  }

  private oldestSegment(): SegmentRecord | undefined {
    for (let n = this.segments.floor; n <= this.segments.max; n++) {
      const seg = this.segments.get(n)
      if (seg) return seg
    }
    return undefined
  }

  /** Segment records held, newest first. */
  private * newestSegments(): Generator<SegmentRecord> {
    for (let n = this.segments.max; n >= this.segments.floor; n--) {
      const s = this.segments.get(n)
      if (s) yield s
    }
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p)
    const done = (): void => { this.inflight.delete(p) }
    p.then(done, done)
    return p
  }

  /** Waits until everything so far is durable (tests, shutdown). */
  async flush(): Promise<void> {
    await this.source?.idle()
    // Journal lines waiting for their batch go now, not after it.
    const journaled = this.journal.flush()
    await Promise.allSettled([...this.inflight, journaled])
    await this.commitMarks()
    await this.journal.sync()
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.source?.idle()
      await this.trimming
      await Promise.allSettled([...this.inflight, this.journal.flush()])
      await this.verified.close()
      await this.journal.close().catch(() => {})
      await this.data.close().catch(() => {})
    })()
    return this.closing
  }
}
