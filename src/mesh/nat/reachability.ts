// How a peer can be reached, for choosing whom to send where: what it told us of its NAT, except
// that a peer whose router forwards the very address we know it by (a port mapping it announced,
// IAmBehind.mapped) is reachable by anyone, like a node without a NAT. Such a viewer can feed
// viewers behind symmetric NATs, whom no plain hole punch reaches, and the source sends them there
// (stream-policy.ts decideChild) instead of feeding them from leaf places of its own. So it does
// with a cone viewer the source introduced a symmetric viewer to for a birthday punch
// (birthday-punch.ts): for that viewer, and once the punch had its time, the cone one counts as
// reachable; should the punch have failed, the viewer comes back and is fed at the source.
import type { NatKind } from '../messages.ts'
import type { Peer } from '../peers.ts'

type NatOfPeer = Pick<Peer, 'nat' | 'mapped'>

export function reachableAs(p: NatOfPeer | undefined): NatKind | undefined {
  return p?.mapped === true ? 'none' : p?.nat
}

/** A viewer sent to reachable viewers that asks the source again within this long of its last
 * ask, for the CAME_BACK_TIMES-th time in a row, came back because none of them took it (full, gone, or a mapping claimed
 * but not held). Not at once: its first round may end on hellos to viewers it never talked to
 * that did not finish within the 500 ms a join gives a stranger (stream-policy.ts joinAnswerMs) on
 * a loaded machine; they have by its next round. */
export const CAME_BACK_MS = 30_000
export const CAME_BACK_TIMES = 3
const MAX_REMEMBERED = 4096

/** The source's memory of the viewers behind symmetric NATs it sent to reachable viewers: one that
 * keeps coming back is fed from a leaf place at the source, not sent round the same list again. */
export class SentToReachable {
  private sent = new Map<string, { at: number; n: number }>()

  /** How the source sees peers when `from` asks for stripe `s`: mappings count, unless `from`
   * came back from the reachable viewers we sent it to for that stripe. */
  natOf(peer: (a: string) => NatOfPeer | undefined, from: string, s: number, now: number, punchedWith: (a: string) => readonly string[] = () => []): (a: string) => NatKind | undefined {
    const r = this.sent.get(`${s} ${from}`)
    const back = r !== undefined && now - r.at < CAME_BACK_MS && r.n >= CAME_BACK_TIMES
    if (back) return (a) => peer(a)?.nat
    const reached = punchedWith(from)
    return reached.length === 0 ? (a) => reachableAs(peer(a)) : (a) => (reached.includes(a) ? 'none' : reachableAs(peer(a)))
  }

  /** The source refused `from` a place in stripe `s`, sending it to `tryInstead` (best first). */
  note(from: string, s: number, tryInstead: string[], natOf: (a: string) => NatKind | undefined, now: number): void {
    if (natOf(from) !== 'symmetric' || tryInstead.length === 0 || natOf(tryInstead[0]) !== 'none') return
    const key = `${s} ${from}`
    const r = this.sent.get(key)
    // Each return within CAME_BACK_MS of the one before counts, however slow its rounds: a window
    // from the first redirect restarted a viewer whose rounds took over 10 s before its third.
    if (r !== undefined && now - r.at < CAME_BACK_MS) { r.n++; r.at = now; return }
    this.sent.delete(key)
    if (this.sent.size >= MAX_REMEMBERED) this.sent.delete(this.sent.keys().next().value as string)
    this.sent.set(key, { at: now, n: 1 })
  }
}
