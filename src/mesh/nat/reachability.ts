// How a peer can be reached, for choosing whom to send where: what it told us of its NAT, except
// that a peer whose router forwards the very address we know it by (a port mapping it announced,
// IAmBehind.mapped) is reachable by anyone, like a node without a NAT. Such a viewer can feed
// viewers behind symmetric NATs, whom no hole punch reaches (docs/NAT-LAB.md, port mapping).
import type { NatKind } from '../messages.ts'
import type { Peer } from '../peers.ts'

export function reachableAs(p: Pick<Peer, 'nat' | 'mapped'> | undefined): NatKind | undefined {
  return p?.mapped === true ? 'none' : p?.nat
}
