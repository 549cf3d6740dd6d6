// An in-memory StreamLogReader for player tests: bytes are appended, then marked verified chunk by
// chunk, so tests control exactly which bytes the player may serve.
import { EventEmitter } from 'node:events'
import {
  CHUNK_SIZE, type ChunkRecord, type MediaFormat, type PartPosition, type SegmentRecord, type StreamHead, type StreamId,
  type StreamInfo, type StreamLogReader,
} from '../../src/store/stream-types.ts'

export const TEST_KEY = 'ab'.repeat(32)

export class FakeStreamLog implements StreamLogReader {
  private events = new EventEmitter()
  readonly id: StreamId
  private data = Buffer.alloc(0)
  private verified = new Set<number>()
  private segments: SegmentRecord[] = []
  private streamInfo: StreamInfo | null
  private ended = false
  /** Every read, for tests that check what was (not) read. */
  readonly reads: Array<{ offset: number; length: number }> = []
  /** Delay each read by this many ms (backpressure and abort tests). */
  readDelayMs = 0

  constructor(opts: { name?: string; format?: MediaFormat; init?: { offset: number; length: number } | null; withInfo?: boolean } = {}) {
    this.id = `stream/${TEST_KEY}/${opts.name ?? 'test'}`
    this.streamInfo = opts.withInfo === false ? null : {
      id: this.id, format: opts.format ?? 'ts', init: opts.init ?? null, targetDuration: 1, created: 1_700_000_000_000, sig: 'x',
    }
  }

  /** Appends bytes (pattern: byte i = i mod 251, so any range's content is predictable). */
  appendBytes(length: number): void {
    const start = this.data.length
    const more = Buffer.alloc(length)
    for (let i = 0; i < length; i++) more[i] = (start + i) % 251
    this.data = Buffer.concat([this.data, more])
  }

  /** Marks chunks verified (all held chunks when none are named). */
  verify(...chunks: number[]): void {
    const all = Array.from({ length: Math.ceil(this.data.length / CHUNK_SIZE) }, (_, i) => i)
    for (const c of chunks.length ? chunks : all) {
      this.verified.add(c)
      this.events.emit('chunk', c)
    }
  }

  unverify(chunk: number): void {
    this.verified.delete(chunk)
  }

  /** As retention does: the segment's record is gone (its bytes are left to unverify()). */
  forgetSegment(n: number): void {
    delete this.segments[n]
  }

  addSegment(length: number, opts: { duration?: number; discontinuity?: boolean; pdt?: number; part?: PartPosition; gap?: number } = {}): SegmentRecord {
    const prev = this.segments.at(-1)
    const offset = (prev ? prev.offset + prev.length : (this.streamInfo?.init?.length ?? 0)) + (opts.gap ?? 0)
    const n = this.segments.length
    const s: SegmentRecord = {
      n, offset, length, duration: opts.duration ?? 1, pdt: opts.pdt ?? 1_700_000_000_000 + n * 1000,
      discontinuity: opts.discontinuity ?? false, sig: 'x', ...(opts.part ? { part: opts.part } : {}),
    }
    if (this.data.length < offset + length) this.appendBytes(offset + length - this.data.length)
    this.segments.push(s)
    this.events.emit('segment', s)
    return s
  }

  end(): void {
    this.ended = true
    this.events.emit('end')
  }

  static expectedBytes(offset: number, length: number): Buffer {
    const b = Buffer.alloc(length)
    for (let i = 0; i < length; i++) b[i] = (offset + i) % 251
    return b
  }

  on(event: 'chunk', fn: (n: number) => void): this
  on(event: 'segment', fn: (s: SegmentRecord) => void): this
  on(event: 'head', fn: (h: StreamHead) => void): this
  on(event: 'end', fn: () => void): this
  on(event: string, fn: (...args: never[]) => void): this {
    this.events.on(event, fn as (...args: unknown[]) => void)
    return this
  }

  off(event: string, fn: (...args: never[]) => void): this {
    this.events.off(event, fn as (...args: unknown[]) => void)
    return this
  }

  info(): StreamInfo | null { return this.streamInfo }

  head(): StreamHead | null {
    return { id: this.id, chunks: Math.ceil(this.data.length / CHUNK_SIZE), length: this.data.length,
      segments: this.segments.length, time: 0, ended: this.ended, sig: 'x' }
  }

  segmentCount(): number { return this.segments.length }
  segment(n: number): SegmentRecord | null { return this.segments[n] ?? null }

  chunkRecord(n: number): ChunkRecord | null {
    const chunks = Math.ceil(this.data.length / CHUNK_SIZE)
    if (!Number.isInteger(n) || n < 0 || n >= chunks) return null
    return { n, length: Math.min(CHUNK_SIZE, this.data.length - n * CHUNK_SIZE), blocks: [], sha256: '', time: 0, sig: 'x' }
  }

  hasChunk(n: number): boolean { return this.verified.has(n) && this.chunkRecord(n) !== null }

  hasRange(offset: number, length: number): boolean {
    if (length <= 0 || offset < 0 || offset + length > this.data.length) return false
    for (let c = Math.floor(offset / CHUNK_SIZE); c * CHUNK_SIZE < offset + length; c++) if (!this.hasChunk(c)) return false
    return true
  }

  async read(offset: number, length: number): Promise<Buffer> {
    this.reads.push({ offset, length })
    if (this.readDelayMs) await new Promise((r) => setTimeout(r, this.readDelayMs))
    if (!this.hasRange(offset, length)) throw Object.assign(new Error('not verified'), { code: 'ERR_NOT_VERIFIED' })
    return Buffer.from(this.data.subarray(offset, offset + length))
  }
}

export function fakeDirectory(...logs: FakeStreamLog[]) {
  return { list: () => logs, get: (id: string) => logs.find((l) => l.id === id) }
}
