// Collects the 4096-byte blocks of stream chunks until a chunk is whole. Every block is checked
// against its signed BLAKE3 (the chunk record's `blocks`) as soon as the record is known, so a bad
// block is charged to the one peer that sent it, even when the chunk's other blocks came from
// honest peers. Before the record arrives a block is held unverified, first sender wins its slot;
// the record checks it (and charges its sender) the moment it comes. Everything here is bounded:
// peers decide what arrives, so they must not decide how much we keep.
import { BLOCK_SIZE, CHUNK_SIZE } from '../store/stream-types.ts'
import type { ChunkRecord, Verdict } from '../store/stream-types.ts'
import { verifyBlock as checkBlock } from '../store/verify.ts'

/** Chunks being assembled at once: about 4 s of a 2 Mb/s stream; beyond that the oldest goes. */
export const MAX_ASSEMBLING = 64
const BLOCKS = CHUNK_SIZE / BLOCK_SIZE

interface Block { data: Buffer; from: string; hops: number; verified: boolean }
interface Partial { blocks: (Block | undefined)[]; firstAt: number }

/** `bad`: senders of blocks that failed their hash in this call, one entry per bad block. */
export type AddResult =
  | { kind: 'incomplete'; bad: string[] }
  | { kind: 'complete'; bytes: Buffer; senders: string[]; hops: number; bad: string[]; zeroHop: string[] }
  | { kind: 'invalid'; reason: string }

export class ChunkAssembly {
  private partial = new Map<number, Partial>()

  /** `verifyBlock` is the stream log's (record-verifier.ts), so the simulator can share the work. */
  constructor(private verifyBlock: (rec: ChunkRecord, i: number, bytes: Uint8Array) => Verdict = checkBlock) {}

  /** Adds the block(s) of one Content. `rec` is the chunk's verified record when we have it. */
  add(n: number, offsetInChunk: number, data: Buffer, from: string, hops: number, rec: ChunkRecord | undefined, now: number): AddResult {
    if (offsetInChunk % BLOCK_SIZE !== 0 || offsetInChunk >= CHUNK_SIZE) return { kind: 'invalid', reason: 'misaligned block' }
    if (data.length === 0 || data.length > CHUNK_SIZE - offsetInChunk) return { kind: 'invalid', reason: 'bad block length' }
    let p = this.partial.get(n)
    if (!p) {
      if (this.partial.size >= MAX_ASSEMBLING) this.evictOldest()
      p = { blocks: Array.from({ length: BLOCKS }, () => undefined), firstAt: now }
      this.partial.set(n, p)
    }
    const bad: string[] = []
    // A sender may deliver several blocks in one Content (our own peers); split them into blocks.
    for (let off = 0; off < data.length; off += BLOCK_SIZE) {
      const i = (offsetInChunk + off) / BLOCK_SIZE
      const block = { data: data.subarray(off, Math.min(data.length, off + BLOCK_SIZE)), from, hops, verified: false }
      const held = p.blocks[i]
      if (rec) {
        if (held?.verified) continue
        if (this.verifyBlock(rec, i, block.data).result !== 'accept') { bad.push(from); continue }
        block.verified = true
        p.blocks[i] = block
      } else if (!held) {
        p.blocks[i] = block
      }
    }
    // Nothing held (every block failed): no entry, so junk cannot evict honest partial chunks.
    if (p.blocks.every((b) => b === undefined)) { this.partial.delete(n); return { kind: 'incomplete', bad } }
    if (!rec) return { kind: 'incomplete', bad }
    return this.complete(n, p, rec, bad)
  }

  /** Called when a chunk's record arrives after some of its blocks: checks the held ones. */
  tryComplete(rec: ChunkRecord): AddResult {
    const p = this.partial.get(rec.n)
    if (!p) return { kind: 'incomplete', bad: [] }
    const bad: string[] = []
    for (const [i, b] of p.blocks.entries()) {
      if (!b || b.verified) continue
      if (this.verifyBlock(rec, i, b.data).result === 'accept') b.verified = true
      else { bad.push(b.from); p.blocks[i] = undefined }
    }
    return this.complete(rec.n, p, rec, bad)
  }

  private complete(n: number, p: Partial, rec: ChunkRecord, bad: string[]): AddResult {
    const need = rec.blocks.length
    const blocks = p.blocks.slice(0, need)
    if (!blocks.every((b) => b?.verified)) return { kind: 'incomplete', bad }
    this.partial.delete(n)
    const got = blocks as Block[]
    return {
      kind: 'complete', bad,
      bytes: joined(got),
      senders: [...new Set(got.map((b) => b.from))],
      hops: Math.min(...got.map((b) => b.hops)),
      // Senders of verified blocks that said they came straight from the source (hops 0 + 1).
      zeroHop: [...new Set(got.filter((b) => b.hops === 1).map((b) => b.from))],
    }
  }

  /** The byte ranges (offset, length within the chunk) of chunk `n` we hold no block of, or
   * undefined when nothing of it is held (ask for all of it). Empty: every block is here and only
   * the record is missing. A repair asks for these alone: a datagram lost costs one block. */
  missingRanges(n: number): Array<{ offset: number; length: number }> | undefined {
    const p = this.partial.get(n)
    if (!p) return undefined
    const out: Array<{ offset: number; length: number }> = []
    for (const [i, b] of p.blocks.entries()) {
      if (b) continue
      const last = out.at(-1)
      if (last && last.offset + last.length === i * BLOCK_SIZE) last.length += BLOCK_SIZE
      else out.push({ offset: i * BLOCK_SIZE, length: BLOCK_SIZE })
    }
    return out
  }

  has(n: number): boolean { return this.partial.has(n) }
  drop(n: number): void { this.partial.delete(n) }
  /** Forgets chunks below n (too late to matter). */
  /** Forgets partial chunks below n, except those `keep` names (a joiner's fMP4 init chunks). */
  dropBelow(n: number, keep?: (k: number) => boolean): void { for (const k of this.partial.keys()) if (k < n && !keep?.(k)) this.partial.delete(k) }
  get size(): number { return this.partial.size }

  private evictOldest(): void {
    let oldest: number | undefined
    let at = Infinity
    for (const [k, p] of this.partial) if (p.firstAt < at) { at = p.firstAt; oldest = k }
    if (oldest !== undefined) this.partial.delete(oldest)
  }
}

/** The blocks' bytes in one buffer. Blocks that lie side by side in one buffer (a Content that
 * carried several blocks, or blocks read out of one stored chunk) are a view of it, not a copy. */
function joined(blocks: Block[]): Buffer {
  if (blocks.length === 0) return Buffer.alloc(0)
  const first = blocks[0].data
  let end = first.byteOffset + first.length
  for (let i = 1; i < blocks.length; i++) {
    const d = blocks[i].data
    if (d.buffer !== first.buffer || d.byteOffset !== end) return Buffer.concat(blocks.map((b) => b.data))
    end += d.length
  }
  return Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset)
}
