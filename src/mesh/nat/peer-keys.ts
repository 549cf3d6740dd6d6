// Peers known by their node keys. A home router may move a peer to a new public port at any time
// (its mapping expired, the router restarted: a rebinding), and to us the peer is then a stranger
// at a new address: its stripe places, scores and bans stayed with the old one. Each of our peers
// proves its node key (the DHT identity, <dir>/node.key) by signing a fresh nonce we sent to that
// address; when a proven key turns up at a new address, the address it had moves with it: the node
// carries over penalties and bans and emits 'peer-moved' (old, new) for the stream swarms.
//
// A claimed key counts for nothing until proven (a signature over our nonce, sent to that very
// address, within NONCE_TTL_MS), so nobody takes another peer's place by naming its key.
import { randomBytes } from 'node:crypto'
import type { CjNode, Ctx } from '../node.ts'
import type { MessageOf } from '../messages.ts'
import { verifySignature, type StreamKey } from '../../store/keys.ts'

/** What a proof signs, before the nonce: no other signature of a node key can be one. */
export const KEY_PROOF_DOMAIN = 'cjp2p-stream/peer-key/v1\n'
/** An unproven peer of ours is challenged again after this (a lost challenge or answer). */
const CHALLENGE_AGAIN_MS = 3000
/** A proof must answer a challenge at most this old. */
const NONCE_TTL_MS = 30_000
/** Challenges and keys remembered (bounded: addresses come from strangers). */
const MAX_TRACKED = 4096

export const proofBytes = (nonce: string): Buffer => Buffer.from(KEY_PROOF_DOMAIN + nonce)

export class PeerKeys {
  private challenges = new Map<string, { nonce: string; at: number }>()
  private byKey = new Map<string, string>()
  private provenHosts = new Map<string, true>()
  readonly counters = { challenged: 0, proven: 0, bad: 0, moved: 0 }

  constructor(private c: { node: CjNode; key: StreamKey }) {
    const node = c.node
    node.handle('AlwaysReturned', (_m, ctx) => this.challenge(ctx))
    node.handle('IAlsoSpeak', (_m, ctx) => this.challenge(ctx))
    node.handle('PleaseProveYourKey', (m, ctx) => {
      // Only to a proven address: the answer is larger than the question.
      if (!ctx.verified) return
      ctx.reply({ type: 'MyPublicKey', ed25519h: c.key.publicKeyHex, proof: { nonce: m.nonce, sig: c.key.sign(proofBytes(m.nonce)).toString('base64') } })
    })
    node.handle('MyPublicKey', (m, ctx) => this.check(m, ctx))
    node.keyProofPending = (addr) => this.pending(addr)
  }

  /** The proven key of the peer at `addr`, if it proved one there. */
  keyOf(addr: string): string | undefined {
    const p = this.c.node.peers.get(addr)
    return p?.keyProven ? p.publicKey : undefined
  }

  /** A new port of a host where a key was proven, whose own proof is on its way: what it asks now
   * is probably a moved peer's (a rebinding). A newcomer from a host never proven is not held up. */
  pending(addr: string): boolean {
    const p = this.c.node.peers.get(addr)
    const ch = this.challenges.get(addr)
    return p !== undefined && !p.keyProven && this.provenHosts.has(hostOf(addr)) && ch !== undefined && this.c.node.timers.now() - ch.at < CHALLENGE_AGAIN_MS
  }

  private challenge(ctx: Ctx): void {
    if (!ctx.verified || ctx.peer.keyProven) return
    // Our own peers, and any new port of a host where a key was proven (a rebinding says nothing
    // about itself: its first datagram may be any message).
    if (!ctx.peer.speaksStreams && !this.provenHosts.has(hostOf(ctx.from))) return
    const now = this.c.node.timers.now()
    const last = this.challenges.get(ctx.from)
    if (last && now - last.at < CHALLENGE_AGAIN_MS) return
    const nonce = randomBytes(16).toString('hex')
    remember(this.challenges, ctx.from, { nonce, at: now })
    this.counters.challenged++
    ctx.reply({ type: 'PleaseProveYourKey', nonce })
  }

  private check(m: MessageOf<'MyPublicKey'>, ctx: Ctx): void {
    if (!m.proof || !ctx.verified) return
    const now = this.c.node.timers.now()
    const ch = this.challenges.get(ctx.from)
    const key = m.ed25519h ?? Buffer.from(m.ed25519 ?? '', 'base64').toString('hex')
    if (!ch || ch.nonce !== m.proof.nonce || now - ch.at > NONCE_TTL_MS || !verifySignature(key, proofBytes(ch.nonce), Buffer.from(m.proof.sig, 'base64'))) {
      this.counters.bad++
      return
    }
    this.challenges.delete(ctx.from)
    ctx.peer.publicKey = key
    ctx.peer.keyProven = true
    this.counters.proven++
    const old = this.byKey.get(key)
    remember(this.byKey, key, ctx.from)
    remember(this.provenHosts, hostOf(ctx.from), true)
    if (old === undefined || old === ctx.from) return
    const was = this.c.node.peers.get(old)
    if (was) {
      // Scores and bans follow the key: a new port is not a clean slate.
      ctx.peer.penalty = Math.max(ctx.peer.penalty, was.penalty)
      ctx.peer.penaltyAt = Math.max(ctx.peer.penaltyAt, was.penaltyAt)
      ctx.peer.bannedUntil = Math.max(ctx.peer.bannedUntil, was.bannedUntil)
      ctx.peer.rttMs ??= was.rttMs
      // So is what it speaks: it is the same node.
      ctx.peer.speaksStreams ||= was.speaksStreams
      ctx.peer.maxDatagramBytes ??= was.maxDatagramBytes
      ctx.peer.saysPunchMet ||= was.saysPunchMet
      this.c.node.peers.rankMayHaveDropped(ctx.peer)
      was.keyProven = false
    }
    this.counters.moved++
    this.c.node.log.info('a peer moved to a new address (same key)', { from: old, to: ctx.from })
    this.c.node.emit('peer-moved', old, ctx.from)
  }
}

function hostOf(addr: string): string { return addr.slice(0, addr.lastIndexOf(':')) }

function remember<V>(map: Map<string, V>, key: string, v: V): void {
  map.delete(key)
  if (map.size >= MAX_TRACKED) map.delete(map.keys().next().value as string)
  map.set(key, v)
}
