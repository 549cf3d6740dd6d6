// Our parent in each stripe: finding one (ranked candidates, the cookie round trip, redirects),
// keeping it (resubscribing), and dropping it when it stops feeding us, then asking its own parent
// to take us in its place. Each stripe is in one declared state at a time (see StripeState).
import type { Ctx } from '../node.ts'
import type { Message, MessageOf } from '../messages.ts'
import { MAX_PATH, STRIPES } from '../messages.ts'
import {
  CATCHUP_CHUNKS, FAILED_RELAY_MS, FIRST_PUSH_MS, JOIN_ANSWER_MS, PARENT_TIMEOUT_MS, RESUBSCRIBE_MS,
  PUSH_RECORD, isReceiving, joinAnswerMs, lateParentFails, paced, pushOverdue, rankParents, stripeOf,
} from '../stream-policy.ts'
import { MAX_HOLDERS, remember, type Holders } from './holders.ts'
import { FAR_AHEAD_CHUNKS, type SwarmContext } from './swarm-context.ts'
import { reachableFirst } from '../nat/reachable-first.ts'

/** A parent quiet this long hears from us again before we give up on it (PARENT_TIMEOUT_MS): if
 * our NAT moved us, it is pushing into a dead mapping, and only our writing shows it where we are
 * (with our key proof, src/mesh/nat/peer-keys.ts). */
const QUIET_RESUBSCRIBE_MS = 600
/** A relay dropped as parent for silence is tried last among candidates for this long. */
const DROPPED_PARENT_MS = 10_000
/** A stripe parent silent this long is asked for repairs last (a segment's chunks arrive within
 * a burst, so over a second of silence mid-stream means trouble upstream). */
export const QUIET_PARENT_MS = 1200
/** A parent that said its own feed is late (`late`) is not left for lateness for this long (the
 * move of the failed relay's children under a new parent, and its catch-up, take a few round
 * trips), and only if it pushed PUSHES_PER_HOLD new chunks (about a second of its stripe) since the
 * last such wait: a parent that says "late" again and again cannot keep its children on a trickle.
 * Nor for its silence: that counts from its word, not from its last push (see onSubscribed). */
const HOLD_MS = 1000
const PUSHES_PER_HOLD = STRIPES
/** Our feed in a stripe is this late before we tell our children: a stripe a few hops deeper than
 * the others is late by that much all the time, and says nothing. Well inside MISSED_PUSH_MS, so
 * the word reaches them before they would leave us. */
const TELL_LATE_MS = 150
/** A catch-up handed over (the source pushed a child down under us and that child pushes us our
 * catch-up: Children.handOverFrom) that has not brought half of what we lacked after this long, or
 * three round trips to our parent, is asked of the parent again, which then sends it. The giver
 * may first need the cookie round trip with us (two one-way delays and a tick after our yes);
 * it tries to give it for as long. */
const HAND_OVER_MS = 300
/** Joins in a row that ran out of candidates with nobody taking us before the parents that failed
 * us are asked again, last (see rankedCandidates). */
const LAST_RESORT_AFTER = 2

/**
 * - `idle`: no parent and nobody asked (between candidates, or none left until the next tick).
 * - `hello`: a candidate we never talked to is finishing the cookie round trip (peers only take
 *   children they have verified); we subscribe once it is verified.
 * - `asked`: we asked a candidate to take us and wait for its yes or its redirect.
 * - `subscribed`: a parent pushes this stripe to us.
 * - `silent`: a parent that owes us pushes the other stripes already brought; dropped if it stays so.
 */
export type StripeState = 'idle' | 'hello' | 'asked' | 'subscribed' | 'silent'

/** A stripe we are looking for a parent in. `failed`: the parent that stopped feeding us, named in
 * every ask so that its own parent drops it. */
interface Join { candidates: string[]; asked?: string; askedAt: number; tried: Set<string>; hello?: boolean; failed?: string }

interface Stripe {
  parent?: string
  /** When the parent last pushed to us, and the newest chunk it pushed (from where we stood when
   * it took us). */
  pushAt: number
  pushedN: number
  /** Since when the parent owes us a push, and two (undefined: it does not; both cleared while we
   * wait for it, see heldUntil). */
  overdueSince?: number
  owesTwoSince?: number
  /** For each of the last PUSH_RECORD chunks of the stripe the parent owed us, oldest first,
   * whether it skipped it (lateParentFails). */
  record: boolean[]
  /** When the parent took us, and whether it has pushed anything since. */
  since: number
  fed: boolean
  /** The parent's own parent in this stripe: where to go (and complain) if it fails us. */
  via?: string
  /** Until when we wait for a parent that said its own feed is late (IWillKeepSendingYou.late),
   * and the new chunks it pushed since the last wait (HOLD_MS, PUSHES_PER_HOLD). */
  heldUntil: number
  pushesSinceHold: number
  /** When the parent last said so with a wait granted: its silence counts from then (see keep()). */
  lateAt: number
  /** Our children in this stripe were told our feed is late, in this episode. */
  toldLate: boolean
  /** The parent's ancestors in this stripe, nearest first, as it last told us: with the parent,
   * ours, which a child of ours must not be (see ancestors()). */
  path: string[]
  subscribedAt: number
  join?: Join
  /** Joins since our last parent here that ran out of candidates (LAST_RESORT_AFTER). */
  fruitless: number
  /** Our parent's yes said `by` pushes us our catch-up (IWillKeepSendingYou.catchUpBy): since
   * when; the chunks of the stripe we lacked then, still to come; of those, how many `by` gave us
   * (verified), and how many were its to give (`lacked`: all, less those that came from anyone
   * else, such as the part of the catch-up our parent sends itself: see `verified`). */
  handedBy?: { by: string; at: number; lacking: Set<number>; lacked: number; came: number }
}

export class StripeParents {
  private readonly c: SwarmContext
  private readonly holders: Holders
  private readonly bootstrap: string[]
  private readonly leaf: () => boolean
  /** Our children in a stripe (Children.of(s).size). */
  private readonly carries: (s: number) => number
  private readonly room: (s: number) => { room: number; below: number }
  private stripes: Stripe[] = Array.from({ length: STRIPES }, () => ({ pushAt: 0, pushedN: -1, since: 0, record: [], fed: false, subscribedAt: 0, heldUntil: -Infinity, pushesSinceHold: 0, lateAt: -Infinity, toldLate: false, path: [], fruitless: 0 }))
  /** Parents that fed us nothing while the other stripes flowed, until when: never asked again
   * meanwhile (a squatter says yes to everyone; ranking it last is not enough). */
  private failedParents = new Map<string, number>()
  /** Parents dropped for silence, and when (pruned past MAX_HOLDERS entries). */
  private droppedAt = new Map<string, number>()
  /** Per stripe, the catch-up our parent asked us to push our successor when it pushed us down
   * (AskThemInstead.handOver), until we have its address proven or HAND_OVER_MS passed. */
  private handOvers: Array<{ to: string; from: number; until: number } | undefined> = new Array(STRIPES).fill(undefined)
  /** Pushes a catch-up of a stripe to a peer (Children.handOver). */
  private readonly giveCatchUp: (to: string, s: number, from: number) => void

  /** The stripe our audience telemetry climbs, as our parents were last told (reportStripe()),
   * and whether each stripe's parent was last told that it climbs there (`reports`). */
  private reportsVia: number | undefined
  private toldReports: boolean[] = new Array(STRIPES).fill(false)

  /** Tells our children in a stripe that our feed there stopped (see `late` below). */
  private readonly tellLate: (s: number) => void

  /** `leaf`: whether we can carry too few children to be an interior node (said in every ask).
   * `tellLate`: tells our children in a stripe that our own feed there is late and we are finding
   * another, so that they wait for us rather than all leave at once (Children.tellLate).
   * `room`: the places we and our subtree could still take in a stripe, told with every ask
   * (Children.roomIn). */
  constructor(components: { context: SwarmContext; holders: Holders }, init: { bootstrap: string[]; leaf?: () => boolean; carries?: (s: number) => number; tellLate?: (s: number) => void; room?: (s: number) => { room: number; below: number }; giveCatchUp?: (to: string, s: number, from: number) => void }) {
    this.c = components.context
    this.holders = components.holders
    this.bootstrap = init.bootstrap
    this.leaf = init.leaf ?? (() => false)
    this.carries = init.carries ?? (() => 0)
    this.room = init.room ?? (() => ({ room: 0, below: 0 }))
    this.tellLate = init.tellLate ?? (() => {})
    this.giveCatchUp = init.giveCatchUp ?? (() => {})
  }

  /** Each stripe's state when last logged: a change is logged at debug as `prev -> next`. */
  private logged: StripeState[] = new Array(STRIPES).fill('idle')

  /** Logs the stripes whose state changed since the last call (after each message and tick that
   * may move one; the state itself is derived from the parent and join fields, see state()). */
  logTransitions(): void {
    for (let s = 0; s < STRIPES; s++) {
      const next = this.state(s)
      if (next === this.logged[s]) continue
      this.c.node.log.debug('stripe state', { stream: this.c.id, stripe: s, from: this.logged[s], to: next, parent: this.stripes[s].parent ?? this.stripes[s].join?.asked })
      this.logged[s] = next
    }
  }

  state(s: number): StripeState {
    const st = this.stripes[s]
    if (st.parent !== undefined) return st.overdueSince === undefined ? 'subscribed' : 'silent'
    if (st.join?.asked === undefined) return 'idle'
    return st.join.hello ? 'hello' : 'asked'
  }

  parent(s: number): string | undefined { return this.stripes[s].parent }

  /** Our depth in stripe `s` (1: the source feeds us), from the path our parent last told us;
   * unknown (Infinity) without a parent, or under a relay that told none. */
  depth(s: number): number {
    const st = this.stripes[s]
    if (st.parent === undefined) return Infinity
    if (this.c.sourceAddrs.has(st.parent)) return 1
    return st.path.length > 0 ? st.path.length + 1 : Infinity
  }

  /** The stripe whose tree our audience telemetry climbs: the one where we sit highest (the lowest
   * stripe of those as high). Our parent there sits higher in its own best stripe than we do in
   * ours, so the reports' edges lead strictly upwards and close no loop; each viewer reports to one
   * parent, so none is counted twice. One fixed stripe's tree (stripe 0, until session 22) was
   * 14-17 levels deep at 1,000 viewers (mean 6.9), its counts a second or two a hop near the top,
   * and all of them went through the source's one child there; the reports' own tree is 6-7 deep
   * there (mean 4.2), and the source's children in the four stripes share its top. */
  reportStripe(): number | undefined {
    let best: number | undefined
    let bestDepth = Infinity
    for (let s = 0; s < STRIPES; s++) {
      const d = this.depth(s)
      if (d < bestDepth) { best = s; bestDepth = d }
    }
    return best
  }

  /** Our parent in the stripe our audience telemetry climbs (reportStripe()). */
  reportParent(): string | undefined {
    const s = this.reportStripe()
    return s === undefined ? undefined : this.stripes[s].parent
  }

  /** Tells the parents concerned at once when our reports move to another stripe: the old one
   * stops counting us (Children.reporting) before our summary reaches the new one, and the new one
   * takes it. Not a parent still handing our catch-up over (AskThemInstead.handOver): a second
   * subscription within a round trip of its yes is, to a source that handed our catch-up to
   * another, an ask for it again (test/mesh/catch-up-hand-over.test.ts); it hears with our
   * keepalive, RESUBSCRIBE_MS after the yes. */
  private moveReports(): void {
    const via = this.reportStripe()
    if (via === this.reportsVia) return
    this.reportsVia = via
    for (let s = 0; s < STRIPES; s++) {
      const st = this.stripes[s]
      if (st.parent === undefined || this.toldReports[s] === (s === via) || (s === via && st.handedBy !== undefined)) continue
      this.c.node.send(st.parent, [this.keepalive(s)])
    }
  }

  /** The subscription that keeps a parent we have: from our edge on, what we can carry, and whether
   * our reports climb there. */
  private keepalive(s: number): Message {
    return { type: 'PleaseKeepSendingMe', id: this.c.id, stripe: s, from: this.c.edge.maxKnown, ...this.capacityTold(s) }
  }

  /** Whether a chunk of stripe `s` that `senders` brought came down the stripe: from our parent, or
   * from the child it pushed down for us handing us our catch-up (it goes on to our children as a
   * push, as the parent's own catch-up would: children that came to us before it did lack it). */
  cameDown(s: number, senders: string[]): boolean {
    const st = this.stripes[s]
    return (st.parent !== undefined && senders.includes(st.parent)) || (st.handedBy !== undefined && senders.includes(st.handedBy.by))
  }

  all(): (string | undefined)[] { return this.stripes.map((st) => st.parent) }

  /** Whether stripe `i` is flowing to us (a parent that pushed recently): a node takes children only then. */
  receiving(i: number, now: number): boolean {
    const st = this.stripes[i]
    return isReceiving(st.parent !== undefined, st.pushAt, now, this.c.pace.stripeMs())
  }

  /** Our parent in stripe `s`, told to a new child as its backup (never at the source). */
  via(s: number): string | undefined {
    return this.c.isSource ? undefined : this.stripes[s].parent
  }

  /** Our ancestors in stripe `s`, nearest first (none at the source or without a parent), told to
   * each child with its yes. A relay re-parented by a push-down keeps its subtree, so a node of
   * that subtree it is redirected to would close a loop that no chunk enters: such a node refuses
   * it (Children.onSubscribe), and a node that finds itself in its parent's path leaves it. */
  ancestors(s: number): string[] {
    const st = this.stripes[s]
    if (this.c.isSource || st.parent === undefined) return []
    return [st.parent, ...st.path].slice(0, MAX_PATH)
  }

  /** Parents still pushing (none quiet for QUIET_PARENT_MS behind the freshest). */
  flowing(): string[] {
    const freshest = this.freshestPush()
    const quietMs = this.quietParentMs()
    return this.stripes.filter((st) => st.parent !== undefined && freshest - st.pushAt < quietMs).map((st) => st.parent as string)
  }

  /** Stripe `s`'s parent is quiet while the others push. Quiet means quiet while the other
   * stripes flow: when the whole stream pauses (or ended), every parent is silent and none is. */
  quiet(s: number, now: number): boolean {
    const at = this.stripes[s].pushAt
    const quietMs = this.quietParentMs()
    return this.freshestPush() - at > quietMs && now - at > quietMs
  }

  /** QUIET_PARENT_MS on this stream's pace: the stripes' pushes are a stripe period apart at most. */
  private quietParentMs(): number { return paced(QUIET_PARENT_MS, 1, this.c.pace.stripeMs()) }

  private freshestPush(): number { return Math.max(...this.stripes.map((st) => st.pushAt)) }

  /** A parent (or its own parent, or a candidate) moved to a new address (a NAT rebinding, proven
   * by its key): it is the same parent, so nothing is dropped or rejoined. */
  moved(from: string, to: string): void {
    for (const st of this.stripes) {
      if (st.parent === from) st.parent = to
      if (st.via === from) st.via = to
      st.path = st.path.map((a) => (a === from ? to : a))
      const j = st.join
      if (j) {
        if (j.asked === from) j.asked = to
        j.candidates = j.candidates.map((a) => (a === from ? to : a))
      }
    }
  }

  hasFailedUs(addr: string, now: number): boolean {
    return (this.failedParents.get(addr) ?? -Infinity) > now
  }

  /** A chunk arrived from `from`: if that is stripe `s`'s parent, it is feeding us. */
  onPush(s: number, from: string, n: number, now: number): void {
    const st = this.stripes[s]
    if (st.parent !== from) return
    // A chunk number far past any our parent could have (an offset near 2^53 once filled the
    // record with ~1e11 skipped chunks, and set pushedN past every real chunk, so the parent's
    // silence could never be noticed again) is no push: the receiver drops its bytes too.
    if (n > Math.max(st.pushedN, this.c.edge.maxKnown) + FAR_AHEAD_CHUNKS) return
    st.pushAt = now
    if (n > st.pushedN) {
      st.pushesSinceHold++
      // The chunks of the stripe it skipped to get here (none for its first: pushedN was where we
      // stood when it took us, in any stripe), then this one.
      // At most a record's worth: older entries would be cut off below anyway.
      const skipped = st.fed ? Math.min(PUSH_RECORD, Math.max(0, Math.ceil((n - st.pushedN) / STRIPES) - 1)) : 0
      for (let k = 0; k < skipped; k++) st.record.push(true)
      st.record.push(false)
      if (st.record.length > PUSH_RECORD) st.record.splice(0, st.record.length - PUSH_RECORD)
    }
    st.pushedN = Math.max(st.pushedN, n)
    st.fed = true
    st.toldLate = false
  }

  /** Chunk `n` of stripe `s`, from `senders`, verified and stored. A catch-up handed over is judged
   * by verified chunks alone: counted as its blocks arrived, a giver sending one block of each
   * chunk (or garbage) looked like one that gave it all, and the source was not asked again. A
   * chunk it was to give that came from elsewhere (our parent sends the part of the catch-up from
   * before the giver's start itself, and pulls fill holes) is not its to give any more. */
  verified(s: number, n: number, senders: string[]): void {
    const h = this.stripes[s].handedBy
    if (h === undefined || !h.lacking.delete(n)) return
    if (senders.includes(h.by)) h.came++
    else h.lacked--
  }

  /** A repair our parent forwarded: it is not late with chunk `n` (so not failing us), but it is no
   * sign that its stripe flows either (see ChunkReceiver.onContent): its silence still counts. */
  onRepaired(s: number, from: string, n: number): void {
    const st = this.stripes[s]
    if (st.parent === from) st.pushedN = Math.max(st.pushedN, n)
  }

  onSubscribed(m: MessageOf<'IWillKeepSendingYou'>, ctx: Ctx): void {
    if (this.c.isSource) return
    const node = this.c.node
    const st = this.stripes[m.stripe]
    if (m.late) {
      // Our parent's own feed stopped and it is finding another: wait for it (bounded, see
      // PUSHES_PER_HOLD) instead of leaving it, as every node below a failure would at once.
      if (st.parent !== ctx.from) return
      const now = node.timers.now()
      // Its silence counts from its word, and the wait lasts as long (at least HOLD_MS): the word
      // is its own silence timer running, and ours, counted from the same last push, ran out with
      // it. When the source's only stripe-0 child was killed, its children left it for silence
      // 2.8 s after its last push (500 kb/s), and every node below, as silent as long, left its
      // own parent in the same 100 ms: 143 of 160 viewers without a stripe-0 parent, re-formed 17
      // deep, and 10 s later the source counted 23-106 of 160 (simulator, 200 viewers, seed 2;
      // 125-146 at 4 of 7 seeds on main with that child among the 20 % killed). Waited for, the
      // failed relay's children alone moved: 22-34 without a parent at the worst, the count whole
      // again at all of seeds 1-4. A liar's gain: one silence of a parent timeout per
      // PUSHES_PER_HOLD pushes, where it had none.
      if (this.hold(st, now, Math.max(HOLD_MS, paced(PARENT_TIMEOUT_MS, 2, this.c.pace.stripeMs())))) st.lateAt = now
      // And our feed is late as much as theirs: the word goes on down now, not on our next tick.
      // Passed on a level per tick, it reached a node three hops down after that node's own
      // MISSED_PUSH_MS, which left its parent for a hole above it. Once per push we receive, so a
      // parent saying "late" again and again makes us say it no more often than it does.
      this.tellOnce(m.stripe)
      return
    }
    const j = st.join
    const via = m.via !== node.address && m.via !== ctx.from ? m.via : undefined
    const path = m.path ?? (m.via ? [m.via] : [])
    if (path.some((a) => a === node.address || node.isSelf(a))) {
      // We are our parent's ancestor: this stripe would flow in a circle with no source in it.
      node.log.debug('stripe parent is below us', { stream: this.c.id, stripe: m.stripe, parent: ctx.from })
      if (st.parent === ctx.from) this.dropParent(m.stripe, ctx.from, node.timers.now(), false)
      else node.send(ctx.from, [{ type: 'StopSendingMe', id: this.c.id, stripe: m.stripe }])
      if (j && j.asked === ctx.from) { j.asked = undefined; this.advanceJoin(m.stripe) }
      return
    }
    if (st.parent === ctx.from) { st.subscribedAt = node.timers.now(); st.via = via; st.path = path; return }
    if (!j || j.asked !== ctx.from) {
      // An offer we did not ask for (or no longer want): decline it so the sender does not push in vain.
      node.send(ctx.from, [{ type: 'StopSendingMe', id: this.c.id, stripe: m.stripe }])
      return
    }
    // Judged from where we stand now: it owes us the pushes that come after.
    const pushedN = Math.max(...this.stripes.map((x) => x.pushedN), this.c.edge.maxKnown - 1)
    const now = node.timers.now()
    const lacking = m.catchUpBy !== undefined && m.catchUpBy !== node.address ? this.lacking(m.stripe) : undefined
    const handedBy = lacking && { by: m.catchUpBy as string, at: now, lacking, lacked: lacking.size, came: 0 }
    Object.assign(st, { parent: ctx.from, pushAt: now, subscribedAt: now, overdueSince: undefined, owesTwoSince: undefined, record: [], since: now, fed: false, via, path, pushedN, join: undefined, heldUntil: -Infinity, pushesSinceHold: 0, lateAt: -Infinity, fruitless: 0, handedBy })
    this.holders.note(ctx.from)
    node.log.debug('stripe parent', { stream: this.c.id, stripe: m.stripe, parent: ctx.from })
  }

  onRedirect(m: MessageOf<'AskThemInstead'>, ctx: Ctx): void {
    for (const p of m.peers) this.holders.note(p)
    const node = this.c.node
    const st = this.stripes[m.stripe]
    if (st.parent === ctx.from && !this.c.isSource) {
      // Pushed down: our parent gave our place to a node with more room; move under it. We hold
      // what it pushed us, so it may ask us to give the newcomer its catch-up (handOver). Only the
      // source asks that (handOverFrom): from any other parent it would aim our upload at a peer
      // of its choosing, so it is heard from the source alone.
      const now = node.timers.now()
      if (m.handOver !== undefined && this.c.sourceAddrs.has(ctx.from) && m.peers[0] !== undefined && m.peers[0] !== node.address) {
        this.handOvers[m.stripe] = { to: m.peers[0], from: m.handOver, until: now + this.handOverMs() }
        this.giveHandOver(m.stripe, now)
      }
      st.parent = undefined
      st.path = []
      st.handedBy = undefined
      this.tellOnce(m.stripe)
      st.join = { candidates: m.peers.filter((p) => p !== node.address), askedAt: 0, tried: new Set([ctx.from]) }
      this.advanceJoin(m.stripe)
      return
    }
    const j = st.join
    if (!j || j.asked !== ctx.from) return
    const now = node.timers.now()
    const dropped = (a: string) => this.recentlyDropped(a, now)
    // A redirect may point back at a parent that just failed us (the source lists its children
    // first): such peers go to the end, after everything else we know.
    const fresh = m.peers.filter((p) => !j.tried.has(p) && p !== node.address && !this.hasFailedUs(p, now))
    const rest = j.candidates.filter((c) => !fresh.includes(c))
    j.candidates = [...fresh.filter((a) => !dropped(a)), ...rest.filter((a) => !dropped(a)), ...fresh.filter(dropped), ...rest.filter(dropped)]
    j.asked = undefined
    this.advanceJoin(m.stripe)
  }

  /** Once per tick: drops parents that failed us, resubscribes the rest, and moves joins on. */
  keep(now: number): void {
    const node = this.c.node
    let frontier = -Infinity
    for (const st of this.stripes) frontier = Math.max(frontier, st.pushedN)
    const stripeMs = this.c.pace.stripeMs()
    this.moveReports()
    // Both terms paced: a parent silent between two of a slow stream's pushes heard from us every
    // 600 ms, some five subscriptions a silence at 250 kb/s.
    const quietResubscribeMs = paced(QUIET_RESUBSCRIBE_MS, 1, stripeMs)
    for (let s = 0; s < STRIPES; s++) {
      const st = this.stripes[s]
      const p = st.parent
      this.giveHandOver(s, now)
      if (p && st.handedBy !== undefined && now - st.handedBy.at > this.handOverMs()) {
        // The catch-up handed over did not come (its giver left, or lies): our parent sends it.
        const h = st.handedBy
        st.handedBy = undefined
        if (2 * h.came < h.lacked) node.send(p, [this.subscription(s)])
      }
      if (p) {
        const silent = now - Math.max(st.pushAt, st.lateAt) > paced(PARENT_TIMEOUT_MS, 2, stripeMs) && this.c.edge.maxKnown > 0
        const overdue = pushOverdue(st.pushedN, frontier)
        // The source late is the source's own pace or its uplink's queue: nobody can feed us its
        // stripe sooner (every other node has it from the source, later). Its lateness is waived
        // for HOLD_MS per PUSHES_PER_HOLD pushes, as a late word's is, so a peer that claims to be
        // the source gains no more than such a word gives any parent (its silence counts from its
        // last push, as ever). Only a relay: a leaf that moves takes nobody with it. Left for its
        // lateness, the source's only
        // stripe-0 child had no parent for 850 ms while the source's queue drained after 20 of 100
        // viewers were killed: every node below it fell silent and left its own parent in the same
        // tick, and 59 of 80 viewers had no stripe-0 parent when the source read its audience
        // (simulator, 2 Mb/s, seed 3, on the path a change to the telemetry's grants took;
        // test/mesh/stream/late-source.test.ts).
        if (overdue && this.c.sourceAddrs.has(p) && this.carries(s) > 0 && now >= st.heldUntil) this.hold(st, now, HOLD_MS)
        // Held: our parent said its own feed is late. Its lateness counts again once it is on time
        // (only its silence counts meanwhile).
        const held = now < st.heldUntil
        if (!overdue || held) st.overdueSince = undefined
        else st.overdueSince ??= now
        if (!pushOverdue(st.pushedN, frontier, 2) || held) st.owesTwoSince = undefined
        else st.owesTwoSince ??= now
        // Our feed is late: the nodes below us see it too, and would all leave their parents at
        // once (the whole subtree of a failed relay rejoining together formed cycles and took
        // seconds to re-form). Only the failed relay's own children should move.
        const late = held ? overdue : now - (st.overdueSince ?? now) >= TELL_LATE_MS
        if (late) this.tellOnce(s)
        // Late while the other stripes flow: it fed us nothing it owed (a squatter, or a relay whose
        // own parent failed it, which is then complaining upstream itself).
        const unfed = !st.fed && now - st.since > FIRST_PUSH_MS && this.catchUpFrom(s) < this.c.edge.maxKnown - STRIPES
        const lateFails = lateParentFails({ owedOneMs: now - (st.overdueSince ?? now), owedTwoMs: now - (st.owesTwoSince ?? now), recentMisses: countTrue(st.record) }, stripeMs)
        const failing = lateFails || unfed
        if (silent || failing || this.holders.isBanned(p)) {
          node.log.debug('stripe parent failed us', { stream: this.c.id, stripe: s, parent: p, silent, failing })
          this.dropParent(s, p, now, failing)
        } else if (now - st.subscribedAt > RESUBSCRIBE_MS || (now - st.pushAt > quietResubscribeMs && now - st.subscribedAt > quietResubscribeMs)) {
          st.subscribedAt = now
          node.send(p, [this.keepalive(s)])
        }
        continue
      }
      const j = st.join ??= { candidates: this.rankedCandidates(s, now, st.fruitless >= LAST_RESORT_AFTER), askedAt: 0, tried: new Set() }
      if (j.asked && j.hello && node.peers.get(j.asked)?.verified) {
        // The handshake finished: ask for real now.
        j.hello = false
        j.askedAt = now
        node.send(j.asked, [this.subscription(s, j.failed)])
      } else if (!j.asked || now - j.askedAt > this.answerMs(j)) { j.asked = undefined; this.advanceJoin(s) }
    }
  }

  /** How long the candidate a join asked has to answer (stream-policy.ts joinAnswerMs): two of its
   * round trips once we have talked to it. A stranger's hello keeps the floor: many strangers
   * cannot be reached at all (behind NATs we cannot punch), and a longer wait on each of those
   * would only slow the join; one that answers late is verified by then, and asked at once when
   * its turn comes again. */
  private answerMs(j: Join): number {
    return j.hello || j.asked === undefined ? JOIN_ANSWER_MS : joinAnswerMs(this.c.node.peers.get(j.asked)?.rttMs)
  }

  /** Leaves stripe `s`'s parent `p` and looks for another; `failing`: it fed us nothing it owed,
   * so it is not asked again for a while. */
  private dropParent(s: number, p: string, now: number, failing: boolean): void {
    const st = this.stripes[s]
    this.c.node.send(p, [{ type: 'StopSendingMe', id: this.c.id, stripe: s }])
    st.parent = undefined
    st.overdueSince = undefined
    st.owesTwoSince = undefined
    st.path = []
    st.handedBy = undefined
    this.droppedAt.set(p, now)
    if (this.droppedAt.size > MAX_HOLDERS) for (const [a, t] of this.droppedAt) if (now - t > DROPPED_PARENT_MS) this.droppedAt.delete(a)
    if (failing && !this.c.sourceAddrs.has(p)) remember(this.failedParents, p, now + FAILED_RELAY_MS, now)
    this.rejoinAfterFailure(s, p, now)
  }

  /** Waits `ms` for a late parent, if it pushed PUSHES_PER_HOLD new chunks since the last wait
   * (a parent late again and again cannot keep us on a trickle); false when it did not. */
  private hold(st: Stripe, now: number, ms: number): boolean {
    if (st.pushesSinceHold < PUSHES_PER_HOLD) return false
    st.heldUntil = now + ms
    st.pushesSinceHold = 0
    return true
  }

  /** Tells our children in stripe `s` that our feed there is late, once an episode (until our
   * parent pushes again). */
  private tellOnce(s: number): void {
    const st = this.stripes[s]
    if (st.toldLate) return
    st.toldLate = true
    this.tellLate(s)
  }

  /** Tells every parent to stop pushing to us. */
  close(): void {
    for (let s = 0; s < STRIPES; s++) {
      const p = this.stripes[s].parent
      if (p) this.c.node.send(p, [{ type: 'StopSendingMe', id: this.c.id, stripe: s }])
    }
  }

  /** A relay we dropped recently: most likely gone, or failed us. (Not the source: a restarted
   * source comes back at its address, and only it can root the stripe.) */
  private recentlyDropped(a: string, now: number): boolean {
    return !this.c.sourceAddrs.has(a) && now - (this.droppedAt.get(a) ?? -Infinity) < DROPPED_PARENT_MS
  }

  /** Parent candidates for a stripe, best first; a relay we dropped recently goes last. Parents
   * that failed us are left out, unless `lastResort`: everyone else has refused us in a row of
   * joins (LAST_RESORT_AFTER), and then they are asked after everyone else. A squatter costs us a
   * FIRST_PUSH_MS wait per such round (pulls go on meanwhile); without it, in a small swarm on a
   * loaded machine, where a relay is 300 ms late now and then, one misjudged relay left its
   * child without a parent in that stripe for FAILED_RELAY_MS (the other relays had complained
   * it off their own stripe, the source was full). */
  private rankedCandidates(s: number, now: number, lastResort: boolean): string[] {
    const list = this.holders.list('')
    const failed = (a: string) => this.hasFailedUs(a, now)
    const recentlyDropped = (a: string) => this.recentlyDropped(a, now)
    const ranked = rankParents(s, list.map((addr) => ({ addr, rttMs: this.c.node.peers.get(addr)?.rttMs, isSource: this.c.sourceAddrs.has(addr) })))
    const ok = ranked.filter((a) => !failed(a))
    const order = reachableFirst(this.c.node, [...ok.filter((a) => !recentlyDropped(a)), ...ok.filter(recentlyDropped)])
    return lastResort ? [...order, ...reachableFirst(this.c.node, ranked.filter(failed))] : order
  }

  /** Our parent in stripe `s` stopped feeding us: ask its own parent (it told us which), else the
   * source, first, naming the failed one. That node drops the failed child and takes us in its
   * place in the same round trip, with a catch-up of what we missed. */
  private rejoinAfterFailure(s: number, failed: string, now: number): void {
    const st = this.stripes[s]
    this.tellOnce(s)
    const backups = [st.via, ...this.c.sourceAddrs, ...this.bootstrap]
      .filter((a): a is string => a !== undefined && a !== failed && a !== this.c.node.address && !this.hasFailedUs(a, now))
    const rest = this.rankedCandidates(s, now, false).filter((a) => a !== failed && !backups.includes(a))
    st.join = { candidates: [...new Set(backups), ...rest], askedAt: 0, tried: new Set([failed]), failed }
    st.via = undefined
    this.advanceJoin(s)
  }

  private subscription(s: number, failed?: string): Message {
    return { type: 'PleaseKeepSendingMe', id: this.c.id, stripe: s, from: this.catchUpFrom(s), ...(failed ? { failed } : {}), ...this.capacityTold(s) }
  }

  /** What an ask tells of what we can carry (`leaf`, and the places we and our subtree have), and
   * whether our audience telemetry climbs through this stripe (`reports`). */
  private capacityTold(s: number): { leaf?: true; room?: number; below?: number; reports?: true } {
    const reports = this.reportsVia === s
    const { room, below } = this.room(s)
    this.toldReports[s] = reports
    // `room` even at 0: a parent then lists a full child last in its redirects.
    return { ...(this.leaf() ? { leaf: true as const } : {}), room, ...(below > 0 ? { below } : {}), ...(reports ? { reports: true as const } : {}) }
  }

  private advanceJoin(s: number): void {
    const st = this.stripes[s]
    const j = st.join
    if (!j) return
    const node = this.c.node
    const next = j.candidates.shift()
    if (!next) { st.join = undefined; st.fruitless++; return }
    j.tried.add(next)
    j.asked = next
    j.askedAt = node.timers.now()
    const peer = node.peers.get(next)
    if (!peer?.verified) {
      // A stranger ignores subscriptions until we have echoed its cookie. An RTT probe is answered
      // by everyone (with its cookie), so send that first and subscribe once it is verified.
      j.hello = true
      node.send(next, [{ type: 'PleaseReturnThisMessage', value: node.timers.now() }])
      return
    }
    j.hello = false
    node.send(next, [this.subscription(s, j.failed)])
  }

  /** Gives our successor in stripe `s` the catch-up our parent asked of us once the cookie round
   * trip proved its address (our join greets it first): pushing a stream at an unproven address
   * would let whoever pushes us down aim our upload at anyone. */
  private giveHandOver(s: number, now: number): void {
    const h = this.handOvers[s]
    if (h === undefined) return
    if (now > h.until) { this.handOvers[s] = undefined; return }
    // A cjp2p node that proved its address but speaks no streams never asked for chunks.
    const to = this.c.node.peers.get(h.to)
    if (to?.verified !== true || to.speaksStreams !== true) return
    this.handOvers[s] = undefined
    this.giveCatchUp(h.to, s, h.from)
  }

  /** How long a catch-up handed over may take (HAND_OVER_MS, or three round trips to our parent). */
  private handOverMs(): number {
    let rtt = 0
    for (const st of this.stripes) if (st.parent !== undefined) rtt = Math.max(rtt, this.c.node.peers.get(st.parent)?.rttMs ?? 0)
    return Math.max(HAND_OVER_MS, 3 * rtt)
  }

  /** Chunks of stripe `s` we lack within a catch-up's reach (at most CATCHUP_CHUNKS / STRIPES). */
  private lacking(s: number): Set<number> {
    const { maxKnown } = this.c.edge
    const out = new Set<number>()
    for (const k of this.c.log.missingChunks(this.catchUpFrom(s), maxKnown)) if (stripeOf(k) === s) out.add(k)
    return out
  }

  /** Where a new parent should start pushing: our oldest hole in its stripe, so the catch-up to our
   * start point comes from the parent rather than from pulls (and never from the source). */
  private catchUpFrom(stripe: number): number {
    const { startChunk, maxKnown } = this.c.edge
    const from = Math.max(startChunk, maxKnown - CATCHUP_CHUNKS)
    for (const n of this.c.log.missingChunks(from, maxKnown)) if (stripeOf(n) === stripe) return n
    return maxKnown
  }
}

/** How many entries are true (a push record's misses), without the array filter() makes on every
 * tick of every stripe. */
function countTrue(xs: boolean[]): number {
  let n = 0
  for (const x of xs) if (x) n++
  return n
}
