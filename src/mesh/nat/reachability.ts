// How a peer can be reached, for choosing whom to send where: what it told us of its NAT, except
// that a peer whose router forwards the very address we know it by (a port mapping it announced,
// IAmBehind.mapped) is reachable by anyone, like a node without a NAT. Such a viewer can feed
// viewers behind symmetric NATs, whom no plain hole punch reaches, and the source sends them there
// (stream-policy.ts decideChild) instead of feeding them from leaf places of its own. So it does
// with a cone viewer the source introduced a symmetric viewer to for a birthday punch
// (birthday-punch.ts): for that viewer, once its side said the punch met (or, for a build before
// that word, BIRTHDAY_SETTLE_MS after), the cone one counts as reachable; should the punch have
// failed, the viewer comes back and is fed at the source.
import type { NatKind } from '../messages.ts'
import type { Peer } from '../peers.ts'

type NatOfPeer = Pick<Peer, 'nat' | 'mapped'>

export function reachableAs(p: NatOfPeer | undefined): NatKind | undefined {
  return p?.mapped === true ? 'none' : p?.nat
}

/** A viewer sent to reachable viewers that asks the source again within this long of its last
 * ask, for the CAME_BACK_TIMES-th time in a row, came back because none of them took it (full,
 * gone, or a mapping claimed but not held). Not at once: its first round may end on hellos to
 * viewers it never talked to that did not finish within the 500 ms a join gives a stranger
 * (stream-policy.ts joinAnswerMs) on a loaded machine; they have by its next round. */
export const CAME_BACK_MS = 30_000
export const CAME_BACK_TIMES = 3
const MAX_REMEMBERED = 4096

/** Reachable viewers a viewer behind a symmetric NAT is sent to in turn, per stripe, before the
 * source feeds it: a birthday punch gives it two (introductions.ts ENOUGH_PUNCHED), and peers that
 * claim mappings they do not hold cost it at most this many rounds of returns, however many. */
export const TARGETS_BEFORE_SOURCE = 2

/** The source's memory of the viewers behind symmetric NATs it sent to reachable viewers: one that
 * keeps coming back from the same viewer is not sent there again (for CAME_BACK_MS), and once it
 * came back from TARGETS_BEFORE_SOURCE of them (or every one it could be sent to) it is fed from a
 * leaf place at the source, not sent round the same list again; so it is after
 * CAME_BACK_TIMES x TARGETS_BEFORE_SOURCE returns in a row from whomever. Per target: a viewer
 * punched with two cone viewers, one of which does not receive the stripe (it refuses), was fed at
 * the source after three returns from that one, while the other, second in the list, would have
 * taken it (session 9). */
export class SentToReachable {
  /** Per stripe and viewer: returns in a row from the viewer it was last sent to (`n`), and from
   * any (`total`: the head of the list may change between rounds, e.g. two mapping liars taking
   * turns at the head of the source's holder walk, most recently heard first, and a count that
   * restarted with each change would never reach CAME_BACK_TIMES: review, session 9). */
  private sent = new Map<string, { at: number; n: number; total: number; to: string; backFrom: Map<string, number> }>()

  /** How the source sees peers when `from` asks for stripe `s`: mappings and the punches we
   * introduced count, except the viewers `from` came back from for that stripe. */
  natOf(peer: (a: string) => NatOfPeer | undefined, from: string, s: number, now: number, punchedWith: (a: string) => readonly string[] = () => []): (a: string) => NatKind | undefined {
    const r = this.sent.get(`${s} ${from}`)
    let active = 0
    if (r !== undefined) for (const until of r.backFrom.values()) if (until > now) active++
    const cameBackEnough = r !== undefined && now - r.at < CAME_BACK_MS && r.total >= CAME_BACK_TIMES * TARGETS_BEFORE_SOURCE
    const back = (a: string) => r !== undefined && (cameBackEnough || active >= TARGETS_BEFORE_SOURCE || (r.backFrom.get(a) ?? -Infinity) > now)
    const reached = punchedWith(from)
    return (a) => (back(a) ? peer(a)?.nat : reached.includes(a) ? 'none' : reachableAs(peer(a)))
  }

  /** The source refused `from` a place in stripe `s`, sending it to `tryInstead` (best first). */
  note(from: string, s: number, tryInstead: string[], natOf: (a: string) => NatKind | undefined, now: number): void {
    if (natOf(from) !== 'symmetric' || tryInstead.length === 0 || natOf(tryInstead[0]) !== 'none') return
    const key = `${s} ${from}`
    const to = tryInstead[0]
    const r = this.sent.get(key)
    // Each return within CAME_BACK_MS of the one before counts, however slow its rounds: a window
    // from the first redirect restarted a viewer whose rounds took over 10 s before its third.
    // Towards the same target in `n`; towards any in `total`.
    const prev = r !== undefined && now - r.at < CAME_BACK_MS ? r : undefined
    if (prev?.to === to) {
      prev.n++
      prev.total++
      prev.at = now
      if (prev.n >= CAME_BACK_TIMES) {
        prev.backFrom.delete(to)
        if (prev.backFrom.size >= TARGETS_BEFORE_SOURCE) prev.backFrom.delete(prev.backFrom.keys().next().value as string)
        prev.backFrom.set(to, now + CAME_BACK_MS)
      }
      return
    }
    const backFrom = r?.backFrom ?? new Map<string, number>()
    for (const [a, until] of backFrom) if (until <= now) backFrom.delete(a)
    this.sent.delete(key)
    if (this.sent.size >= MAX_REMEMBERED) this.sent.delete(this.sent.keys().next().value as string)
    this.sent.set(key, { at: now, n: 1, total: (prev?.total ?? 0) + 1, to, backFrom })
  }
}
