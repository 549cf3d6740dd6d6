// When each chunk was verified at one viewer, in the order it happened: what the bench and the
// simulator measure delays and completeness from (scripts/bench-report.ts). Two typed columns
// (chunk, time) instead of an array of [chunk, time] pairs: the simulator holds one of these per
// viewer for the whole run, and each pair was three heap objects (the array, its elements, the
// boxed time), 12 bytes here. Read as the pairs it stands for: iterated, or as JSON (the bench's
// viewer processes send their reports to the parent as JSON).

/** Entries a new list has room for before it first grows (a few seconds of stream). */
const INITIAL_ROOM = 64

export class VerifiedTimes implements Iterable<[number, number]> {
  /** Chunk indexes fit 32 bits (record-shape.ts: MAX_CHUNK_INDEX). */
  private chunks = new Uint32Array(INITIAL_ROOM)
  /** Verified at, ms: a Float64Array keeps any time a number can hold, exactly. */
  private times = new Float64Array(INITIAL_ROOM)
  private count = 0

  get length(): number { return this.count }

  push(n: number, at: number): void {
    if (this.count === this.chunks.length) this.grow()
    this.chunks[this.count] = n
    this.times[this.count] = at
    this.count++
  }

  * [Symbol.iterator](): Iterator<[number, number]> {
    for (let i = 0; i < this.count; i++) yield [this.chunks[i], this.times[i]]
  }

  toJSON(): Array<[number, number]> { return [...this] }

  /** Doubles the room: amortised O(1) a push, and at most half of it unused. */
  private grow(): void {
    const chunks = new Uint32Array(this.chunks.length * 2)
    chunks.set(this.chunks)
    const times = new Float64Array(this.times.length * 2)
    times.set(this.times)
    this.chunks = chunks
    this.times = times
  }
}
