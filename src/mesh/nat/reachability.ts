// How a peer can be reached, for choosing whom to send where: what it told us of its NAT, except
// that a peer whose router forwards the very address we know it by (a port mapping it announced,
// IAmBehind.mapped) is reachable by anyone, like a node without a NAT. Such a viewer can feed
// viewers behind symmetric NATs, whom no hole punch reaches, and the source sends them there
// (stream-policy.ts decideChild) instead of feeding them from leaf places of its own.
import type { NatKind } from '../messages.ts'
import type { Peer } from '../peers.ts'

type NatOfPeer = Pick<Peer, 'nat' | 'mapped'>

export function reachableAs(p: NatOfPeer | undefined): NatKind | undefined {
  return p?.mapped === true ? 'none' : p?.nat
}

/** A viewer sent to reachable viewers that asks the source again within this long came back
 * because none of them took it (full, gone, or a mapping claimed but not held). */
export const CAME_BACK_MS = 30_000
const MAX_REMEMBERED = 4096

/** The source's memory of the viewers behind symmetric NATs it sent to reachable viewers: one that
 * comes back is fed from a leaf place at the source, not sent round the same list again. */
export class SentToReachable {
  private at = new Map<string, number>()

  /** How the source sees peers when `from` asks for stripe `s`: mappings count, unless `from`
   * came back from the reachable viewers we sent it to for that stripe. */
  natOf(peer: (a: string) => NatOfPeer | undefined, from: string, s: number, now: number): (a: string) => NatKind | undefined {
    const back = now - (this.at.get(`${s} ${from}`) ?? -Infinity) < CAME_BACK_MS
    return back ? (a) => peer(a)?.nat : (a) => reachableAs(peer(a))
  }

  /** The source refused `from` a place in stripe `s`, sending it to `tryInstead` (best first). */
  note(from: string, s: number, tryInstead: string[], natOf: (a: string) => NatKind | undefined, now: number): void {
    if (natOf(from) !== 'symmetric' || tryInstead.length === 0 || natOf(tryInstead[0]) !== 'none') return
    const key = `${s} ${from}`
    // Only the first redirect starts the window: a viewer asking again within it came back.
    if (now - (this.at.get(key) ?? -Infinity) < CAME_BACK_MS) return
    this.at.delete(key)
    if (this.at.size >= MAX_REMEMBERED) this.at.delete(this.at.keys().next().value as string)
    this.at.set(key, now)
  }
}
