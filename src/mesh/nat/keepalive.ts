// Keepalives for NAT mappings. A home router forgets a UDP mapping after about 30 s without
// traffic (Linux: 30 s until answered, 120 s after; many routers 30 s flat), and then a peer we
// talked to can no longer reach us until we send to it again. Stream parents and children talk every
// 2 s anyway; this keeps the rest of our proven peers (holders, introducers) open, and only while we
// are behind a NAT: a node peers see at its own address needs none.
import type { CjNode } from '../node.ts'

/** A peer we sent nothing for this long gets a keepalive: half the shortest common NAT timeout. */
export const KEEPALIVE_AFTER_MS = 15_000
/** Peers heard within this long are kept open; a peer silent longer is gone or will greet again. */
const KEEP_PEERS_HEARD_MS = 120_000
/** Keepalives per round at most (a round every few seconds): a bound, not a target. */
const MAX_PER_ROUND = 64

/** Sends one round of keepalives; returns how many went out. */
export function sendKeepalives(node: CjNode): number {
  if (node.nat.kind === 'none') return 0
  const now = node.timers.now()
  let sent = 0
  for (const p of node.peers.all()) {
    if (sent >= MAX_PER_ROUND) break
    if (!p.verified || !p.speaksStreams || now - p.lastHeard > KEEP_PEERS_HEARD_MS || now - p.lastContacted < KEEPALIVE_AFTER_MS) continue
    if (node.peers.isBanned(p)) continue
    // The RTT probe: the smallest message every cjp2p node answers, and its echo refreshes the
    // mapping from the other side too.
    if (node.send(p.addr, [{ type: 'PleaseReturnThisMessage', value: now }]) > 0) sent++
  }
  return sent
}
