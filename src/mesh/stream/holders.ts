// Peers that (probably) carry this stream: where parents, repairs and redirects come from. Keyed
// by addresses peers tell us, so bounded; the least recently heard goes first. The map is kept in
// the order peers were last heard (a note moves its peer to the end), so the list, asked for on
// every repair pass and every refused pull, is a walk backwards and never a sort.
import type { SwarmContext } from './swarm-context.ts'

/** Peers remembered as holders of this stream: enough to find parents, bounded against floods. */
export const MAX_HOLDERS = 256

export class Holders {
  private readonly c: SwarmContext
  /** Address -> when last heard, least recently heard first. */
  private readonly heard = new Map<string, number>()

  constructor(components: { context: SwarmContext }, init: { bootstrap: string[] }) {
    this.c = components.context
    for (const b of init.bootstrap) this.note(b)
  }

  /** The last key of `heard` when known: a chunk's blocks come from the same peer one after another,
   * and moving an entry that is already last (a delete and a set per block) showed in profiles. */
  private newest: string | undefined

  note(addr: string): void {
    if (!addr || addr === this.c.node.address) return
    if (addr !== this.newest) {
      if (!this.heard.delete(addr) && this.heard.size >= MAX_HOLDERS) this.heard.delete(this.heard.keys().next().value as string)
      this.newest = addr
    }
    this.heard.set(addr, this.c.node.timers.now())
  }

  /** A peer moved to a new address (src/mesh/nat/peer-keys.ts): it holds what it held. */
  moved(from: string, to: string): void {
    const at = this.heard.get(from)
    if (at === undefined) return
    this.heard.delete(from)
    this.heard.set(to, Math.max(at, this.heard.get(to) ?? 0))
    this.newest = undefined
  }

  /** The peer table is capped and evicts: any address we hold (a parent, a holder) may have no
   * entry any more. A ban outlives eviction (banned entries are never evicted), so no entry means
   * not banned. */
  isBanned(addr: string): boolean {
    const p = this.c.node.peers.get(addr)
    return p !== undefined && this.c.node.peers.isBanned(p)
  }

  /** Peers that (probably) have this stream, most recently heard first, never banned ones; at
   * most `limit` of them, and only those `keep` accepts. */
  list(exclude: string, limit = Infinity, keep?: (addr: string) => boolean): string[] {
    const all = [...this.heard.keys()]
    const out: string[] = []
    for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
      const a = all[i]
      if (a !== exclude && !this.isBanned(a) && (keep === undefined || keep(a))) out.push(a)
    }
    return out
  }
}

/** Sets a key in a map keyed by peer input, bounded by MAX_HOLDERS: expired entries go first, then the oldest. */
export function remember(map: Map<string, number>, key: string, until: number, now: number): void {
  map.delete(key)
  if (map.size >= MAX_HOLDERS) {
    for (const [k, u] of map) if (u <= now) map.delete(k)
    if (map.size >= MAX_HOLDERS) map.delete(map.keys().next().value as string)
  }
  map.set(key, until)
}
