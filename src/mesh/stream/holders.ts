// Peers that (probably) carry this stream: where parents, repairs and redirects come from. Keyed
// by addresses peers tell us, so bounded; the least recently heard goes first. The entries are
// linked in the order peers were last heard (a note moves its peer to the newest end), so the list,
// asked for on every repair pass and every refused pull, is a walk from the newest end that stops
// at its limit: never a sort, and no copy of every key (a 256-key array per call was much of the
// simulator's garbage at 1,000 viewers).
import type { SwarmContext } from './swarm-context.ts'

/** Peers remembered as holders of this stream: enough to find parents, bounded against floods. */
export const MAX_HOLDERS = 256

interface Entry { addr: string; older: Entry | undefined; newer: Entry | undefined }

export class Holders {
  private readonly c: SwarmContext
  private readonly entries = new Map<string, Entry>()
  private oldest: Entry | undefined
  private newest: Entry | undefined

  constructor(components: { context: SwarmContext }, init: { bootstrap: string[] }) {
    this.c = components.context
    for (const b of init.bootstrap) this.note(b)
  }

  note(addr: string): void {
    if (!addr || addr === this.c.node.address) return
    let e = this.entries.get(addr)
    if (e === undefined) {
      if (this.entries.size >= MAX_HOLDERS && this.oldest !== undefined) this.remove(this.oldest)
      e = { addr, older: undefined, newer: undefined }
      this.entries.set(addr, e)
      this.append(e)
      return
    }
    if (e !== this.newest) {
      this.unlink(e)
      this.append(e)
    }
  }

  /** A peer moved to a new address (src/mesh/nat/peer-keys.ts): it holds what it held. The new
   * address keeps its place if it was known, else takes the newest place. */
  moved(from: string, to: string): void {
    const was = this.entries.get(from)
    if (was === undefined) return
    this.remove(was)
    if (!this.entries.has(to)) {
      const added = { addr: to, older: undefined, newer: undefined }
      this.entries.set(to, added)
      this.append(added)
    }
  }

  /** The peer table is capped and evicts: any address we hold (a parent, a holder) may have no
   * entry any more. A ban outlives eviction (banned entries are never evicted), so no entry means
   * not banned. */
  isBanned(addr: string): boolean {
    const peers = this.c.node.peers
    if (!peers.anyBanned()) return false
    const p = peers.get(addr)
    return p !== undefined && peers.isBanned(p)
  }

  /** Peers that (probably) have this stream, most recently heard first, never banned ones; at
   * most `limit` of them, and only those `keep` accepts. */
  list(exclude: string, limit = Infinity, keep?: (addr: string) => boolean): string[] {
    const out: string[] = []
    for (let e = this.newest; e !== undefined && out.length < limit; e = e.older) {
      const a = e.addr
      if (a !== exclude && !this.isBanned(a) && (keep === undefined || keep(a))) out.push(a)
    }
    return out
  }

  /** The same peers as list(exclude), walked lazily, each time it is iterated: a refusal that
   * needs eight of them reads about as many, not all 256 (the source refuses nearly every one of
   * a join wave's subscriptions). Not for use across a change of the holders. */
  walk(exclude: string): Iterable<string> {
    return { [Symbol.iterator]: () => this.entriesFrom(exclude) }
  }

  private *entriesFrom(exclude: string): Generator<string> {
    for (let e = this.newest; e !== undefined; e = e.older) {
      const a = e.addr
      if (a !== exclude && !this.isBanned(a)) yield a
    }
  }

  private append(e: Entry): void {
    e.older = this.newest
    e.newer = undefined
    if (this.newest !== undefined) this.newest.newer = e
    else this.oldest = e
    this.newest = e
  }

  private unlink(e: Entry): void {
    if (e.older !== undefined) e.older.newer = e.newer
    else this.oldest = e.newer
    if (e.newer !== undefined) e.newer.older = e.older
    else this.newest = e.older
    e.older = undefined
    e.newer = undefined
  }

  private remove(e: Entry): void {
    this.unlink(e)
    this.entries.delete(e.addr)
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
