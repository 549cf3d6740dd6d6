// Records of a stream by index, keeping only the newest `cap` indexes. This is what bounds a
// StreamLog's memory on a stream that runs for days: older records are dropped from memory (they
// stay in records.jsonl) and such chunks can no longer be relayed, only read if already verified.

/** How many indexes of each record kind a log keeps in memory (stream-log.ts says why they differ). */
export interface RecordWindowCaps { chunks: number; segments: number }

/** The chunk and segment windows of one log. */
export function recordWindows<C, S>(caps: RecordWindowCaps): { chunks: RecordWindow<C>; segments: RecordWindow<S> } {
  return { chunks: new RecordWindow<C>(caps.chunks), segments: new RecordWindow<S>(caps.segments) }
}

export class RecordWindow<T> {
  private readonly map = new Map<number, T>()
  private top = -1

  constructor(readonly cap: number) {
    if (!Number.isSafeInteger(cap) || cap < 1) throw new RangeError(`bad window cap ${cap}`)
  }

  /** Highest index ever admitted, or -1. */
  get max(): number {
    return this.top
  }

  get size(): number {
    return this.map.size
  }

  /** Lowest index the window still admits. */
  get floor(): number {
    return Math.max(0, this.top - this.cap + 1)
  }

  admits(n: number): boolean {
    return n >= this.floor
  }

  get(n: number): T | undefined {
    return this.map.get(n)
  }

  has(n: number): boolean {
    return this.map.has(n)
  }

  /** Returns false (and stores nothing) for an index that fell out of the window. */
  set(n: number, value: T): boolean {
    if (!this.admits(n)) return false
    this.map.set(n, value)
    if (n > this.top) this.top = n
    // Prune in batches so a steady stream costs O(1) amortised per record.
    if (this.map.size > this.cap + Math.ceil(this.cap / 8)) this.prune()
    return true
  }

  delete(n: number): void {
    this.map.delete(n)
  }

  keys(): IterableIterator<number> {
    return this.map.keys()
  }

  private prune(): void {
    const floor = this.floor
    for (const n of this.map.keys()) if (n < floor) this.map.delete(n)
  }
}
