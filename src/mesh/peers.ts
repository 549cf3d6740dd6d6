// The peer table: every address we heard from or were told about, bounded, ranked and persisted.
import { readFile, rename, writeFile } from 'node:fs/promises'
import type { Json, NatKind } from './messages.ts'
import type { Clock } from '../util/timers.ts'
import { systemClock } from '../util/timers.ts'
import type { PenaltyReason } from '../metrics/types.ts'
import type { PeerRow } from '../store/state-db.ts'
import { EvictionCandidates } from './eviction-candidates.ts'
import type { CookieText } from './node.ts'

/** Addresses we keep at most: spoofed sources can make us create entries, so the table must be bounded. */
export const MAX_PEERS = 2000
/** Penalty points at which a peer is banned. One bad chunk costs 10, so a few honest mistakes (a
 * flipped bit on a bad link) pass, a liar does not. */
export const BAN_SCORE = 50
export const BAN_MS = 10 * 60_000
/** Penalties fade: a point an hour... per minute, so an honest peer that once erred recovers. */
const PENALTY_DECAY_PER_MS = 1 / 60_000
// bad_seal: a sealed datagram that fails authentication (or a forged handshake identity); on-path
// tampering can cause it too, so it weighs little.
const PENALTY: Record<PenaltyReason, number> = { bad_chunk: 10, bad_signature: 20, bad_field: 10, bad_file_block: 10, stale_head: 2, flood: 5, lie: 5, bad_seal: 5 }
/** Datagrams per second an address may send us: verified peers carry streams (about 60/s per copy
 * plus repair bursts) and files (a 4 KiB block each: 20,000/s is 80 MiB/s, more than a seeder
 * sends); unverified ones only need a handshake. */
const RATE = { verified: { perSecond: 20000, burst: 40000 }, unverified: { perSecond: 100, burst: 200 } }
/** Answers we wait for from one address at most: above any request window (512) plus hellos. */
export const MAX_SOLICITED = 1024
/** Credit for answers to requests older than this has lapsed: a late answer meets the rate limit. */
const SOLICITED_TTL_MS = 10_000

export interface Peer {
  addr: string
  /** The value this peer asked us to return on every datagram, verbatim. */
  theirCookie?: Json
  /** They echoed our cookie: their source address is proven. */
  verified: boolean
  rttMs?: number
  firstSeen: number
  lastHeard: number
  lastContacted: number
  /** Bytes received from / sent to this address while it was unverified (anti-amplification). */
  unverifiedRecv: number
  unverifiedSent: number
  /** Of unverifiedSent, the bytes sent under the hello allowance (only to an address we spoke to first). */
  unverifiedHello?: number
  /** We wrote to it before we ever heard from it: only such an address gets the hello allowance. */
  spokeFirst?: boolean
  /** Hello allowance left in the current backoff step, and when that step began. */
  allowanceLeft?: number
  allowanceAt?: number
  /** Answers still due to requests we sent it (admitted outside its rate limit), and when we last asked. */
  solicited?: number
  solicitedAt?: number
  deliveredBytes: number
  penalty: number
  penaltyAt: number
  bannedUntil: number
  publicKey?: string
  /** It signed our nonce with `publicKey` at this address (src/mesh/nat/peer-keys.ts). */
  keyProven?: boolean
  /** What it told us of its own NAT (IAmBehind): a `symmetric` peer is reachable only by those it
   * contacted itself, so its address is never handed to anyone else. */
  nat?: NatKind
  /** Its router forwards the address we know it by to it (IAmBehind.mapped, a port mapping):
   * reachable by anyone, like a node without a NAT (src/mesh/nat/reachability.ts). */
  mapped?: boolean
  /** Its LAN address, as it told us (IAmBehind.local): where peers behind its router reach it. */
  local?: string
  /** It sees us at our own socket address: no NAT between us, so it reaches us whenever it sends. */
  seesUsDirectly?: boolean
  /** It sent us a stream extension message: it is (probably) a cjp2p-stream node. */
  speaksStreams: boolean
  /** It takes a telemetry grant by the stream's tag alone (IAlsoSpeak: GRANT_BY_TAG). */
  grantsByTag?: boolean
  /** Its birthday punches say when they met (IAlsoSpeak: PUNCH_MET). */
  saysPunchMet?: boolean
  /** The largest datagram it said it takes (IAlsoSpeak), if it did. */
  maxDatagramBytes?: number
  /** Hellos sent while it had not answered (they back off). */
  hellos?: number
  /** We sent it our IAlsoSpeak. */
  toldCaps?: boolean
  tokens: number
  tokensAt: number
  /** Where it came from: a flag or file (kept), or hearsay (evictable). */
  origin: 'configured' | 'heard' | 'told'
  /** The cookie messages the node leads each datagram to it with, encoded once (node.ts); never
   * persisted or taken over by another address. */
  cookieText?: CookieText
  /** Its place in the order entries were added (eviction-candidates.ts breaks ties by it): a field,
   * not a WeakMap beside the table, whose entry per peer is an ephemeron each full collection
   * traces on its own (a simulated swarm holds up to 2,000 per node). */
  seq?: number
}

export class PeerTable {
  private peers = new Map<string, Peer>()
  private evictable = new EvictionCandidates(rank)
  /** The latest `bannedUntil` any entry was given here (a penalty, a load). An entry that takes
   * over another's ban (src/mesh/nat/peer-keys.ts) copies a value already counted. */
  private banEnd = 0
  private clock: Clock

  constructor(opts: { clock?: Clock; max?: number } = {}, private max = opts.max ?? MAX_PEERS) {
    this.clock = opts.clock ?? systemClock
  }

  get size(): number { return this.peers.size }
  get(addr: string): Peer | undefined { return this.peers.get(addr) }
  all(): Peer[] { return [...this.peers.values()] }

  /** Finds or creates the entry for an address, evicting the least useful one when full. */
  touch(addr: string, origin: Peer['origin']): Peer {
    let p = this.peers.get(addr)
    if (p) {
      if (origin === 'configured') p.origin = 'configured'
      return p
    }
    if (this.peers.size >= this.max) this.evict()
    const now = this.clock.now()
    p = {
      addr, verified: false, firstSeen: now, lastHeard: 0, lastContacted: 0, unverifiedRecv: 0, unverifiedSent: 0,
      deliveredBytes: 0, penalty: 0, penaltyAt: now, bannedUntil: 0, speaksStreams: false,
      tokens: RATE.unverified.burst, tokensAt: now, origin, seq: 0,
    }
    this.peers.set(addr, p)
    this.evictable.added(p)
    return p
  }

  private evict(): void {
    // Never a configured or banned peer (a ban must outlive a flood of new addresses); prefer
    // the unverified, then the longest silent (rank below).
    const worst = this.evictable.pick(this.peers, this.clock.now())
    if (worst) this.peers.delete(worst.addr)
    else this.peers.delete(this.peers.keys().next().value as string)
  }

  /** `p`'s rank may have dropped by a change made outside the table (fields taken over from the
   * same node at another address): the next eviction looks at every entry again. */
  rankMayHaveDropped(p: Peer): void { this.evictable.lowered(p) }

  /** We sent an address `n` requests: that many datagrams from it are answers, not a flood. */
  solicit(p: Peer, n: number): void {
    const now = this.clock.now()
    const live = p.solicitedAt !== undefined && now - p.solicitedAt < SOLICITED_TTL_MS ? p.solicited ?? 0 : 0
    p.solicited = Math.min(MAX_SOLICITED, live + n)
    p.solicitedAt = now
  }

  /** Token bucket per address: false means drop this datagram. Answers to our own requests are
   * counted against what we asked for instead (a sender cannot make us ask). */
  admit(p: Peer): boolean {
    const now = this.clock.now()
    if ((p.solicited ?? 0) > 0 && now - (p.solicitedAt ?? 0) < SOLICITED_TTL_MS) {
      p.solicited!--
      return true
    }
    const r = p.verified ? RATE.verified : RATE.unverified
    p.tokens = Math.min(r.burst, p.tokens + ((now - p.tokensAt) * r.perSecond) / 1000)
    p.tokensAt = now
    if (p.tokens < 1) return false
    p.tokens -= 1
    return true
  }

  /** Drops an entry (an address that turned out to be us). */
  forget(addr: string): void { this.peers.delete(addr) }

  isBanned(p: Peer): boolean { return p.bannedUntil > this.clock.now() }

  /** False when no entry can be banned now: lets a walk over many addresses (a swarm's holders)
   * skip a lookup per address on the usual table, which has banned nobody. */
  anyBanned(): boolean { return this.banEnd > this.clock.now() }

  /** Charges a peer for bad behaviour; returns true when this charge banned it. */
  penalise(p: Peer, reason: PenaltyReason): boolean {
    const now = this.clock.now()
    p.penalty = Math.max(0, p.penalty - (now - p.penaltyAt) * PENALTY_DECAY_PER_MS) + PENALTY[reason]
    p.penaltyAt = now
    this.evictable.lowered(p)
    // In whole points: five bad blocks in a second are 50 less a sixtieth of a point of fading, and
    // banned nobody; the sixth might never be asked of that peer (a CI flake of
    // test/mesh/blake3-download.test.ts). A point a minute still spares the occasional offender.
    if (Math.round(p.penalty) >= BAN_SCORE && !this.isBanned(p)) {
      p.bannedUntil = now + BAN_MS
      this.banEnd = Math.max(this.banEnd, p.bannedUntil)
      return true
    }
    return false
  }

  recordRtt(p: Peer, ms: number): void {
    if (!(ms >= 0 && ms < 60_000)) return
    p.rttMs = p.rttMs === undefined ? ms : p.rttMs * 0.8 + ms * 0.2
    this.evictable.lowered(p)
  }

  /** Peers heard from recently, not banned, best first (RTT, then delivery). */
  active(withinMs = 60_000): Peer[] {
    const since = this.clock.now() - withinMs
    return this.all().filter((p) => p.lastHeard >= since && !this.isBanned(p)).sort((a, b) => rank(b) - rank(a))
  }

  /** How many peers active() would list, without ranking them. */
  countActive(withinMs = 60_000): number {
    const since = this.clock.now() - withinMs
    let n = 0
    for (const p of this.peers.values()) if (p.lastHeard >= since && !this.isBanned(p)) n++
    return n
  }

  /** The first `n` entries `keep` accepts in the order `before` gives (true: `a` goes strictly
   * before `b`), ties in table order: what a stable sort of the accepted entries would start with,
   * by a partial selection in one pass. A probe picks its 16 from a table of up to 2,000 every
   * 10 s, and sorted every candidate to do it. */
  best(n: number, before: (a: Peer, b: Peer) => boolean, keep: (p: Peer) => boolean): Peer[] {
    const out: Peer[] = []
    if (n <= 0) return out
    for (const p of this.peers.values()) {
      if (!keep(p) || (out.length >= n && !before(p, out[n - 1]))) continue
      let i = out.length
      while (i > 0 && before(p, out[i - 1])) i--
      out.splice(i, 0, p)
      if (out.length > n) out.pop()
    }
    return out
  }

  /** Addresses worth handing to others: verified, recently heard, not banned; the best `n` in the
   * order of active(). A partial selection, not a sort of the table: a node with a thousand peers
   * answers each one's PleaseSendPeers every few seconds. */
  shareable(exclude: string, n: number): string[] {
    const since = this.clock.now() - 60_000
    const best: Peer[] = []
    const ranks: number[] = []
    for (const p of this.peers.values()) {
      if (!p.verified || p.addr === exclude || p.lastHeard < since || this.isBanned(p)) continue
      const r = rank(p)
      // Ties keep table order, as the stable sort in active() does.
      if (best.length >= n && r <= ranks[ranks.length - 1]) continue
      let i = best.length
      while (i > 0 && ranks[i - 1] < r) i--
      best.splice(i, 0, p)
      ranks.splice(i, 0, r)
      if (best.length > n) { best.pop(); ranks.pop() }
    }
    return best.map((p) => p.addr)
  }

  /** The entries worth keeping across a restart: proven, configured or banned ones. */
  persisted(): PeerRow[] {
    return this.all()
      .filter((p) => p.verified || p.origin === 'configured' || this.isBanned(p))
      .map((p) => ({
        addr: p.addr, publicKey: p.publicKey ?? null, rttMs: p.rttMs ?? null, lastHeard: p.lastHeard,
        penalty: p.penalty, penaltyAt: p.penaltyAt, bannedUntil: p.bannedUntil, origin: p.origin,
      }))
  }

  /** Takes back saved entries (as hearsay: a restart proves nothing), with their keys, scores and
   * bans; rows that are not what persisted() writes are skipped. Returns how many it took. They
   * start unheard (lastHeard 0), so the node greets them as it greets any address it was told. */
  restore(rows: readonly unknown[], isAddress: (a: unknown) => boolean): number {
    let n = 0
    for (const row of rows.slice(0, this.max) as Array<Partial<Record<keyof PeerRow, unknown>> | null>) {
      if (!row || !isAddress(row.addr)) continue
      const p = this.touch(row.addr as string, 'told')
      if (typeof row.rttMs === 'number') p.rttMs = row.rttMs
      if (typeof row.bannedUntil === 'number') { p.bannedUntil = row.bannedUntil; this.banEnd = Math.max(this.banEnd, p.bannedUntil) }
      if (typeof row.penalty === 'number') p.penalty = row.penalty
      if (typeof row.penaltyAt === 'number') p.penaltyAt = row.penaltyAt
      if (typeof row.publicKey === 'string' && /^[0-9a-f]{64}$/.test(row.publicKey)) p.publicKey = row.publicKey
      this.evictable.lowered(p)
      n++
    }
    return n
  }

  async save(file: string): Promise<void> {
    const rows = this.persisted().map((p) => ({ addr: p.addr, rttMs: p.rttMs ?? undefined, lastHeard: p.lastHeard, bannedUntil: p.bannedUntil || undefined, penalty: Math.round(p.penalty) || undefined }))
    const tmp = `${file}.tmp`
    await writeFile(tmp, JSON.stringify({ version: 1, peers: rows }, null, 1))
    await rename(tmp, file)
  }

  /** Loads a saved table; a missing or damaged file is an empty one (it is only a cache). */
  async load(file: string, isAddress: (a: unknown) => boolean): Promise<number> {
    let parsed: unknown
    try { parsed = JSON.parse(await readFile(file, 'utf8')) } catch { return 0 }
    const rows = (parsed as { peers?: unknown })?.peers
    return Array.isArray(rows) ? this.restore(rows, isAddress) : 0
  }
}

/** How much an entry is worth keeping (a full table evicts the lowest; eviction-candidates.ts). */
export function rank(p: Peer): number {
  // Verified and recently heard first; among those, low RTT and a record of delivering.
  return (p.verified ? 1e12 : 0) + p.lastHeard - (p.rttMs ?? 500) * 10 + Math.min(p.deliveredBytes / 1e6, 1000) * 100 - p.penalty * 1000
}
