// What this node knows about each chunk of the live window, as one declared state per chunk
// (ChunkPhase): when it first heard of it, the pull open for it, how its blocks came (down the
// stripe from our parent, or as a forwarded repair) and, once held, how many hops it came over.
// The blocks of chunks still being assembled live in `assembly`. Bounded to the live window (and
// the init chunks): entries below it go when the window moves.
import { CHUNK_SIZE } from '../../store/stream-types.ts'
import { ChunkAssembly } from '../chunk-assembly.ts'
import { RepairRequest } from './repair-request.ts'
import type { SwarmContext } from './swarm-context.ts'

/**
 * - `missing`: we know it exists (its record, or the edge) and nothing of it is here or asked for.
 * - `repairing`: a pull is open for it (`request`), and none of its blocks came yet.
 * - `arriving`: blocks came (a push or a pull's answer) and it is being assembled or stored; a
 *   pull for the blocks still lacking may be open.
 * - `complete`: verified and stored; only its hops and how to forward it are kept.
 */
export type ChunkPhase = 'missing' | 'repairing' | 'arriving' | 'complete'

/** Every field is set in the constructor, so each entry holds its fields inside the object: the
 * literal it replaced had three, and those set later (`knownSince`, `request`, `hops`) went to a
 * property array of their own, one per chunk of the live window at every node. */
class ChunkEntry {
  /** When we first heard it exists (its record, or a repair pass found it missing). */
  knownSince: number | undefined = undefined
  request: RepairRequest | undefined = undefined
  /** Being stored, and our stripe parent sent it: it goes on to our children as a push. */
  fromParent = false
  /** A block came flagged as a repair forwarded down: it goes on as a repair. */
  repaired = false
  hops: number | undefined = undefined

  constructor(public phase: ChunkPhase) {}
}

export class ChunkTracker {
  private readonly c: SwarmContext
  /** Blocks of chunks not yet whole, checked against their signed hashes as they come. */
  readonly assembly: ChunkAssembly
  private chunks = new Map<number, ChunkEntry>()
  /** The entries with a pull open, by chunk: what the repair planner walks on every pass. */
  private open = new Map<number, RepairRequest>()

  constructor(components: { context: SwarmContext }) {
    this.c = components.context
    const log = this.c.log
    this.assembly = new ChunkAssembly((rec, i, bytes) => log.verify.block(rec, i, bytes))
  }

  phase(n: number): ChunkPhase | undefined {
    return this.chunks.get(n)?.phase
  }

  /** We heard chunk `n` exists; returns since when we know (now, if this is the first time). */
  heard(n: number, now: number): number {
    const e = this.entry(n)
    e.knownSince ??= now
    return e.knownSince
  }

  /** Pulls open, by chunk (read-only: planRepairs' view). */
  requests(): ReadonlyMap<number, RepairRequest> {
    return this.open
  }

  /** We asked `peer` for (the missing blocks of) chunk `n`. */
  asked(n: number, peer: string, now: number): void {
    const e = this.entry(n)
    if (e.request) e.request.retry(peer, now)
    else { e.request = new RepairRequest(peer, now); this.open.set(n, e.request) }
    if (e.phase !== 'arriving') e.phase = 'repairing'
  }

  /** `peer` answered our pulls with hints, not data: each of those requests retries elsewhere soon. */
  refusedBy(peer: string, now: number): void {
    for (const r of this.open.values()) if (r.peer === peer) r.refused(now)
  }

  /** A block of chunk `n` came; `repaired`: as a repair forwarded down. */
  blockCame(n: number, repaired: boolean): void {
    const e = this.entry(n)
    if (repaired && e.phase !== 'complete') e.repaired = true
  }

  /** Its blocks went into the assembly: while any is held there, the chunk is arriving. */
  assembling(n: number): void {
    const e = this.entry(n)
    if ((e.phase === 'missing' || e.phase === 'repairing') && this.assembly.has(n)) e.phase = 'arriving'
  }

  /** Chunk `n` is whole and being stored; `fromParent`: our stripe parent was among its senders;
   * `hops`: from the source to us (known now: it goes on to our children before it is stored). */
  storing(n: number, fromParent: boolean, hops?: number): void {
    const e = this.entry(n)
    e.phase = 'arriving'
    if (fromParent) e.fromParent = true
    if (hops !== undefined) e.hops = hops
  }

  /** How chunk `n` goes on to our children, forgetting what we knew: as a push if it came down
   * the stripe from our parent, as a repair if we pulled it or it came down as one. */
  takeForwarding(n: number): 'push' | 'repair' {
    const e = this.chunks.get(n)
    const pushed = e !== undefined && e.fromParent && !e.repaired
    if (e) { e.fromParent = false; e.repaired = false }
    return pushed ? 'push' : 'repair'
  }

  /** Storing chunk `n` ended: `held` (verified here now, `hops` from the source if we count them)
   * or not (a local fault or a bad record: it is missing again, asked for afresh). */
  settled(n: number, held: boolean, hops?: number): void {
    const e = this.entry(n)
    this.closeRequest(n, e)
    e.phase = held ? 'complete' : 'missing'
    if (hops !== undefined) e.hops = hops
  }

  /** Hops from the source to us for a chunk we hold (the source itself is hop 0). */
  hops(n: number): number {
    return this.c.isSource ? 0 : (this.chunks.get(n)?.hops ?? 1)
  }

  /** Forgets chunks below the live window: no player will ever want them (but the init chunks). */
  dropBelow(from: number): void {
    const init = this.initChunks()
    const old = (k: number) => k < from && !init.includes(k)
    this.assembly.dropBelow(from, (k) => init.includes(k))
    for (const [k, e] of this.chunks) if (old(k)) { this.closeRequest(k, e); this.chunks.delete(k) }
  }

  /** The chunks holding the fMP4 init (EXT-X-MAP): every segment needs them, so a joiner fetches
   * them although they lie far before its start at the live edge. */
  initChunks(): number[] {
    const init = this.c.log.info()?.init
    if (!init) return []
    const out: number[] = []
    for (let n = Math.floor(init.offset / CHUNK_SIZE); n * CHUNK_SIZE < init.offset + init.length; n++) out.push(n)
    return out
  }

  isInitChunk(n: number): boolean {
    return this.initChunks().includes(n)
  }

  private entry(n: number): ChunkEntry {
    let e = this.chunks.get(n)
    if (!e) {
      e = new ChunkEntry(this.c.log.hasChunk(n) ? 'complete' : 'missing')
      this.chunks.set(n, e)
    }
    return e
  }

  private closeRequest(n: number, e: ChunkEntry): void {
    if (!e.request) return
    e.request = undefined
    this.open.delete(n)
  }
}
