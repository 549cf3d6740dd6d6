// What this node knows about chunks it does not hold yet, or just received: when it first heard
// of each, how many hops each came over, which came down their stripe, and the blocks of chunks
// still being assembled. Bounded to the live window (and to recent chunks).
import { ChunkAssembly } from '../chunk-assembly.ts'
import { FED_BY_MEMORY } from './swarm-stats.ts'
import type { SwarmContext } from './swarm-context.ts'

export class ChunkTracker {
  private readonly c: SwarmContext
  /** Blocks of chunks not yet whole, checked against their signed hashes as they come. */
  readonly assembly: ChunkAssembly
  private knownSince = new Map<number, number>()
  private hopsOf = new Map<number, number>()
  /** Chunks being stored that came from their stripe parent: the ones we push on. */
  private fromParent = new Set<number>()
  /** Chunks any block of which came as a forwarded repair. */
  private repaired = new Set<number>()

  constructor(components: { context: SwarmContext }) {
    this.c = components.context
    const log = this.c.log
    this.assembly = new ChunkAssembly((rec, i, bytes) => log.verify.block(rec, i, bytes))
  }

  /** When we first heard chunk `n` exists (now, if this is the first time). */
  knownSinceOf(n: number, now: number): number {
    let since = this.knownSince.get(n)
    if (since === undefined) { since = now; this.knownSince.set(n, now) }
    return since
  }

  /** Forgets chunks below the live window: no player will ever want them. */
  dropBelow(from: number): void {
    this.assembly.dropBelow(from)
    for (const k of this.knownSince.keys()) if (k < from) this.knownSince.delete(k)
  }

  /** Hops from the source to us for a chunk we hold (the source itself is hop 0). */
  hops(n: number): number {
    return this.c.isSource ? 0 : (this.hopsOf.get(n) ?? 1)
  }

  setHops(n: number, hops: number): void {
    this.hopsOf.set(n, hops)
    if (this.hopsOf.size > FED_BY_MEMORY) this.hopsOf.delete(this.hopsOf.keys().next().value as number)
  }

  markFromParent(n: number): void {
    this.fromParent.add(n)
    if (this.fromParent.size > FED_BY_MEMORY) this.fromParent.delete(this.fromParent.values().next().value as number)
  }

  /** A block of chunk `n` came flagged as a repair forwarded down the stripe. */
  markRepaired(n: number): void {
    this.repaired.add(n)
    if (this.repaired.size > FED_BY_MEMORY) this.repaired.delete(this.repaired.values().next().value as number)
  }

  /** How chunk `n` goes on to our children, forgetting what we knew: as a push if it came down
   * the stripe from our parent, as a repair if we pulled it or it came down as one. */
  takeForwarding(n: number): 'push' | 'repair' {
    const pushed = this.fromParent.delete(n) && !this.repaired.has(n)
    this.repaired.delete(n)
    return pushed ? 'push' : 'repair'
  }
}
