// Collects the 4096-byte blocks of stream chunks until a chunk is whole and can be verified.
// Everything here is unverified and bounded: peers decide what arrives, so they must not decide
// how much we keep.
import { BLOCK_SIZE, CHUNK_SIZE } from '../store/stream-types.ts'

/** Chunks being assembled at once: about 4 s of a 2 Mb/s stream; beyond that the oldest goes. */
export const MAX_ASSEMBLING = 64
const BLOCKS = CHUNK_SIZE / BLOCK_SIZE

interface Partial { blocks: (Buffer | undefined)[]; senders: Set<string>; hops: number; firstAt: number }

export type AddResult =
  | { kind: 'incomplete' }
  | { kind: 'complete'; bytes: Buffer; senders: string[]; hops: number }
  | { kind: 'invalid'; reason: string }

export class ChunkAssembly {
  private partial = new Map<number, Partial>()

  /** Adds one block. `expectedLength` is the signed chunk length when its record is known. */
  add(n: number, offsetInChunk: number, data: Buffer, from: string, hops: number, expectedLength: number | undefined, now: number): AddResult {
    if (offsetInChunk % BLOCK_SIZE !== 0 || offsetInChunk >= CHUNK_SIZE) return { kind: 'invalid', reason: 'misaligned block' }
    if (data.length === 0 || data.length > CHUNK_SIZE - offsetInChunk) return { kind: 'invalid', reason: 'bad block length' }
    let p = this.partial.get(n)
    if (!p) {
      if (this.partial.size >= MAX_ASSEMBLING) this.evictOldest()
      p = { blocks: new Array(BLOCKS), senders: new Set(), hops, firstAt: now }
      this.partial.set(n, p)
    }
    // A sender may deliver several blocks in one Content (our own peers); split them into blocks.
    for (let off = 0; off < data.length; off += BLOCK_SIZE) {
      p.blocks[(offsetInChunk + off) / BLOCK_SIZE] = data.subarray(off, Math.min(data.length, off + BLOCK_SIZE))
    }
    p.senders.add(from)
    p.hops = Math.min(p.hops, hops)
    return expectedLength === undefined ? { kind: 'incomplete' } : this.tryComplete(n, expectedLength)
  }

  /** Called when a chunk's record arrives after some of its blocks. */
  tryComplete(n: number, length: number): AddResult {
    const p = this.partial.get(n)
    if (!p) return { kind: 'incomplete' }
    const need = Math.ceil(length / BLOCK_SIZE)
    for (let i = 0; i < need; i++) {
      const b = p.blocks[i]
      if (!b) return { kind: 'incomplete' }
      const want = Math.min(BLOCK_SIZE, length - i * BLOCK_SIZE)
      if (b.length !== want) { this.partial.delete(n); return { kind: 'invalid', reason: 'block length does not match the signed chunk length' } }
    }
    this.partial.delete(n)
    return { kind: 'complete', bytes: Buffer.concat(p.blocks.slice(0, need) as Buffer[]), senders: [...p.senders], hops: p.hops }
  }

  has(n: number): boolean { return this.partial.has(n) }
  drop(n: number): void { this.partial.delete(n) }
  /** Forgets chunks below n (too late to matter). */
  dropBelow(n: number): void { for (const k of this.partial.keys()) if (k < n) this.partial.delete(k) }
  get size(): number { return this.partial.size }

  private evictOldest(): void {
    let oldest: number | undefined
    let at = Infinity
    for (const [k, p] of this.partial) if (p.firstAt < at) { at = p.firstAt; oldest = k }
    if (oldest !== undefined) this.partial.delete(oldest)
  }
}
