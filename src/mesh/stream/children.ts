// Our children in each stripe: taking them (or pointing them elsewhere), hearing their children's
// complaints about them, expiring the silent ones, and pushing each verified chunk of a stripe to
// its children with its signed record.
import type { Ctx } from '../node.ts'
import type { Message, MessageOf } from '../messages.ts'
import { MAX_ROOM, STRIPES } from '../messages.ts'
import { CATCHUP_CHUNKS, CHILD_EXPIRY_MS, FAILED_RELAY_MS, FANOUT, MISSED_PUSH_MS, RETURN_MS, childRoom, decideChild, interiorStripe, stripeOf, takesPlace, type ChildDecision, type ParentState } from '../stream-policy.ts'
import type { ChunkRecord } from '../../store/stream-types.ts'
import { BLOCK_SIZE, CHUNK_SIZE } from '../../store/stream-types.ts'
import { MAX_HOLDERS, remember, type Holders } from './holders.ts'
import type { StripeParents } from './stripe-parents.ts'
import type { ChunkTracker } from './chunk-tracker.ts'
import type { SourceBudget } from './source-budget.ts'
import type { SwarmStats, UploadCause } from './swarm-stats.ts'
import type { SwarmContext } from './swarm-context.ts'
import { SentToReachable } from '../nat/reachability.ts'
import { chunkShareOfWire } from '../bandwidth/upload-pacer.ts'

export interface ChildrenComponents {
  context: SwarmContext; holders: Holders; parents: StripeParents; tracker: ChunkTracker; budget: SourceBudget; stats: SwarmStats
}

/** Orphans of one failed relay see it fail together (the same missed push, on their next tick):
 * how long after the first complaint another of them may still take the complainer's place
 * (orphanSwap). An orphan naming it later saw something else (its silence, or its own loss), and a
 * swap then only moves a working subtree (40 viewers, 3 % loss, seed 2: one such swap 1.4 s after
 * the complaint left 4 chunk deliveries late). */
const ORPHAN_SWAP_MS = MISSED_PUSH_MS

export class Children {
  private readonly c: SwarmContext
  private readonly k: ChildrenComponents
  private sets: Set<string>[] = Array.from({ length: STRIPES }, () => new Set())
  private seen = new Map<string, number>()
  /** `<stripe> <addr>` -> until when: children reported as feeding nothing, and complainers heard
   * (each bounded by MAX_HOLDERS); when a stripe last lost a child that way. */
  private failedChildren = new Map<string, number>()
  /** Viewers behind symmetric NATs the source sent to reachable viewers (src/mesh/nat/reachability.ts). */
  private sentToReachable = new SentToReachable()
  private complainers = new Map<string, number>()
  private failedChildAt: number[] = new Array(STRIPES).fill(-Infinity)
  /** Per stripe, the last complaint we acted on: the failed child, and the complainer we took in
   * its place (see orphanMayPushDown). */
  private replaced: Array<{ failed: string; by: string; at: number } | undefined> = new Array(STRIPES).fill(undefined)
  /** Subscriptions from addresses whose key proof is on its way (see onSubscribe). */
  private deferred = new Map<string, MessageOf<'PleaseKeepSendingMe'>>()
  /** Children that said they can carry none of their own (bounded: only current children). */
  private leaves = new Set<string>()
  /** Per stripe, the places each child said it and its subtree could still take (its last
   * subscription; see roomBelow); pruned to current children in expire(). */
  private rooms: Array<Map<string, { room: number; below: number }>> = Array.from({ length: STRIPES }, () => new Map())
  /** Per stripe, the children there that said they send us their audience (`reports`, their last
   * subscription in that stripe): see reporting(). */
  private reporters: Set<string>[] = Array.from({ length: STRIPES }, () => new Set())
  /** Until when expire() has nothing to do: no child was last seen before this less
   * CHILD_EXPIRY_MS, and every stripe's rooms were its children's, at its last walk. A child
   * taken in, one gone or moved since sends the next tick on a walk again (`expireDirty`). A
   * renewal only moves a child's time later, so it cannot bring an expiry sooner. */
  private quietUntil = -Infinity
  private expireDirty = true
  /** At the source: `<stripe> <addr>` -> until when a newcomer it pointed elsewhere counts as come
   * back (ChildRequest.returned); and when each stripe's top last changed that way. */
  private pointedAway = new Map<string, number>()
  private returnSwapAt: number[] = new Array(STRIPES).fill(-Infinity)
  /** At the source: addr -> until when it may not take a stripe's top by coming back again. Coming
   * back only means asking twice, which anyone can: without this one peer kept a stripe's top
   * relay evicted by asking twice every RETURN_MS. */
  private swappedIn = new Map<string, number>()
  /** `<stripe> <addr>` -> the newest chunk we knew when that child left us in the stripe: it had
   * every push until then, so a catch-up when it comes back starts there. A child that leaves and
   * subscribes again (`StopSendingMe` then `PleaseKeepSendingMe`) is new each time: without this
   * each round cost a fresh catch-up, 31 copies of the stream in 5 s from one child. */
  private caughtUpTo = new Map<string, number>()
  /** At the source, `<stripe> <addr>` -> the first chunk we sent that child there (its catch-up's
   * start): it holds the stripe from there on, but for losses, and can hand its successor the
   * catch-up when pushed down (handOverFrom). Only current children (leave). */
  private fedFrom = new Map<string, number>()
  /** At the source, `<stripe> <addr>` -> the catch-up we handed to the child it pushed down: sent
   * by us, once, if it asks for it again (its giver failed it). Only current children (leave). */
  private owed = new Map<string, { from: number; until: number }>()

  /** `maxUploadBps`: the upload this viewer gives (`--max-upload`), in bytes a second. */
  constructor(components: ChildrenComponents, private readonly init: { maxUploadBps?: number } = {}) {
    this.c = components.context
    this.k = components
  }

  /** Chunk bytes a second we may give: `--max-upload`'s, or what our uplink was measured to carry
   * (src/mesh/bandwidth/uplink-estimate.ts), whichever is less. Undefined: neither is known. A
   * viewer started without the flag on a weak link otherwise claimed an interior node's places,
   * and its children's pushes waited in its modem's queue (issue 12, measured capacity). */
  uploadBps(): number | undefined {
    const measured = this.measuredBps()
    const cap = this.init.maxUploadBps
    return measured === undefined ? cap : cap === undefined ? measured : Math.min(cap, measured)
  }

  /** What our uplink was measured to carry, in chunk bytes a second (undefined: never seen full). */
  private measuredBps(): number | undefined {
    const node = this.c.node
    const wire = node.uplink?.bytesPerSecond()
    return wire === undefined ? undefined : wire * chunkShareOfWire(node.sealer !== null)
  }

  /** Children our upload can carry: each child takes a stripe, a quarter of the stream's
   * rate, and a tenth is kept for repairs. Undefined: no cap. */
  capacity(): number | undefined {
    const cap = this.uploadBps()
    if (cap === undefined || this.c.isSource) return undefined
    const rate = streamBytesPerSecond(this.c.log, this.c.edge.maxKnown)
    if (rate === undefined) return 0
    return Math.floor((0.9 * cap) / (rate / STRIPES))
  }

  /** Upload a cap leaves for pulls once our children's pushes are paid (undefined: no cap). */
  spareBytesPerSecond(): number | undefined {
    const cap = this.uploadBps()
    if (cap === undefined || this.c.isSource) return undefined
    const rate = streamBytesPerSecond(this.c.log, this.c.edge.maxKnown) ?? 0
    let kids = 0
    for (const set of this.sets) kids += set.size
    return Math.max(0, 0.9 * cap - kids * (rate / STRIPES))
  }

  of(s: number): Set<string> { return this.sets[s] }

  /** The children whose audience telemetry climbs through us: each says so in its subscriptions in
   * the one stripe it reports up (StripeParents.reportStripe), and only while it is our child
   * there. A child that moved its reports elsewhere says so at once, with a subscription without
   * the word, and stops counting here then, not when its summary goes stale. */
  reporting(): Set<string> {
    const out = new Set<string>()
    for (let s = 0; s < STRIPES; s++) for (const a of this.reporters[s]) if (this.sets[s].has(a)) out.add(a)
    return out
  }

  /** Whether `a` is in reporting(), without building the set (a summary's arrival asks it). */
  reportsHere(a: string): boolean {
    for (let s = 0; s < STRIPES; s++) if (this.reporters[s].has(a) && this.sets[s].has(a)) return true
    return false
  }
  perStripe(): string[][] { return this.sets.map((s) => [...s]) }

  all(): Set<string> {
    const all = new Set<string>()
    for (const set of this.sets) for (const c of set) all.add(c)
    return all
  }

  /** A child moved to a new address (a NAT rebinding, proven by its key): it keeps its places, and
   * the next push goes to where it is now. */
  moved(from: string, to: string): void {
    for (const set of this.sets) if (set.delete(from)) set.add(to)
    this.expireDirty = true
    const seen = this.seen.get(from)
    if (seen !== undefined) { this.seen.delete(from); this.seen.set(to, seen) }
    // Kept only for current children, so they move with them: left under the old address they
    // would never be pruned, one pair per rebinding (and a leaf's mark too: expire() prunes only
    // children's). A moved leaf is still one, and a moved relay still hands its successor the
    // catch-up the source fed it (handOverFrom).
    for (let s = 0; s < STRIPES; s++) {
      rekey(this.fedFrom, `${s} ${from}`, `${s} ${to}`); rekey(this.owed, `${s} ${from}`, `${s} ${to}`); rekey(this.rooms[s], from, to)
      if (this.reporters[s].delete(from)) this.reporters[s].add(to)
    }
    if (this.leaves.delete(from)) this.leaves.add(to)
  }

  /** Answers the subscriptions held for a key proof once it came (or did not come in time). */
  answerDeferred(): void {
    const node = this.c.node
    for (const [addr, m] of this.deferred) {
      if (node.keyProofPending(addr)) continue
      this.deferred.delete(addr)
      const peer = node.peers.get(addr)
      if (peer?.verified) this.onSubscribe(m, { from: addr, peer, verified: true, reply: (r) => node.send(addr, [r]), room: () => Infinity, asksEcho: false, echo: () => {} })
    }
  }

  expire(now: number): void {
    // Runs every tick of every viewer: until the earliest child could expire, and with no child
    // taken in or gone since the last walk, a walk would change nothing.
    if (!this.expireDirty && now <= this.quietUntil) return
    let earliest = Infinity
    // Empty stripes (most of them) cost no iterator.
    for (let s = 0; s < STRIPES; s++) {
      const set = this.sets[s]
      if (set.size > 0) {
        for (const c of set) {
          const seen = this.seen.get(c) ?? 0
          if (now - seen > CHILD_EXPIRY_MS) { this.leave(s, c); this.seen.delete(c); this.leaves.delete(c) }
          else if (seen < earliest) earliest = seen
        }
      }
      const rooms = this.rooms[s]
      if (rooms.size > 0) for (const c of rooms.keys()) if (!set.has(c)) rooms.delete(c)
    }
    // What this walk left (leave() marked it dirty) is a state the next walk would not change.
    this.quietUntil = earliest + CHILD_EXPIRY_MS
    this.expireDirty = false
  }

  /** More children than our uplink was measured to carry (they came before it was): the ones
   * beyond it are sent on, spare stripes' first, the newest first, each to our children there
   * that said they have room and to holders it may ask. Kept, they would starve: every push to
   * them waits in our uplink's queue behind the others. Only a measured uplink sheds: a flag's
   * cap is kept at admission (decideChild), and the capacity it gives moves by a child as the
   * stream's rate is re-estimated, which must not send a child away. */
  shed(): void {
    const most = this.capacity()
    const measured = this.measuredBps()
    if (most === undefined || measured === undefined || (this.init.maxUploadBps ?? Infinity) < measured) return
    const node = this.c.node
    const own = interiorStripe(node.address)
    // Counted as decideChild counts them: a child behind a symmetric NAT is fed beside the places.
    const relays = (s: number) => [...this.sets[s]].filter((a) => takesPlace(node.peers.get(a)?.nat))
    let total = 0
    for (const s of this.sets.keys()) total += relays(s).length
    const order = [...this.sets.keys()].sort((a, b) => Number(a === own) - Number(b === own))
    for (const s of order) {
      for (const c of relays(s).reverse()) {
        if (total <= most) return
        const roomy = [...this.sets[s]].filter((a) => a !== c && (this.rooms[s].get(a)?.room ?? 0) > 0)
        const peers = [...roomy, ...this.k.holders.list(c, 8)].filter((a) => a !== c).slice(0, 8)
        this.leave(s, c)
        total--
        node.send(c, [{ type: 'AskThemInstead', id: this.c.id, stripe: s, peers }])
      }
    }
  }

  /** Places we could still take in stripe `s` (`room`), and what our children there said of
   * theirs and their subtrees' (`below`): told to our parent with each subscription, so that its
   * redirects lead a newcomer down to a place in a hop or two (SplitStream's spare-capacity group,
   * carried by the tree itself). */
  roomIn(s: number): { room: number; below: number } {
    const now = this.c.node.timers.now()
    let below = 0
    for (const [c, r] of this.rooms[s]) if (this.sets[s].has(c)) below += r.room + r.below
    return { room: childRoom(this.parentState(now), s), below: Math.min(below, MAX_ROOM) }
  }

  /** What decideChild and childRoom judge us by, now. */
  private parentState(now: number, s?: number): ParentState {
    const node = this.c.node
    return {
      isSource: this.c.isSource, self: node.address, children: this.sets,
      receiving: (i) => this.k.parents.receiving(i, now),
      pushDown: (i) => now - this.failedChildAt[i] >= FAILED_RELAY_MS,
      maxChildren: this.capacity(), leaves: this.leaves,
      // Behind a symmetric NAT only a peer with no NAT between us (our LAN) can always reach us.
      unreachable: node.nat.kind === 'symmetric',
      natOf: (a) => node.peers.get(a)?.nat, lanMates: node.lanMates, sources: this.c.sourceAddrs, reachedBy: node.punchedWith,
      ...(s !== undefined ? { roomOf: (a: string) => this.rooms[s].get(a) } : {}),
    }
  }

  onSubscribe(m: MessageOf<'PleaseKeepSendingMe'>, ctx: Ctx): void {
    // Pushing a stream to an unproven address would be the worst amplification there is.
    if (!ctx.verified) return
    const { node, isSource, id } = this.c
    // Maybe one of our children whose NAT moved it: a refusal now would make it leave us. Its key
    // proof is one round trip away; the answer waits for it (answerDeferred).
    if (node.keyProofPending(ctx.from)) {
      if (this.deferred.size < MAX_HOLDERS || this.deferred.has(ctx.from)) this.deferred.set(ctx.from, m)
      return
    }
    const s = m.stripe
    const now = node.timers.now()
    if (m.failed && this.onComplaint(s, m.failed, ctx.from, now)) this.replaced[s] = { failed: m.failed, by: ctx.from, at: now }
    const ancestors = this.k.parents.ancestors(s)
    if (ancestors.includes(ctx.from)) {
      // Our own ancestor, re-parented (pushed down) with us still in its subtree: under us it would
      // feed itself. It has other candidates; this answer only moves it on to them.
      this.leave(s, ctx.from)
      ctx.reply({ type: 'AskThemInstead', id, stripe: s, peers: [] })
      return
    }
    const natOf = this.sentToReachable.natOf((a) => node.peers.get(a), ctx.from, s, now, node.punchedWith)
    const failedUntil = this.failedChildren.get(`${s} ${ctx.from}`)
    const d = failedUntil !== undefined && failedUntil > now
      // Its children said it fed them nothing: no place here in this stripe for a while.
      ? { accept: false as const, tryInstead: [...this.sets[s], ...this.k.holders.list(ctx.from, 8)].filter((a) => a !== ctx.from).slice(0, 8) }
      : this.orphanSwap(s, m, ctx.from, now)
      ?? decideChild({
        ...this.parentState(now, s),
        unreachable: node.nat.kind === 'symmetric' && node.peers.get(ctx.from)?.seesUsDirectly !== true,
        natOf,
      }, { from: ctx.from, stripe: s, leaf: m.leaf, returned: this.cameBack(s, ctx.from, now) }, this.k.holders.walk(ctx.from))
    if (d.accept) {
      const isNew = !this.sets[s].has(ctx.from)
      this.k.budget.childTaken()
      if (isNew) this.expireDirty = true
      this.sets[s].add(ctx.from)
      this.seen.set(ctx.from, now)
      if (m.leaf) this.leaves.add(ctx.from)
      else this.leaves.delete(ctx.from)
      if (m.reports) this.reporters[s].add(ctx.from)
      else this.reporters[s].delete(ctx.from)
      // No honest node has more than FANOUT places: a larger figure would put a liar first in every redirect.
      if (m.room !== undefined || m.below !== undefined) this.rooms[s].set(ctx.from, { room: Math.min(m.room ?? 0, FANOUT), below: m.below ?? 0 })
      else this.rooms[s].delete(ctx.from)
      // Our own parent in the stripe goes with the yes: the child's backup if we fail it; and our
      // whole path up, so that the child sees a loop through itself (StripeParents.onSubscribed).
      const via = this.k.parents.via(s)
      const key = `${s} ${ctx.from}`
      const top = this.c.edge.maxKnown
      const begin = this.catchUpStart(ctx.from, s, m.from)
      // The child pushed down holds the newcomer's catch-up from `handOver` on: it pushes it.
      const handOver = isNew && d.evict !== undefined ? this.handOverFrom(s, d.evict, begin, top) : undefined
      ctx.reply({ type: 'IWillKeepSendingYou', id, stripe: s, ...(via ? { via } : {}), ...(ancestors.length ? { path: ancestors } : {}), ...(handOver !== undefined ? { catchUpBy: d.evict } : {}) })
      if (d.evict) {
        // One swap per complaint: the orphans' push-down is spent.
        this.replaced[s] = undefined
        if (isSource && interiorStripe(d.evict) === s && !this.leaves.has(d.evict)) {
          this.returnSwapAt[s] = now
          remember(this.swappedIn, ctx.from, now + FAILED_RELAY_MS, now)
        }
        this.leave(s, d.evict)
        if (!this.all().has(d.evict)) this.leaves.delete(d.evict)
        // Handed a place, not sent back to the start: the newcomer (interior here, with room for
        // it), then our children that said they have room.
        const roomy = [...this.sets[s]].filter((a) => a !== ctx.from && a !== d.evict && (this.rooms[s].get(a)?.room ?? 0) > 0)
        node.send(d.evict, [{ type: 'AskThemInstead', id, stripe: s, peers: [ctx.from, ...roomy].slice(0, 4), ...(handOver !== undefined ? { handOver } : {}) }])
      }
      if (isNew) {
        // With `leave`'s line, who the source (or a relay) fed in which stripe and when: what its
        // copies beyond one went to (NAT-LAB.md, session 17).
        node.log.debug('child taken', { stream: id, stripe: s, child: ctx.from, nat: node.peers.get(ctx.from)?.nat, catchUpFrom: begin, top, ...(d.evict ? { evict: d.evict } : {}) })
        void this.catchUpChild(ctx.from, s, begin, handOver ?? top)
        if (isSource) this.fedFrom.set(key, begin)
        if (handOver !== undefined) this.owed.set(key, { from: handOver, until: top })
      } else {
        // A child we handed a catch-up to that asks from before its end still lacks it: the child
        // pushed down did not give it (gone, or lying). Sent once, whole (the child's own window has
        // moved on meanwhile): what we would have sent at once.
        const o = this.owed.get(key)
        if (o !== undefined && m.from < o.until) {
          this.owed.delete(key)
          void this.catchUpChild(ctx.from, s, o.from, o.until)
        }
      }
    } else {
      // A child told to ask elsewhere leaves us (stripe-parents.ts onRedirect): stop pushing to it.
      this.leave(s, ctx.from)
      if (isSource) {
        this.sentToReachable.note(ctx.from, s, d.tryInstead, natOf, now)
        remember(this.pointedAway, `${s} ${ctx.from}`, now + RETURN_MS, now)
      }
      // The newcomer asks the first of them next: one place fewer there until it says again, so a
      // crowd of joiners is spread over the places rather than all sent to the same one.
      const r = this.rooms[s].get(d.tryInstead[0])
      if (r !== undefined && this.sets[s].has(d.tryInstead[0])) { if (r.room > 0) r.room--; else if (r.below > 0) r.below-- }
      ctx.reply({ type: 'AskThemInstead', id, stripe: s, peers: d.tryInstead })
    }
  }

  /** At the source: `from` was pointed elsewhere in stripe `s` within RETURN_MS and asks again
   * (nobody below took it), and the stripe's top has not changed that way within RETURN_MS. */
  private cameBack(s: number, from: string, now: number): boolean {
    return this.c.isSource && (this.pointedAway.get(`${s} ${from}`) ?? -Infinity) > now && now - this.returnSwapAt[s] >= RETURN_MS &&
      (this.swappedIn.get(from) ?? -Infinity) <= now
  }

  /** Our own feed in stripe `s` stopped and we are finding another: our children there wait for
   * us (StripeParents.onSubscribed) instead of leaving us as they would a failed parent. */
  tellLate(s: number): void {
    const msg: Message = { type: 'IWillKeepSendingYou', id: this.c.id, stripe: s, late: true }
    for (const c of this.sets[s]) this.c.node.send(c, [msg])
  }

  onUnsubscribe(m: MessageOf<'StopSendingMe'>, ctx: Ctx): void {
    this.leave(m.stripe, ctx.from)
  }

  /** `addr` is no longer our child in stripe `s`; what it had from us is noted (caughtUpTo). */
  private leave(s: number, addr: string): void {
    this.reporters[s].delete(addr)
    if (!this.sets[s].delete(addr)) return
    this.c.node.log.debug('child left', { stream: this.c.id, stripe: s, child: addr })
    this.expireDirty = true
    const key = `${s} ${addr}`
    this.fedFrom.delete(key)
    this.owed.delete(key)
    // Bounded like the other per-peer maps: an entry forgotten costs one more catch-up, no more.
    this.caughtUpTo.delete(key)
    if (this.caughtUpTo.size >= MAX_HOLDERS) this.caughtUpTo.delete(this.caughtUpTo.keys().next().value as string)
    this.caughtUpTo.set(key, this.c.edge.maxKnown)
  }

  /** Pushes a newly verified chunk (its `bytes`, as they were verified: no disk trip) to this
   * stripe's children, with its signed record; `repaired`: one we pulled (see
   * ChunkTracker.takeForwarding). */
  push(n: number, rec: ChunkRecord, bytes: Buffer, repaired = false): void {
    const kids = [...this.sets[stripeOf(n)]]
    if (kids.length === 0) {
      // Nobody received this chunk from us: until someone does, only we can supply it.
      if (this.c.isSource) this.k.budget.noteUnpushed(n)
      return
    }
    // The same messages for every child: each is encoded once (messageJson).
    const msgs = this.chunkMessages(n, rec, bytes, this.k.tracker.hops(n), repaired)
    for (const c of kids) this.sendChunk(c, msgs, bytes.length, repaired ? 'repair-push' : 'push')
  }

  /** A grandchild says our child `failed` fed it nothing in stripe `s`. We cannot see whether a
   * child relays, its children can: the child loses its place (and may not have it back for
   * FAILED_RELAY_MS) and the complainer, asking in the same message, takes it. A child only has
   * children once it receives (decideChild), so an honest child fails them only when its own
   * parent fails it, and then it complains first. A liar framing honest children is heard once
   * per stripe per FAILED_RELAY_MS, takes the place, feeds nothing, and is reported in turn; the
   * framed child moves under it, as in a push-down. */
  private onComplaint(s: number, failed: string, from: string, now: number): boolean {
    if (failed === from || !this.sets[s].has(failed)) return false
    const key = `${s} ${from}`
    if ((this.complainers.get(key) ?? -Infinity) > now || (this.failedChildren.get(key) ?? -Infinity) > now) return false
    this.leave(s, failed)
    this.failedChildAt[s] = now
    remember(this.failedChildren, `${s} ${failed}`, now + FAILED_RELAY_MS, now)
    remember(this.complainers, key, now + FAILED_RELAY_MS, now)
    this.c.node.log.info('a child fed its children nothing; gave its place to one of them', { stream: this.c.id, stripe: s, child: failed, reportedBy: from })
    this.c.node.send(failed, [{ type: 'AskThemInstead', id: this.c.id, stripe: s, peers: [from] }])
    return true
  }

  /** Push-down stays off in a stripe for FAILED_RELAY_MS after a complaint (nobody gets a place by
   * claim alone), with one exception at the source: another orphan of the same failed relay,
   * interior in the stripe and naming that relay within ORPHAN_SWAP_MS, takes the place of the
   * complainer we took, once, if that one is a leaf there. All the failed relay's children
   * complain within about a round trip, and whichever came first got the place; a leaf as the
   * source's only child in a stripe takes no grandchildren there, so every interior orphan was
   * turned away and the whole stripe lived on pulls until the 30 s were over (200 viewers,
   * 20 %/min churn, seed 1: stripe 0 cut off from the source from 24 s on, its viewers pulling each
   * chunk from the source under its "asked five times" rule). Only at the source, whose one slot
   * per stripe is the one place a leaf shuts the stripe off; below it, the other orphans find room
   * under the grandparent's other children. */
  private orphanSwap(s: number, m: MessageOf<'PleaseKeepSendingMe'>, from: string, now: number): ChildDecision | undefined {
    const r = this.replaced[s]
    if (!this.c.isSource || r === undefined || m.failed !== r.failed || from === r.by || now - r.at >= ORPHAN_SWAP_MS) return undefined
    if (!this.sets[s].has(r.by) || m.leaf || interiorStripe(from) !== s || this.c.node.peers.get(from)?.nat === 'symmetric') return undefined
    if (interiorStripe(r.by) === s && !this.leaves.has(r.by)) return undefined
    return { accept: true, evict: r.by }
  }

  /** At the source: where the child `evicted`, pushed down in stripe `s` by a newcomer whose
   * catch-up would start at `begin`, can take that catch-up over (it holds what we sent it since
   * fedFrom), or undefined: we send it all. A leaf's uplink may not carry it; a child we took
   * after the newcomer's catch-up start holds only the later part (we send the earlier). Issue 12:
   * the join wave's interior newcomers pushing down the first joiner were half the source's
   * catch-ups, all of it chunks that joiner held (docs/SCHEDULER.md, "Session 10"). */
  private handOverFrom(s: number, evicted: string, begin: number, top: number): number | undefined {
    if (!this.c.isSource || this.leaves.has(evicted)) return undefined
    const fed = this.fedFrom.get(`${s} ${evicted}`)
    if (fed === undefined) return undefined
    const from = Math.max(begin, fed)
    return from < top ? from : undefined
  }

  /** Pushes our successor in stripe `s` its catch-up from `from` on (our parent pushed us down
   * under it and asked us to: AskThemInstead.handOver), as we would a new child of our own. */
  handOver(to: string, s: number, from: number): void {
    void this.catchUpChild(to, s, this.catchUpStart(to, s, from), this.c.edge.maxKnown)
  }

  /** Where a catch-up of stripe `stripe` to `to`, which asked from `from`, starts: at most the last
   * CATCHUP_CHUNKS, never before what it had from us when it last left us. A capped uplink sends
   * only the newest of them that half a second of its cap carries: a burst of a dozen chunks into
   * a weak uplink's queue dropped its own requests behind them (and the rest the child pulls from
   * holders). */
  private catchUpStart(to: string, stripe: number, from: number): number {
    const top = this.c.edge.maxKnown
    const cap = this.uploadBps()
    const most = cap === undefined || this.c.isSource ? CATCHUP_CHUNKS : Math.max(1, Math.floor((0.5 * cap) / CHUNK_SIZE)) * STRIPES
    return Math.max(from, top - Math.min(CATCHUP_CHUNKS, most), this.caughtUpTo.get(`${stripe} ${to}`) ?? 0)
  }

  /** A new child gets the chunks of its stripe from `begin` to `end` (catchUpStart), so a parent
   * switch leaves no hole. */
  private async catchUpChild(to: string, stripe: number, begin: number, end: number): Promise<void> {
    const log = this.c.log
    for (let n = begin; n < end; n++) {
      if (stripeOf(n) !== stripe || !log.hasChunk(n)) continue
      const rec = log.chunkRecord(n)
      if (!rec) continue
      let bytes: Buffer
      try { bytes = await log.read(n * CHUNK_SIZE, rec.length) } catch { continue /* evicted meanwhile */ }
      this.sendChunk(to, this.chunkMessages(n, rec, bytes, this.k.tracker.hops(n)), bytes.length, 'catchup')
      this.k.budget.pushed(n)
    }
  }

  /** A chunk as it is pushed: its signed record, then its blocks. */
  private chunkMessages(n: number, rec: ChunkRecord, bytes: Buffer, hops: number, repaired = false): Message[] {
    const msgs: Message[] = [{ type: 'HereAreChunkHashes', id: this.c.id, chunks: [rec] }]
    for (let off = 0; off < bytes.length; off += BLOCK_SIZE) {
      msgs.push({ type: 'Content', id: this.c.id, offset: n * CHUNK_SIZE + off, data: bytes.subarray(off, off + BLOCK_SIZE), hops, ...(repaired ? { repaired } : {}) })
    }
    return msgs
  }

  private sendChunk(to: string, msgs: Message[], length: number, cause: UploadCause): void {
    // Only live pushes go ahead under an upload limit: a catch-up or a repair must not hold back
    // what every child is waiting for (UploadPacer).
    const node = this.c.node
    const sent = cause === 'push' ? node.send(to, msgs, 'stream', this.c.role) : node.sendBehind(to, msgs, this.c.role)
    if (sent > 0) this.k.stats.uploaded(to, length, cause)
  }
}

/** The stream's rate, from the records of its last 32 chunks (undefined until two are known): the
 * chunks between the first and last record known, at the mean length of those known. Summed over
 * the records alone, a viewer missing chunks read a slower stream and took more children than its
 * cap carries (at two copies' upload, capacities of 8-80 children instead of 5), and the pushes
 * that overloaded it were what it went on missing. */
export function streamBytesPerSecond(log: { chunkRecord(n: number): { time: number; length: number } | null | undefined }, top: number): number | undefined {
  // The first and last record known (chunk number and signing time), without an object per record:
  // capacity() reads this on every subscription and room told.
  let firstN = -1, firstTime = 0, lastN = -1, lastTime = 0
  let bytes = 0
  let known = 0
  for (let n = Math.max(0, top - 32); n < top; n++) {
    const r = log.chunkRecord(n)
    if (!r) continue
    bytes += r.length
    known++
    if (firstN < 0) { firstN = n; firstTime = r.time }
    lastN = n
    lastTime = r.time
  }
  if (firstN < 0 || lastTime <= firstTime) return undefined
  return ((bytes / known) * (lastN - firstN) * 1000) / (lastTime - firstTime)
}

function rekey<V>(map: Map<string, V>, from: string, to: string): void {
  const v = map.get(from)
  if (v !== undefined) { map.delete(from); map.set(to, v) }
}
