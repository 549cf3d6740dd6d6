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

  note(addr: string): void {
    if (!addr || addr === this.c.node.address) return
    if (!this.heard.delete(addr) && this.heard.size >= MAX_HOLDERS) this.heard.delete(this.heard.keys().next().value as string)
    this.heard.set(addr, this.c.node.timers.now())
  }

  /** A peer moved to a new address (src/mesh/nat/peer-keys.ts): it holds what it held. */
  moved(from: string, to: string): void {
    const at = this.heard.get(from)
    if (at === undefined) return
    this.heard.delete(from)
    this.heard.set(to, Math.max(at, this.heard.get(to) ?? 0))
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

/** A peer heard of this long ago has probably joined and receives the stream. */
export const SETTLED_PEER_MS = 3000

/** `hs` (best first) with the peers we first heard of at least SETTLED_PEER_MS ago first. What a
 * hint names: the most recently heard peers are, in a join wave, the joiners that just said hello,
 * hold nothing yet and answer a pull with hints of their own (each such answer burnt one of the
 * asker's tries before the source; issue 12's join storms). */
export function settledFirst(node: { peers: { get(a: string): { firstSeen: number } | undefined }; timers: { now(): number } }, hs: string[]): string[] {
  const now = node.timers.now()
  const settled = (a: string) => now - (node.peers.get(a)?.firstSeen ?? now) >= SETTLED_PEER_MS
  return [...hs.filter(settled), ...hs.filter((a) => !settled(a))]
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
