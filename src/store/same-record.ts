// Whether a record a peer sent is one a StreamLog already holds, field for field, signature
// included. A held record was verified when it came in (or signed here, or re-verified on load),
// so the same fields under the same signature are valid again without another Ed25519 check:
// every pushed chunk, every pull's answer and every duplicate carries its record, and a relay
// re-verified the ones it held (a few tenths of a millisecond each). Anything that differs in a
// signed field, or in the signature, is not the same record and goes through verify.ts as before.
//
// Compared are exactly the fields the signature covers plus the signature (signing-bytes.ts),
// with ===, so no two values that sign differently compare equal; keys a peer added beside them
// are ignored, as pick*() in record-shape.ts drops them. Never throws (a hostile getter or proxy,
// which JSON never makes, is simply not the same record).
import type { ChunkRecord, SegmentRecord, StreamHead, StreamInfo } from './stream-types.ts'

type Obj = Record<string, unknown>

function same(x: unknown, check: (o: Obj) => boolean): boolean {
  if (typeof x !== 'object' || x === null) return false
  try {
    return check(x as Obj)
  } catch {
    return false
  }
}

function sameStrings(a: readonly string[], b: unknown): boolean {
  if (!Array.isArray(b) || b.length !== a.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** The index `n` a record claims, or undefined (never a throw): which held record to compare with. */
export function claimedIndex(x: unknown): number | undefined {
  if (typeof x !== 'object' || x === null) return undefined
  try {
    // Read once: a second read could throw, or differ.
    const n = (x as Obj).n
    return typeof n === 'number' ? n : undefined
  } catch {
    return undefined
  }
}

export function sameChunkRecord(held: ChunkRecord, x: unknown): boolean {
  return same(x, (r) => r.sig === held.sig && r.n === held.n && r.length === held.length && r.sha256 === held.sha256 &&
    r.time === held.time && sameStrings(held.blocks, r.blocks))
}

export function sameSegment(held: SegmentRecord, x: unknown): boolean {
  return same(x, (r) => {
    if (r.sig !== held.sig || r.n !== held.n || r.offset !== held.offset || r.length !== held.length || r.duration !== held.duration ||
      r.pdt !== held.pdt || r.discontinuity !== held.discontinuity) return false
    // A part position is signed when present (segment v2): present on one side only is another record.
    const p = r.part
    if (held.part === undefined) return p === undefined
    return typeof p === 'object' && p !== null && (p as Obj).msn === held.part.msn && (p as Obj).index === held.part.index &&
      (p as Obj).independent === held.part.independent
  })
}

export function sameHead(held: StreamHead, x: unknown): boolean {
  return same(x, (h) => h.sig === held.sig && h.id === held.id && h.chunks === held.chunks && h.length === held.length &&
    h.segments === held.segments && h.time === held.time && h.ended === held.ended)
}

export function sameInfo(held: StreamInfo, x: unknown): boolean {
  return same(x, (i) => {
    if (i.sig !== held.sig || i.id !== held.id || i.format !== held.format || i.targetDuration !== held.targetDuration ||
      i.created !== held.created) return false
    const init = i.init
    if (held.init === null) return init === null
    return typeof init === 'object' && init !== null && (init as Obj).offset === held.init.offset && (init as Obj).length === held.init.length
  })
}
