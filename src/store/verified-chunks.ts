// The verified-chunk set of one StreamLog: in memory a paged bitmap, on disk the `verified` marks
// file. add() is immediate in memory; the disk catches up in batches, each one preceded by the
// owner's `beforeCommit` (journal flushed, data fdatasync'ed), so a mark on disk always has its
// record and bytes on disk before it. Once more than half the marks on disk are of chunks no longer
// held (retention deleted them), the file is rewritten to the durable ones; a log that keeps
// everything never needs it.
import { ChunkBitmap } from './chunk-bitmap.ts'
import { silentLogger, type StoreLogger } from './logger.ts'
import { VerifiedMarks, readMarks } from './verified-marks.ts'

export interface VerifiedChunksOptions {
  batch: number
  intervalMs: number
  logger: StoreLogger
  /** Makes the records and bytes of the pending chunks durable. */
  beforeCommit: () => Promise<void>
  /** Fewest marks on disk worth a rewrite (default MIN_REWRITE_MARKS). */
  minRewrite?: number
}

/** 256 KiB of marks, about five hours of a 2 Mb/s stream. */
export const MIN_REWRITE_MARKS = 65536

export class VerifiedChunks {
  private readonly bits = new ChunkBitmap()
  private pending: number[] = []
  private timer: ReturnType<typeof setTimeout> | null = null
  private commits: Promise<void> = Promise.resolve()
  private closed = false

  private constructor(private readonly file: string, private readonly marks: Pick<VerifiedMarks, 'append' | 'close' | 'rewrite' | 'entries'> | null, private readonly opts: VerifiedChunksOptions) {}

  /** A set with nothing on disk (a log kept in memory): marks are never persisted. */
  static inMemory(): VerifiedChunks {
    return new VerifiedChunks('memory', null, { batch: Infinity, intervalMs: Infinity, logger: silentLogger, beforeCommit: async () => {} })
  }

  static async open(file: string, opts: VerifiedChunksOptions): Promise<VerifiedChunks> {
    return new VerifiedChunks(file, await VerifiedMarks.open(file), opts)
  }

  /** Marks loaded from disk whose bytes nobody has hashed in this process yet (see needsCheck). */
  private readonly unchecked = new ChunkBitmap()

  /** Loads the marks on disk, keeping those `trust` accepts (record loaded, bytes present). */
  async load(trust: (n: number) => boolean): Promise<void> {
    await readMarks(this.file, (n) => {
      if (trust(n)) { this.bits.set(n); this.unchecked.set(n) }
    })
  }

  /** True for a chunk marked on disk but not yet re-hashed since open: bytes on disk can rot or be
   * damaged in a crash after their mark was written, so the first read of each re-checks them. */
  needsCheck(n: number): boolean {
    return this.unchecked.has(n)
  }

  checked(n: number): void {
    this.unchecked.delete(n)
  }

  /** A marked chunk whose bytes no longer match: unverified from now on (fetched again if wanted). */
  forget(n: number): void {
    this.unchecked.delete(n)
    this.bits.delete(n)
  }

  has(n: number): boolean {
    return this.bits.has(n)
  }

  /** The chunks in [from, to) not verified, ascending, at most `max`. */
  missing(from: number, to: number, max: number): number[] {
    return this.bits.clearIn(from, to, max)
  }

  get size(): number {
    return this.bits.size
  }

  add(n: number): void {
    if (!this.bits.set(n) || !this.marks) return
    this.pending.push(n)
    if (this.pending.length >= this.opts.batch) {
      void this.commit()
    } else if (!this.timer && !this.closed) {
      this.timer = setTimeout(() => {
        this.timer = null
        void this.commit()
      }, this.opts.intervalMs)
      this.timer.unref()
    }
  }

  /** Persists every pending mark. Never rejects: a lost mark only costs a re-check on reopen. */
  commit(): Promise<void> {
    const run = async (): Promise<void> => {
      const batch = this.pending
      this.pending = []
      if (batch.length === 0) return
      try {
        await this.opts.beforeCommit()
        await this.marks?.append(batch)
        if (this.marks && this.marks.entries >= Math.max(this.opts.minRewrite ?? MIN_REWRITE_MARKS, 2 * this.bits.size)) {
          // Durable: every set bit but those added since this batch was taken (not yet on disk).
          const notYet = new Set(this.pending)
          await this.marks.rewrite([...this.bits.values()].filter((n) => !notYet.has(n)))
        }
      } catch (err) {
        this.opts.logger.warn('could not persist verified marks; those chunks are re-checked on reopen', { file: this.file, error: String(err) })
      }
    }
    this.commits = this.commits.then(run)
    return this.commits
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await this.commit()
    await this.marks?.close().catch(() => {})
  }
}
