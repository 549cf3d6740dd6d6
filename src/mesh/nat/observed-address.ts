// What our peers see of us. Behind a NAT a node's socket address (10.x, 192.168.x) is not where
// anyone can reach it; each peer tells it the address its datagrams arrive from (ISeeYouAt), and
// the reports together say what kind of NAT it sits behind:
// - `none`: peers see one of our own addresses (our socket's, or an interface's on our port);
// - `symmetric`: two peers see us at different addresses (a mapping per destination, so nobody we
//   did not contact first can reach us);
// - `cone`: several peers see the same address (one mapping for every destination);
// - with a single report, a NAT that kept our port is taken for a cone (port-preserving NATs are the
//   common endpoint-independent ones) and one that changed it for symmetric, until a second peer
//   reports. A wrong guess only makes a node a leaf (it still receives) or costs a failed hello.
import type { NatKind } from '../messages.ts'
import { parseAddress } from '../transport.ts'
import type { Clock } from '../../util/timers.ts'

/** A report counts this long. Peers repeat theirs every REPORT_EVERY_MS, so a NAT that moved our
 * mapping (rebinding) stops looking symmetric within this time. */
export const REPORT_TTL_MS = 60_000
/** Observers remembered: reports come only from proven peers, but a node may have many. */
const MAX_OBSERVERS = 64

export interface NatView {
  kind: NatKind | 'unknown'
  /** The address peers reach us at (the agreed one; for a symmetric NAT the latest seen). */
  publicAddress: string | null
  /** Peers whose reports are current. */
  observers: number
}

export class ObservedAddresses {
  /** Observer address -> what it saw and when (an observer is one peer, whatever its host). */
  private reports = new Map<string, { addr: string; at: number }>()

  /** When our NAT, taken for a cone, last moved our mapping (see report): for REPORT_TTL_MS a
   * single report's new port is not our socket's, and that says nothing of its kind. After it,
   * every peer still talking to us has reported again, and a lone changed port reads as before. */
  private reboundAt = -Infinity

  constructor(private c: { clock: Clock; isSelf: (addr: string) => boolean; localAddress: () => string }) {}

  /** Records one peer's report; returns the view after it. */
  report(observer: string, addr: string): NatView {
    const was = this.reports.get(observer)
    if (was !== undefined && was.addr !== addr && !this.c.isSelf(was.addr) && this.view().kind === 'cone') {
      // One peer sees us at a new address, and every peer agreed on the old one: our mapping
      // moved (a rebinding). What the others saw of the old one is stale: kept for REPORT_TTL_MS
      // beside the new one, two addresses made us "symmetric" for a minute, and so did the single
      // report's moved port. Taken for a leaf, a relay behind a cone lost every place it had, and
      // at the source the next newcomer took all four stripes with a catch-up the source sent
      // itself (test/mesh/rebinding-places.test.ts). Only from a cone: where peers already
      // disagree (a symmetric NAT), a liar naming an honest peer's address and then another's
      // would erase the disagreement and make us a cone. A liar could already make a cone look
      // symmetric with one report; this lets it do no more.
      this.reboundAt = this.c.clock.now()
      for (const [o, r] of this.reports) if (r.addr === was.addr) this.reports.delete(o)
    }
    this.reports.delete(observer)
    if (this.reports.size >= MAX_OBSERVERS) this.reports.delete(this.reports.keys().next().value as string)
    this.reports.set(observer, { addr, at: this.c.clock.now() })
    return this.view()
  }

  view(): NatView {
    const now = this.c.clock.now()
    const fresh = [...this.reports.values()].filter((r) => now - r.at < REPORT_TTL_MS).sort((a, b) => b.at - a.at)
    const rebound = now - this.reboundAt < REPORT_TTL_MS
    return classify(fresh.map((r) => r.addr), this.c.isSelf, parseAddress(this.c.localAddress())?.port, rebound)
  }
}

/** The NAT kind from current reports, newest first (pure: the tests feed it directly). `rebound`:
 * a NAT already taken for a cone moved our mapping, so a single report's changed port is no sign
 * of a symmetric one. */
export function classify(seen: string[], isSelf: (addr: string) => boolean, localPort: number | undefined, rebound = false): NatView {
  if (seen.length === 0) return { kind: 'unknown', publicAddress: null, observers: 0 }
  // A peer on our own LAN sees our own address even behind a NAT: only the others say what it does.
  const outside = seen.filter((a) => !isSelf(a))
  if (outside.length === 0) return { kind: 'none', publicAddress: seen[0], observers: seen.length }
  const distinct = new Set(outside)
  if (distinct.size > 1) return { kind: 'symmetric', publicAddress: outside[0], observers: seen.length }
  if (outside.length > 1) return { kind: 'cone', publicAddress: outside[0], observers: seen.length }
  const kept = rebound || parseAddress(outside[0])?.port === localPort
  return { kind: kept ? 'cone' : 'symmetric', publicAddress: outside[0], observers: seen.length }
}
