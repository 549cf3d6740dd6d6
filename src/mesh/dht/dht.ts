// Distributed discovery over the cjp2p socket: a Kademlia-style DHT whose messages (WhoIsNear,
// TheseAreNear, WhoHas, TheyHave, IHave) ride in our message table and are skipped by classic peers.
//
// Who is where: a node sits at sha256 of its public key; a piece of content at sha256 of its id.
// Providers announce (IHave) to the nodes nearest their content's position, and refresh before the
// announcement expires; askers walk the id space iteratively (lookup.ts) and collect TheyHave.
// Trust: the routing table and the provider store take only addresses that echoed our cookie, so
// nothing can be announced or inserted in another address's name; answers to unproven addresses
// are trimmed to what the node's 2x rule leaves (ctx.room()), and an asker that has not proven its
// address yet pads its question, so the bytes that let a big answer come back are the asker's.
import type { CjNode, Ctx } from '../node.ts'
import { HELLO_ALLOWANCE_BYTES, HELLO_GIVE_UP_MS, UNVERIFIED_LIST_MAX } from '../node.ts'
import type { Message, MessageOf } from '../messages.ts'
import { MAX_NEAR_NODES, MAX_PROVIDERS_PER_REPLY, encodedSize } from '../messages.ts'
import type { Timer } from '../../util/timers.ts'
import { RoutingTable } from './routing-table.ts'
import { ProviderStore, PROVIDER_TTL_MS } from './provider-store.ts'
import type { AnnounceVerdict } from './provider-store.ts'
import { lookup } from './lookup.ts'
import type { Answer, Candidate, LookupResult } from './lookup.ts'
import { keyOf, nodeIdOf } from './node-id.ts'

/** Nearest nodes a lookup settles on, and how many hold each announcement (Kademlia's k). */
export const LOOKUP_WIDTH = 8
/** Queries in flight per lookup (Kademlia's alpha). */
export const LOOKUP_CONCURRENCY = 3
/** A query unanswered after this is a failure; the lookup moves on to the next candidate. */
export const QUERY_TIMEOUT_MS = 1000
/** Contacts in one answer: a lookup converges on LOOKUP_WIDTH, and every one more costs ~90 bytes. */
const ANSWER_NODES = 8
/** Providers refresh their announcements this often, well inside PROVIDER_TTL_MS. */
export const ANNOUNCE_EVERY_MS = PROVIDER_TTL_MS / 3
/** The table is refreshed (a lookup of our own id) this often, and sooner while it is nearly empty. */
const REFRESH_EVERY_MS = 5 * 60_000
const TICK_MS = 1000
/** The longest a question waits for the answer to the hello just sent to the same address. */
const HELLO_WAIT_MS = 1000
/** Lookups running at once from this node's own maintenance (announces, refreshes). */
const MAX_BACKGROUND_LOOKUPS = 2
/** Lookups asked for through findProviders at once: each holds up to `concurrency` queries. */
const MAX_FOREGROUND_LOOKUPS = 16

export interface DhtComponents { node: CjNode; key: { publicKeyHex: string } }
export interface DhtInit {
  width?: number
  concurrency?: number
  queryTimeoutMs?: number
  /** Contacts per host (IP) in the routing table; loopback is always exempt. */
  maxContactsPerHost?: number
}

export interface ProvidersFound extends LookupResult { elapsedMs: number }
/** The questions a lookup asks: each is answered with TheseAreNear for the lookup's target. */
export type DhtQuestion = MessageOf<'WhoIsNear'> | MessageOf<'WhoHas'> | MessageOf<'WhoHasNamed'>

interface Pending { waiters: Array<(a: Answer | null) => void>; timer?: Timer; providers: string[]; nodes: Candidate[]; again?: () => void }

export class Dht {
  readonly id: Buffer
  readonly key: string
  readonly table: RoutingTable
  readonly providers: ProviderStore
  readonly counters = { queries: 0, answers: 0, timeouts: 0, announcesSent: 0, announces: {} as Partial<Record<AnnounceVerdict | 'unverified', number>> }
  private node: CjNode
  private pending = new Map<string, Pending>()
  /** Ids we provide, and when each is next due to be announced. */
  private provided = new Map<string, number>()
  private tickTimer?: Timer
  private polls = new Set<Timer>()
  private refreshAt = 0
  private sparseRefreshes = 0
  private background = 0
  private foreground = 0
  private closed = false
  private readonly width: number
  private readonly concurrency: number
  private readonly timeoutMs: number

  constructor(c: DhtComponents, init: DhtInit = {}) {
    this.node = c.node
    this.key = c.key.publicKeyHex
    this.id = nodeIdOf(this.key)
    this.width = init.width ?? LOOKUP_WIDTH
    this.concurrency = init.concurrency ?? LOOKUP_CONCURRENCY
    this.timeoutMs = init.queryTimeoutMs ?? QUERY_TIMEOUT_MS
    this.table = new RoutingTable({ clock: c.node.timers, lastHeard: (a) => c.node.peers.get(a)?.lastHeard ?? 0 },
      { localId: this.id, maxPerHost: init.maxContactsPerHost })
    this.providers = new ProviderStore(c.node.timers)
    const node = this.node
    node.handle('WhoIsNear', (m, ctx) => this.onWhoIsNear(m, ctx))
    node.handle('WhoHas', (m, ctx) => this.onWhoHas(m, ctx))
    node.handle('TheseAreNear', (m, ctx) => this.onNear(m, ctx))
    node.handle('TheyHave', (m, ctx) => this.onTheyHave(m, ctx))
    node.handle('IHave', (m, ctx) => this.onIHave(m, ctx))
  }

  start(): void {
    if (this.tickTimer || this.closed) return
    this.tickTimer = this.node.timers.setInterval(() => this.tick(), TICK_MS)
  }

  /** Announces `id` now (once the table knows anyone) and every ANNOUNCE_EVERY_MS while provided. */
  provide(id: string): void {
    if (!this.provided.has(id)) this.provided.set(id, 0)
    if (!this.closed) this.tick()
  }

  unprovide(id: string): void { this.provided.delete(id) }

  /** Who provides `id`: an iterative lookup towards its position, ending early once `want` are known. */
  async findProviders(id: string, opts: { want?: number } = {}): Promise<ProvidersFound> {
    const started = this.node.timers.now()
    if (this.closed || this.foreground >= MAX_FOREGROUND_LOOKUPS) return { closest: [], providers: [], queries: 0, failures: 0, depth: 0, elapsedMs: 0 }
    this.foreground++
    try {
      const target = keyOf(id)
      const r = await lookup(target, this.seeds(target), (c) => this.query(c, { type: 'WhoHas', id, key: this.key }, target),
        { width: this.width, concurrency: this.concurrency, wantProviders: opts.want ?? 8 })
      const providers = r.providers.filter((a) => !this.node.isSelf(a))
      return { ...r, providers, elapsedMs: this.node.timers.now() - started }
    } finally { this.foreground-- }
  }

  /** The nodes nearest `target` that answered, nearest first. */
  findNodes(target: Uint8Array): Promise<LookupResult> {
    return this.walk(target, { type: 'WhoIsNear', id: Buffer.from(target).toString('hex'), key: this.key })
  }

  /** Where a lookup starts: the table's nearest, or, while it knows too few, the peers the node knows. */
  private seeds(target: Uint8Array): Candidate[] {
    const near: Candidate[] = this.table.closest(target, this.width).map((c) => ({ addr: c.addr, id: c.id }))
    if (near.length >= this.width) return near
    const peers = this.node.peers.all()
      .filter((p) => !this.node.peers.isBanned(p) && !this.node.isSelf(p.addr) && (p.origin === 'configured' || p.verified))
      // Peers known to speak our extension first: a classic peer never answers a DHT question.
      .sort((a, b) => Number(b.speaksStreams ?? false) - Number(a.speaksStreams ?? false))
      .map((p) => ({ addr: p.addr, id: null }))
    return [...near, ...peers.slice(0, 2 * this.width)]
  }

  /** A lookup towards `target` asking each node `q` (a question answered with TheseAreNear for
   * `target`, and whatever else its handler collects from the answers, as a name search does). */
  walk(target: Uint8Array, q: DhtQuestion): Promise<LookupResult> {
    return lookup(target, this.seeds(target), (c) => this.query(c, q, target), { width: this.width, concurrency: this.concurrency })
  }

  /** Whether a question about `targetHex` to `addr` awaits its answer (answers nobody asked for are dropped). */
  isAsking(addr: string, targetHex: string): boolean { return this.pending.has(`${addr} ${targetHex}`) }

  private query(c: Candidate, q: DhtQuestion, target: Uint8Array): Promise<Answer | null> {
    if (this.closed) return Promise.resolve(null)
    const tag = `${c.addr} ${Buffer.from(target).toString('hex')}`
    // Two lookups asking one node about one target share the question and its answer.
    const running = this.pending.get(tag)
    if (running) return new Promise((resolve) => running.waiters.push(resolve))
    this.counters.queries++
    const p: Pending = { waiters: [], providers: [], nodes: [], again: () => { this.node.send(c.addr, [q]) } }
    this.pending.set(tag, p)
    const answer = new Promise<Answer | null>((resolve) => p.waiters.push(resolve))
    void this.helloAnswered(c.addr).then(() => {
      if (this.pending.get(tag) !== p) return
      let peer = this.node.peers.get(c.addr)
      if (peer && !peer.verified && peer.lastHeard === 0 && peer.origin !== 'configured' && this.node.timers.now() - peer.firstSeen >= HELLO_GIVE_UP_MS) {
        // Hearsay the node gave up greeting (it never answered): a DHT answer just named it again,
        // so it gets one more hello's worth. Reflection stays bounded: only our own lookups send
        // these, at most MAX_LOOKUP_QUERIES each.
        this.node.peers.forget(c.addr)
        peer = undefined
      }
      // To an address that has never heard from us, the first datagram may carry the hello allowance:
      // filling it lets the answer (bounded at twice what we sent) carry a useful number of contacts.
      const fresh = !peer || (!peer.verified && peer.unverifiedSent === 0)
      const msg: Message = fresh ? { ...q, pad: '.'.repeat(Math.max(0, HELLO_ALLOWANCE_BYTES - 80 - encodedSize(q) - 10)) } : q
      p.timer = this.node.timers.setTimeout(() => {
        this.counters.timeouts++
        this.table.failed(c.addr)
        this.settle(tag, p, p.providers.length > 0 ? { nodes: p.nodes, providers: p.providers, id: null } : null)
      }, this.timeoutMs)
      this.node.send(c.addr, [msg])
    })
    return answer
  }

  /** Resolves once a hello we sent to `addr` has been answered (or after HELLO_WAIT_MS): a question
   * sent on its heels would find the hello allowance spent and never leave. */
  private helloAnswered(addr: string): Promise<void> {
    const waiting = () => {
      const peer = this.node.peers.get(addr)
      return !this.closed && peer !== undefined && !peer.verified && peer.lastHeard === 0 && peer.unverifiedSent > 0 &&
        this.node.timers.now() - peer.lastContacted < HELLO_WAIT_MS
    }
    if (!waiting()) return Promise.resolve()
    return new Promise((resolve) => {
      const check = () => {
        this.polls.delete(t)
        if (waiting()) { t = this.node.timers.setTimeout(check, 25); this.polls.add(t) } else resolve()
      }
      let t = this.node.timers.setTimeout(check, 25)
      this.polls.add(t)
    })
  }

  // ---- answering ----

  private onWhoIsNear(m: MessageOf<'WhoIsNear'>, ctx: Ctx): void {
    this.learn(m.key, ctx)
    this.answerNear(m.id, ctx)
  }

  private onWhoHas(m: MessageOf<'WhoHas'>, ctx: Ctx): void {
    this.learn(m.key, ctx)
    // The node's rule for lists to unproven addresses (a forged source learns little).
    const n = ctx.verified ? MAX_PROVIDERS_PER_REPLY : UNVERIFIED_LIST_MAX
    const peers = this.providers.get(m.id, n).filter((a) => a !== ctx.from)
    const me = this.provided.has(m.id)
    if (peers.length > 0 || me) {
      const have: Message = { type: 'TheyHave', id: m.id, peers, ...(me ? { me: true } : {}) }
      if (encodedSize(have) <= ctx.room()) ctx.reply(have)
    }
    this.answerNear(keyOf(m.id).toString('hex'), ctx)
  }

  /** TheseAreNear, with as many contacts as the reply budget holds (all of them to a proven peer). */
  answerNear(targetHex: string, ctx: Ctx): void {
    const target = Buffer.from(targetHex, 'hex')
    const nodes = this.table.closest(target, ANSWER_NODES + 1).filter((c) => c.addr !== ctx.from).slice(0, Math.min(ANSWER_NODES, MAX_NEAR_NODES))
      .map((c) => `${c.key}@${c.addr}`)
    const reply: MessageOf<'TheseAreNear'> = { type: 'TheseAreNear', id: targetHex, key: this.key, nodes }
    const room = ctx.room()
    if (encodedSize(reply) > room) reply.more = true
    while (reply.nodes.length > 0 && encodedSize(reply) > room) reply.nodes.pop()
    if (encodedSize(reply) <= room) ctx.reply(reply)
  }

  private onIHave(m: MessageOf<'IHave'>, ctx: Ctx): void {
    // An announcement names the sender's own address, so it must be the sender's: proven.
    const verdict = ctx.verified ? this.providers.add(m.id, ctx.from) : 'unverified'
    this.counters.announces[verdict] = (this.counters.announces[verdict] ?? 0) + 1
  }

  // ---- hearing answers ----

  private onNear(m: MessageOf<'TheseAreNear'>, ctx: Ctx): void {
    this.learn(m.key, ctx)
    const tag = `${ctx.from} ${m.id}`
    const p = this.pending.get(tag)
    if (!p) return
    for (const s of m.nodes) {
      const key = s.slice(0, 64)
      const addr = s.slice(65)
      if (key === this.key || this.node.isSelf(addr)) continue
      p.nodes.push({ addr, id: nodeIdOf(key) })
    }
    if (m.more && p.again) {
      const again = p.again
      p.again = undefined
      this.node.timers.clear(p.timer)
      p.timer = this.node.timers.setTimeout(() => this.settle(tag, p, { nodes: p.nodes, providers: p.providers, id: nodeIdOf(m.key) }), this.timeoutMs)
      again()
      return
    }
    this.counters.answers++
    // Our question was its last word from us: without an echo it would never take us as proven,
    // and could then neither answer us in full nor ask us anything (the 2x rule). The echo alone
    // is the node's bare cookie datagram, ~60 bytes (one, however many reasons the node has).
    if (ctx.asksEcho) ctx.echo()
    this.settle(tag, p, { nodes: p.nodes, providers: p.providers, id: nodeIdOf(m.key) })
  }

  private onTheyHave(m: MessageOf<'TheyHave'>, ctx: Ctx): void {
    const p = this.pending.get(`${ctx.from} ${keyOf(m.id).toString('hex')}`)
    if (!p) return
    for (const a of m.me ? [ctx.from, ...m.peers] : m.peers) {
      if (p.providers.length < MAX_PROVIDERS_PER_REPLY && !p.providers.includes(a)) p.providers.push(a)
    }
  }

  private settle(tag: string, p: Pending, answer: Answer | null): void {
    this.node.timers.clear(p.timer)
    if (this.pending.get(tag) === p) this.pending.delete(tag)
    for (const w of p.waiters) w(answer)
  }

  /** A proven address with a key goes in the table; an unproven one is only answered. */
  learn(key: string | undefined, ctx: Ctx): void {
    if (key && ctx.verified && key !== this.key) this.table.add(key, ctx.from)
  }

  // ---- maintenance ----

  private tick(): void {
    if (this.closed) return
    const now = this.node.timers.now()
    if (now >= this.refreshAt && this.background < MAX_BACKGROUND_LOOKUPS) {
      // Nearly empty: try again soon (the first hello may still be on its way), then less and less
      // often (a network of three nodes stays "nearly empty" for good); otherwise rarely.
      this.sparseRefreshes = this.table.size < this.width ? this.sparseRefreshes + 1 : 0
      this.refreshAt = now + (this.sparseRefreshes > 0 ? Math.min(REFRESH_EVERY_MS, 5 * TICK_MS * 2 ** (this.sparseRefreshes - 1)) : REFRESH_EVERY_MS)
      this.providers.sweep()
      void this.inBackground(() => this.findNodes(this.id))
    }
    if (this.table.size === 0) return
    for (const [id, due] of this.provided) {
      if (due > now || this.background >= MAX_BACKGROUND_LOOKUPS) continue
      this.provided.set(id, now + ANNOUNCE_EVERY_MS)
      void this.inBackground(() => this.announce(id))
    }
  }

  private async announce(id: string): Promise<LookupResult> {
    const r = await this.findNodes(keyOf(id))
    if (!this.provided.has(id)) return r
    for (const c of r.closest) { this.node.send(c.addr, [{ type: 'IHave', id }]); this.counters.announcesSent++ }
    // Nobody answered: try again at the next tick rather than in ten minutes.
    if (r.closest.length === 0) this.provided.set(id, 0)
    return r
  }

  private async inBackground(fn: () => Promise<unknown>): Promise<void> {
    this.background++
    try { await fn() } catch (err) { this.node.log.warn('dht maintenance failed', { err }) } finally { this.background-- }
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.node.timers.clear(this.tickTimer)
    for (const [tag, p] of this.pending) this.settle(tag, p, null)
    for (const t of this.polls) this.node.timers.clear(t)
    this.polls.clear()
  }
}
