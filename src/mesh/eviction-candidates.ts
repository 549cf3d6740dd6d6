// Which entry a full peer table evicts, without a pass over all of it per new address. The table
// evicts its lowest-ranked evictable entry (the first inserted among equals). In a swarm of
// thousands every node is told of more addresses than it keeps, and the pass over 2,000 entries per
// new address was 44 % of the simulator's CPU at 10,000 viewers. One pass now keeps the KEEP
// lowest, and the rank below which nothing else stood; entries added since join them. An entry's
// rank only rises by itself (heard, proven, delivering), so while the lowest candidate stays below
// that bound it is the table's lowest. What can lower a rank (a penalty, a longer round trip, a
// ban that ends) is reported (`lowered`) or watched (`unbanAt`), and sends the next pick to a new
// pass. The choice is the one the full pass makes, entry for entry (test/mesh/eviction-candidates.test.ts).
import type { Peer } from './peers.ts'

const KEEP = 64

export class EvictionCandidates {
  /** The lowest-ranked evictable entries at the last pass, and the entries added since. */
  private cand: Peer[] = []
  /** Every evictable entry outside `cand` ranked at least this at the last pass. */
  private floor = -Infinity
  /** The earliest end of a ban seen at the last pass: that entry may be evictable afterwards. */
  private unbanAt = Infinity
  private stale = true
  /** Insertion order (the table's Map order), for ties: kept on each entry as `Peer.seq`. */
  private nextOrder = 0

  constructor(private readonly rank: (p: Peer) => number) {}

  added(p: Peer): void {
    p.seq = this.nextOrder++
    if (this.stale) return
    this.cand.push(p)
    // Many additions without evictions (entries forgotten meanwhile): start over rather than grow.
    if (this.cand.length > 4 * KEEP) this.stale = true
  }

  /** `p`'s rank may have dropped (a penalty, a longer round trip, fields taken over). */
  lowered(p: Peer): void {
    if (this.rank(p) < this.floor) this.stale = true
  }

  /** The entry to evict: the lowest-ranked one neither configured nor banned, the first of equals;
   * undefined when there is none. Forgets it as a candidate. */
  pick(peers: ReadonlyMap<string, Peer>, now: number): Peer | undefined {
    if (!this.stale && now < this.unbanAt) {
      const i = this.lowest(peers, now)
      if (i >= 0 && this.rank(this.cand[i]) < this.floor) return this.cand.splice(i, 1)[0]
    }
    this.pass(peers, now)
    const i = this.lowest(peers, now)
    return i >= 0 ? this.cand.splice(i, 1)[0] : undefined
  }

  private evictable(p: Peer, peers: ReadonlyMap<string, Peer>, now: number): boolean {
    return peers.get(p.addr) === p && p.origin !== 'configured' && p.bannedUntil <= now
  }

  /** The index in `cand` of the lowest-ranked evictable candidate (first inserted among equals), or -1. */
  private lowest(peers: ReadonlyMap<string, Peer>, now: number): number {
    let best = -1
    let bestRank = Infinity
    let bestOrder = Infinity
    for (let i = 0; i < this.cand.length; i++) {
      const p = this.cand[i]
      if (!this.evictable(p, peers, now)) continue
      const r = this.rank(p)
      const o = p.seq ?? -1
      if (best < 0 || r < bestRank || (r === bestRank && o < bestOrder)) { best = i; bestRank = r; bestOrder = o }
    }
    return best
  }

  private pass(peers: ReadonlyMap<string, Peer>, now: number): void {
    const all: Array<{ p: Peer; r: number; o: number }> = []
    let unbanAt = Infinity
    for (const p of peers.values()) {
      if (p.origin === 'configured') continue
      if (p.bannedUntil > now) { unbanAt = Math.min(unbanAt, p.bannedUntil); continue }
      all.push({ p, r: this.rank(p), o: p.seq ?? -1 })
    }
    all.sort((a, b) => a.r - b.r || a.o - b.o)
    this.cand = all.slice(0, KEEP).map((e) => e.p)
    this.floor = all.length > KEEP ? all[KEEP].r : Infinity
    this.unbanAt = unbanAt
    this.stale = false
  }
}
