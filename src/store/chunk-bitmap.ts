// Which chunks of a stream are verified, as a paged bitmap. Paged because a viewer joins at the
// live edge: chunk numbers start far from 0, and a flat bitmap would allocate for all of them.

/** 8 KiB per page covers 65,536 chunks (1 GiB of stream). */
const PAGE_BITS = 65536
const PAGE_BYTES = PAGE_BITS / 8

export class ChunkBitmap {
  private readonly pages = new Map<number, Uint8Array>()
  private count = 0

  get size(): number {
    return this.count
  }

  has(n: number): boolean {
    if (!Number.isSafeInteger(n) || n < 0) return false
    const page = this.pages.get(Math.floor(n / PAGE_BITS))
    if (!page) return false
    const bit = n % PAGE_BITS
    return (page[bit >> 3] & (1 << (bit & 7))) !== 0
  }

  /** Returns true when n was not set before. */
  set(n: number): boolean {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`bad chunk index ${n}`)
    const key = Math.floor(n / PAGE_BITS)
    let page = this.pages.get(key)
    if (!page) {
      page = new Uint8Array(PAGE_BYTES)
      this.pages.set(key, page)
    }
    const bit = n % PAGE_BITS
    const mask = 1 << (bit & 7)
    if (page[bit >> 3] & mask) return false
    page[bit >> 3] |= mask
    this.count++
    return true
  }

  delete(n: number): void {
    if (!this.has(n)) return
    const key = Math.floor(n / PAGE_BITS)
    const page = this.pages.get(key) as Uint8Array
    const bit = n % PAGE_BITS
    page[bit >> 3] &= ~(1 << (bit & 7))
    this.count--
    if (page.every((b) => b === 0)) this.pages.delete(key)
  }

  /** The chunks in [from, to) that are not set, ascending, at most `max`. A page is looked up
   * once and a byte of eight set chunks is passed over at once: the repair pass of every viewer
   * asks this of its whole live window on every tick. */
  clearIn(from: number, to: number, max: number): number[] {
    const out: number[] = []
    let n = Math.max(0, from)
    while (n < to && out.length < max) {
      const key = Math.floor(n / PAGE_BITS)
      const pageEnd = Math.min(to, (key + 1) * PAGE_BITS)
      const page = this.pages.get(key)
      if (!page) {
        for (; n < pageEnd && out.length < max; n++) out.push(n)
        continue
      }
      const base = key * PAGE_BITS
      while (n < pageEnd && out.length < max) {
        const bit = n - base
        const byte = page[bit >> 3]
        if (byte === 0xff && (bit & 7) === 0 && n + 8 <= pageEnd) { n += 8; continue }
        if ((byte & (1 << (bit & 7))) === 0) out.push(n)
        n++
      }
    }
    return out
  }

  /** The set chunks, ascending. */
  * values(): Generator<number> {
    for (const key of [...this.pages.keys()].sort((a, b) => a - b)) {
      const page = this.pages.get(key) as Uint8Array
      for (let i = 0; i < PAGE_BYTES; i++) {
        if (page[i] === 0) continue
        for (let b = 0; b < 8; b++) if (page[i] & (1 << b)) yield key * PAGE_BITS + i * 8 + b
      }
    }
  }
}
