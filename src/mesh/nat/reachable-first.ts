// Behind a symmetric NAT a node reaches only peers without a NAT, and which those are it learns
// by talking to them: a peer that has proven its address to us is one we can reach. Such a node
// asks those first, for a parent or a missing chunk, instead of spending a timeout on each peer
// behind a NAT its hello cannot pass.
import type { CjNode } from '../node.ts'

export function reachableFirst(node: CjNode, addrs: string[]): string[] {
  if (node.nat.kind !== 'symmetric') return addrs
  const proven = addrs.filter((a) => node.peers.get(a)?.verified === true)
  return [...proven, ...addrs.filter((a) => node.peers.get(a)?.verified !== true)]
}
