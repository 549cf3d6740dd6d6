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

/** Verdicts on signed records by their text, for one kind of record. No closure per lookup: the
 * check is fixed per memo, and a lookup runs once per record per node. */
class Memo {
  private map = new Map<string, Verdict>()
  /** The verdict on one object, by identity: with the codec handover every receiver of a datagram
   * gets the very objects its sender built, and turning each into its text key again (once per
   * node) showed in profiles. A received message is never changed (every receiver shares it), so
   * an object seen before has the same text as then. */
  private seen = new WeakMap<object, { id: string; verdict: Verdict }>()
  /** The last object judged with each signature: a node keeps a copy of each record it accepts
   * (pickChunkRecord; in a simulation one copy for the process, shared-records.ts) and pushes that
   * copy on, so a child meets a new object with the same fields. Compared field by field (sameJson), it needs no text key: building one per child was
   * 1.3 % of the simulator's CPU at 1,000 viewers. Bounded and cleared with `map`. */
  private bySig = new Map<string, { id: string; value: object; verdict: Verdict }>()
  hits = 0

  constructor(private readonly check: (id: string, value: unknown) => Verdict) {}

  of(id: string, value: unknown): Verdict {
    const isObject = typeof value === 'object' && value !== null
    let sig: unknown
    if (isObject) {
      const known = this.seen.get(value)
      if (known !== undefined && known.id === id) { this.hits++; return known.verdict }
      sig = (value as { sig?: unknown }).sig
      const same = typeof sig === 'string' ? this.bySig.get(sig) : undefined
      if (same !== undefined && same.id === id && sameJson(same.value, value)) {
        this.hits++
        this.seen.set(value, { id, verdict: same.verdict })
        return same.verdict
      }
    }
    const key = id + JSON.stringify(value)
    let verdict = this.map.get(key)
    if (verdict !== undefined) this.hits++
    else {
      verdict = this.check(id, value)
      if (this.map.size >= MAX_ENTRIES) { this.map.clear(); this.bySig.clear() }
      this.map.set(key, verdict)
    }
    if (isObject) {
      this.seen.set(value, { id, verdict })
      if (typeof sig === 'string') this.bySig.set(sig, { id, value, verdict })
    }
    return verdict
  }
}

/** Whether `a` and `b` are the same JSON text, judged without writing it: the same primitives, or
 * arrays and plain objects with the same keys in the same order and the same values. False for
 * anything else (a Buffer, a Date, NaN in one place), which the caller then keys by its text. */
export function sameJson(a: unknown, b: unknown): boolean {
  // One value twice (strings and numbers too, whatever they spell) is one text.
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false
    return true
  }
  if (!isPlain(a) || !isPlain(b)) return false
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length) return false
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i]
    // Read as a[k], an own "__proto__" (JSON.parse makes one) would give the prototype.
    if (k !== kb[i] || k === '__proto__') return false
    if (!sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false
  }
  return true
}

/** An object JSON writes as its own keys: no prototype of its own and no toJSON. */
function isPlain(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown
  return (proto === Object.prototype || proto === null) && typeof (v as { toJSON?: unknown }).toJSON !== 'function'
}

/** Bytes that verified against a record's hash, with the rest of what their verdict depended on. */
interface VerifiedBytes { length: number; index: number; blocks: readonly string[] | null; bytes: Uint8Array }

export class SharedVerifier implements RecordVerifier {
  private readonly inner: RecordVerifier = recordVerifier
  private records = new Memo((id, v) => this.inner.chunkRecord(id, v))
  private segments = new Memo((id, v) => this.inner.segment(id, v))
  private heads = new Memo((id, v) => verifyHeadAlone(id, v))
  private infos = new Memo((id, v) => this.inner.info(id, v))
  /** Block bytes that verified, by the block's BLAKE3 (a record's `blocks[i]`); whole chunks by
   * their SHA-256. Keyed by the hash text the record already holds: no key built per lookup. */
  private verifiedBlocks = new Map<string, VerifiedBytes>()
  private verifiedChunks = new Map<string, VerifiedBytes>()
  hashed = 0
  compared = 0

  chunkRecord(id: string, rec: unknown): Verdict { return this.records.of(id, rec) }
  segment(id: string, rec: unknown): Verdict { return this.segments.of(id, rec) }
  info(id: string, info: unknown): Verdict { return this.infos.of(id, info) }
  /** The head on its own once for the process, then against each node's current head (cheap, and
   * different at every node). verify.ts's verifyHead is exactly these two steps. */
  head(id: string, head: unknown, current: StreamHead | null): Verdict {
    const alone = this.heads.of(id, head)
    return alone.result === 'accept' ? headAfter(head as StreamHead, current) : alone
  }

  block(rec: ChunkRecord, i: number, bytes: Uint8Array): Verdict {
    const hash = rec.blocks[i]
    const good = hash === undefined ? undefined : this.verifiedBlocks.get(hash)
    if (good !== undefined && good.index === i && good.length === rec.length && equalBytes(good.bytes, bytes)) { this.compared++; return ACCEPT }
    this.hashed++
    const v = this.inner.block(rec, i, bytes)
    if (v.result === 'accept') remember(this.verifiedBlocks, hash, { length: rec.length, index: i, blocks: null, bytes: copyOf(bytes) })
    return v
  }

  chunkBytes(rec: ChunkRecord, bytes: Uint8Array): Verdict {
    const good = this.verifiedChunks.get(rec.sha256)
    if (good !== undefined && good.length === rec.length && sameList(good.blocks, rec.blocks) && equalBytes(good.bytes, bytes)) { this.compared++; return ACCEPT }
    this.hashed++
    const v = this.inner.chunkBytes(rec, bytes)
    if (v.result === 'accept') remember(this.verifiedChunks, rec.sha256, { length: rec.length, index: 0, blocks: [...rec.blocks], bytes: copyOf(bytes) })
    return v
  }
}

function remember(map: Map<string, VerifiedBytes>, key: string, entry: VerifiedBytes): void {
  if (map.size >= MAX_BYTES_ENTRIES) map.clear()
  map.set(key, entry)
}

/** A copy: the caller's bytes may be a view into a larger buffer we must not keep alive. */
function copyOf(bytes: Uint8Array): Buffer { return Buffer.from(bytes) }

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0
}

function sameList(a: readonly string[] | null, b: readonly string[]): boolean {
  if (a === null || a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
