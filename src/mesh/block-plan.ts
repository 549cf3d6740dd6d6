// Which blocks of a file are still to fetch, and which to ask for next: first missing first, so
// the part written to disk grows from the front (useful to a player, and what the reference does).
// A block is missing, requested (by one or more peers), or had; a request that ends without data
// puts it back.

/** Concurrent requests for one block: one normal, one more in the endgame (the last blocks are asked
 * of a second peer so one slow peer cannot hold up the finish). */
export const MAX_REQUESTS_PER_BLOCK = 2

export class BlockPlan {
  readonly count: number
  private have: Uint8Array
  private asked: Uint8Array
  /** Every block below this index is had or requested. */
  private cursor = 0
  private haveCount = 0
  /** Where a reader (the HTTP gateway) wants bytes first; blocks before it wait. -1: no focus. */
  private focusAt = -1
  /** The block focus() named: a released request between it and focusAt goes back to the front. */
  private focusFloor = 0

  constructor(count: number, had: (i: number) => boolean) {
    this.count = count
    this.have = new Uint8Array(count)
    this.asked = new Uint8Array(count)
    for (let i = 0; i < count; i++) if (had(i)) { this.have[i] = 1; this.haveCount++ }
  }

  get had(): number { return this.haveCount }
  get done(): boolean { return this.haveCount === this.count }
  isHad(i: number): boolean { return this.have[i] === 1 }
  requests(i: number): number { return this.asked[i] }

  /** Moves the next requests to block `i` onward (a player seeked there); once every block from
   * there to the end is had or asked for, take() falls back to the first missing block. */
  focus(i: number): void {
    if (Number.isSafeInteger(i) && i >= 0 && i < this.count) this.focusAt = this.focusFloor = i
  }

  /** Takes the first run of up to `max` missing, unrequested blocks (from the focus if one is
   * set); undefined when none is left. */
  take(max: number): { first: number; count: number } | undefined {
    if (this.focusAt >= 0) {
      let f = this.focusAt
      while (f < this.count && (this.have[f] === 1 || this.asked[f] > 0)) f++
      this.focusAt = f < this.count ? f : -1
      if (f < this.count) return this.takeAt(f, max)
    }
    let i = this.cursor
    while (i < this.count && (this.have[i] === 1 || this.asked[i] > 0)) i++
    this.cursor = i
    if (i >= this.count) return undefined
    return this.takeAt(i, max)
  }

  /** Whether a reader has pointed the plan somewhere (its order then wins over rarest-first). */
  get focused(): boolean { return this.focusAt >= 0 }

  /** Like take(), restricted to blocks `ok` accepts within [start, end): the blocks a partial
   * provider holds, or the rarest ones. Scans from the first missing block; the cursor is not moved
   * past blocks `ok` refused (another peer may take them). */
  takeWhere(max: number, ok: (i: number) => boolean, start = 0, end = this.count): { first: number; count: number } | undefined {
    const stop = Math.min(end, this.count)
    let i = Math.max(this.cursor, start)
    while (i < stop && (this.have[i] === 1 || this.asked[i] > 0 || !ok(i))) i++
    if (i >= stop) return undefined
    let n = 0
    while (n < max && i + n < stop && this.have[i + n] === 0 && this.asked[i + n] === 0 && ok(i + n)) {
      this.asked[i + n]++
      n++
    }
    return { first: i, count: n }
  }

  private takeAt(i: number, max: number): { first: number; count: number } {
    let n = 0
    while (n < max && i + n < this.count && this.have[i + n] === 0 && this.asked[i + n] === 0) {
      this.asked[i + n]++
      n++
    }
    return { first: i, count: n }
  }

  /** Marks a block requested once more (an endgame duplicate); false if that would pass the cap. */
  duplicate(i: number): boolean {
    if (this.have[i] === 1 || this.asked[i] >= MAX_REQUESTS_PER_BLOCK) return false
    this.asked[i]++
    return true
  }

  /** A request for the block ended (answered or not). */
  release(i: number): void {
    if (this.asked[i] > 0) this.asked[i]--
    if (this.asked[i] === 0 && this.have[i] === 0 && i < this.cursor) this.cursor = i
    if (this.asked[i] === 0 && this.have[i] === 0 && this.focusAt >= 0 && i < this.focusAt && i >= this.focusFloor) this.focusAt = i
  }

  /** Records a block as had; false if it already was (a duplicate answer). */
  markHad(i: number): boolean {
    if (this.have[i] === 1) return false
    this.have[i] = 1
    this.haveCount++
    return true
  }

  /** Forgets a block (its write failed), so it is fetched again. */
  unmark(i: number): void {
    if (this.have[i] === 0) return
    this.have[i] = 0
    this.haveCount--
    if (this.asked[i] === 0 && i < this.cursor) this.cursor = i
  }
}
