// Viewers behind one home router reach each other across their LAN, never through the router's
// public address (most routers do not hairpin, and a symmetric NAT cannot be punched at all). Each
// node behind a NAT tells its peers its LAN address (`IAmBehind.local`, ICE's host candidate); a
// peer that sees two of its proven peers behind one public host introduces them to each other at
// those LAN addresses (SayHelloTo to both), and hands a symmetric viewer's request for a stripe to
// a LAN-mate it already feeds that stripe (stream-policy.ts decideChild): the LAN costs its feeder
// one copy, not one per viewer. Viewers behind different symmetric routers gain nothing from this.
// Behind a carrier-grade NAT, homes share a public host too: only peers whose LAN addresses share
// a home-sized subnet are introduced, and an introduction is one bounded hello each.
import type { CjNode, Ctx } from '../node.ts'
import { parseAddress } from '../transport.ts'
import { sameSubnet } from './lan-address.ts'

/** Public hosts indexed, and peers per host: bounded against peers that flood reports. */
const MAX_HOSTS = 4096
const MAX_PER_HOST = 16
/** A pair of LAN-mates is introduced again after this long (one of them may have restarted). */
export const REINTRODUCE_MS = 60_000
/** Only mates heard this recently are introduced. */
const FRESH_MS = 30_000

export interface LanMate { at: string; local: string }

export class LanMates {
  /** Public host -> addresses (as we see them) of peers there that told us a LAN address. */
  private byHost = new Map<string, string[]>()
  private introduced = new Map<string, number>()
  readonly counters = { introduced: 0 }

  constructor(private node: CjNode) {
    node.handle('IAmBehind', (m, ctx) => { if (m.local !== undefined) this.onLocal(m.local, ctx) })
  }

  /** Proven peers behind the same public host as `addr` (not `addr` itself) whose LAN address
   * shares a home-sized subnet with the one `addr` told us, with their LAN address. Behind a
   * carrier-grade NAT (or any host that several homes share) the others are not on its LAN: a
   * symmetric viewer handed to one of them (decideChild) asked an address it cannot reach, and
   * found no parent in any stripe (in-process, where every mapping shares one host, for 20 s of 20). */
  mates(addr: string): LanMate[] {
    const host = parseAddress(addr)?.host
    const own = this.node.peers.get(addr)?.local
    const out: LanMate[] = []
    if (own === undefined) return out
    for (const at of (host !== undefined && this.byHost.get(host)) || []) {
      const p = this.node.peers.get(at)
      if (at !== addr && p?.verified && p.local !== undefined && sameSubnet(p.local, own) && !this.node.peers.isBanned(p)) out.push({ at, local: p.local })
    }
    return out
  }

  private onLocal(local: string, ctx: Ctx): void {
    if (!ctx.verified) return
    const host = parseAddress(ctx.from)?.host
    if (host === undefined || ctx.from === local) return
    ctx.peer.local = local
    let list = this.byHost.get(host)
    if (!list) {
      if (this.byHost.size >= MAX_HOSTS) this.byHost.delete(this.byHost.keys().next().value as string)
      list = []
      this.byHost.set(host, list)
    }
    if (!list.includes(ctx.from)) {
      list.push(ctx.from)
      if (list.length > MAX_PER_HOST) list.shift()
    }
    const now = this.node.timers.now()
    for (const m of this.mates(ctx.from)) {
      const mate = this.node.peers.get(m.at)
      if (!mate || now - mate.lastHeard > FRESH_MS || m.local === local) continue
      const pair = [ctx.from, m.at].sort().join(' ')
      if (now - (this.introduced.get(pair) ?? -Infinity) < REINTRODUCE_MS) continue
      this.introduced.delete(pair)
      if (this.introduced.size >= MAX_HOSTS) this.introduced.delete(this.introduced.keys().next().value as string)
      this.introduced.set(pair, now)
      this.counters.introduced++
      this.node.send(ctx.from, [{ type: 'SayHelloTo', peer: m.local }])
      this.node.send(m.at, [{ type: 'SayHelloTo', peer: local }])
    }
  }
}
