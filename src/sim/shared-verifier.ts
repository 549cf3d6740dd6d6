// The simulator's one declared shortcut in verification: every check is the pure function of
// verify.ts, computed once per distinct input for the whole process instead of once per node
// (10,000 nodes would otherwise verify each signature 10,000 times). A verdict is a function of
// its inputs alone, so the memo changes no outcome; bytes are compared in full against the copy
// that verified, never trusted by their record alone.
import type { RecordVerifier } from '../store/record-verifier.ts'
import { recordVerifier } from '../store/record-verifier.ts'
import type { ChunkRecord, StreamHead, Verdict } from '../store/stream-types.ts'
import { ACCEPT, headAfter, verifyHeadAlone } from '../store/verify.ts'

/** Entries per memo before it starts over: the live window of a stream, many times over. */
const MAX_ENTRIES = 200_000
/** Verified chunks and blocks kept to compare against: the live window (512 chunks) several times. */
const MAX_BYTES_ENTRIES = 16_384

class Memo {
  private map = new Map<string, Verdict>()
  /** The verdict on one object, by identity: with the codec handover every receiver of a datagram
   * gets the very objects its sender built, and turning each into its text key again (once per
   * node) showed in profiles. A received message is never changed (every receiver shares it), so
   * an object seen before has the same text as then. */
  private seen = new WeakMap<object, { id: string; verdict: Verdict }>()
  hits = 0
  get(key: string, compute: () => Verdict): Verdict {
    const have = this.map.get(key)
    if (have) { this.hits++; return have }
    const v = compute()
    if (this.map.size >= MAX_ENTRIES) this.map.clear()
    this.map.set(key, v)
    return v
  }

  /** `key(id, value)` text-keyed, short-cut by the object's identity when it was seen with this id. */
  of(id: string, value: unknown, key: () => string, compute: () => Verdict): Verdict {
    if (typeof value !== 'object' || value === null) return this.get(key(), compute)
    const known = this.seen.get(value)
    if (known !== undefined && known.id === id) { this.hits++; return known.verdict }
    const verdict = this.get(key(), compute)
    this.seen.set(value, { id, verdict })
    return verdict
  }
}

export class SharedVerifier implements RecordVerifier {
  private records = new Memo()
  private segments = new Memo()
  private heads = new Memo()
  private infos = new Memo()
  /** Chunk bytes that verified, by their record's hashes. */
  private verifiedBytes = new Map<string, Uint8Array>()
  hashed = 0
  compared = 0

  private readonly inner: RecordVerifier = recordVerifier

  chunkRecord(id: string, rec: unknown): Verdict { return this.records.of(id, rec, () => id + JSON.stringify(rec), () => this.inner.chunkRecord(id, rec)) }
  segment(id: string, rec: unknown): Verdict { return this.segments.of(id, rec, () => id + JSON.stringify(rec), () => this.inner.segment(id, rec)) }
  info(id: string, info: unknown): Verdict { return this.infos.of(id, info, () => id + JSON.stringify(info), () => this.inner.info(id, info)) }
  /** The head on its own once for the process, then against each node's current head (cheap, and
   * different at every node). verify.ts's verifyHead is exactly these two steps. */
  head(id: string, head: unknown, current: StreamHead | null): Verdict {
    const alone = this.heads.of(id, head, () => id + JSON.stringify(head), () => verifyHeadAlone(id, head))
    return alone.result === 'accept' ? headAfter(head as StreamHead, current) : alone
  }

  block(rec: ChunkRecord, i: number, bytes: Uint8Array): Verdict {
    const key = `${i}:${rec.length}:${rec.blocks[i]}`
    const good = this.verifiedBytes.get(key)
    if (good && Buffer.compare(good, bytes) === 0) { this.compared++; return ACCEPT }
    this.hashed++
    const v = this.inner.block(rec, i, bytes)
    if (v.result === 'accept') this.remember(key, bytes)
    return v
  }

  private remember(key: string, bytes: Uint8Array): void {
    if (this.verifiedBytes.size >= MAX_BYTES_ENTRIES) this.verifiedBytes.clear()
    // A copy: the caller's bytes may be a view into a larger buffer we must not keep alive.
    this.verifiedBytes.set(key, Buffer.from(bytes))
  }

  chunkBytes(rec: ChunkRecord, bytes: Uint8Array): Verdict {
    const key = `${rec.length}:${rec.sha256}:${rec.blocks.join(",")}`
    const good = this.verifiedBytes.get(key)
    if (good && Buffer.compare(good, bytes) === 0) { this.compared++; return ACCEPT }
    this.hashed++
    const v = this.inner.chunkBytes(rec, bytes)
    if (v.result === 'accept') this.remember(key, bytes)
    return v
  }
}
