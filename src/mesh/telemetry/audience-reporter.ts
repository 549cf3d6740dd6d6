// One stream's audience telemetry on one node: keeps this node's own figures over a sliding window,
// takes the summaries of the children that report through it, and every REPORT_MS sends one parent
// a summary of itself and everything below it. At the source the merged summaries are the audience.
//
// Which parent: every viewer has exactly one parent in each stripe, and each stripe's graph is a
// tree rooted at the source. A viewer reports up the stripe where it sits highest
// (StripeParents.reportStripe); its parent there sits higher still in its own best stripe, so the
// reports' edges lead strictly up and form a tree of their own, each viewer in its parent's summary
// and in no one else's. (Mixing stripes by any other rule, say each node up its interior stripe,
// could close a cycle that counts a subtree again on every round.) A child says in its
// subscriptions which stripe it reports through, and a parent takes a summary only from a child
// that said so (Children.reporting), so a node that moved is counted under its old parent only
// until that parent hears (at once: StripeParents.moveReports) or drops it (CHILD_EXPIRY_MS) or its
// last summary there goes stale (STALE_MS), whichever comes first. A viewer without a parent
// (joining, or between parents) is not counted until it has one again.
import type { Ctx } from '../node.ts'
import type { MessageOf, StreamRef } from '../messages.ts'
import { encodedSize, isAddress } from '../messages.ts'
import { RESUBSCRIBE_MS, playbackDeadline } from '../stream-policy.ts'
import { LIVE_WINDOW_CHUNKS, PLAYOUT_DELAY_MS, type SwarmContext } from '../stream/swarm-context.ts'
import type { SwarmStats } from '../stream/swarm-stats.ts'
import type { Children } from '../stream/children.ts'
import type { StripeParents } from '../stream/stripe-parents.ts'
import { packageVersion } from '../../util/package-version.ts'
import {
  EPOCH_MS, NAT_KINDS, countsOf, fromRun, MAX_CHUNKS_PER_VIEWER, MAX_EPOCHS, MAX_GRANDKIDS, MAX_KIDS, WINDOW_MS, delayBucket, emptySummary, health, mergeChild, sanitize, within, withCounts,
  type AudienceCounts, type AudienceSummary, type EpochRun, type KidEntry,
} from './audience-summary.ts'
import { DelayEpochs } from './delay-epochs.ts'
import { AudienceHistory } from './audience-history.ts'
import { audienceView, type AudienceView } from './audience-view.ts'
import { AudienceGrants, BURST_BYTES, ByteBucket, DEFAULT_SHARE, GRANT_RETRY_MS, IDLE_BYTES, UP_SHARE } from './audience-grants.ts'

/** A summary goes up about this often (with +-25 % jitter, so a parent's children do not all speak
 * at once), as long as the byte budget allows (audience-grants.ts: nothing goes up without it).
 * When the number of viewers below us changes, the counts alone (a message of some 60 bytes) go
 * up at once, but never twice within MIN_GAP_MS: a change climbs a deep tree in about
 * depth * MIN_GAP_MS rather than depth * REPORT_MS. */
export const REPORT_MS = 2000
export const MIN_GAP_MS = 300
/** Counts alone go up no more often than this (paid from the budget like the rest). */
export const COUNTS_GAP_MS = 500
/** A counts message before we sent one: some 160 bytes with a deep subtree's depths. */
const COUNTS_BYTES = 200
/** Our counts go to a new parent this many times, COUNTS_GAP_MS apart, changed or not. Five (over
 * 2 s) counted a moved subtree sooner under a 0.06 % budget, but under 3 % loss the worst viewer
 * of 200 then held less of the stream at 7 of 8 seeds (median 98.5 % against 99.4 %): telemetry
 * must not cost the stream, so three, with the budget at 0.1 % (review, session 8). */
const NEW_PARENT_REPEATS = 3
/** Changed counts go once more this long after, if nothing else went up meanwhile and the bucket
 * pays for them without delaying a full summary (see tick()): counts are not acknowledged, and a
 * lost change otherwise stood at every hop above until our next full summary or MAX_SILENT_MS. */
export const COUNTS_REPEAT_MS = 1000
/** A full summary overdue by REPORT_MS goes trimmed to what the up bucket holds, down to this, or
 * to its figures and its oldest epoch of delays when those are larger (fit(), floorBytes): see
 * tick(). Cut lower, a summary goes as soon as the bucket holds its figures, and its children's
 * list (the dashboard's top of the tree) never fits. */
export const MIN_FULL_BYTES = 400
/** A trimmed summary leaves this many counts' bytes in the bucket: with one, the changes that came
 * after it waited for the bucket at every hop, and at 250 kb/s the source counted 91 of 160 10 s
 * after 20 % left (153 without trimming; seed 1). */
const TRIMMED_KEEPS = 2
/** A node near the top lists its children (the dashboard's tree) in a full summary at most this
 * often, and its parent keeps the last list meanwhile, up to twice as long: the lists were a third
 * of what the busiest nodes received (near the source, each child's list with its grandchildren),
 * and every byte of them comes out of the budget. */
export const KIDS_EVERY_MS = 10_000
/** Only nodes this close to the source list their children (subtree()). */
const LIST_DEPTH = 2
/** Our parent drops our children list this long after it came (onAudience()). */
const LIST_DROPPED_MS = 2 * KIDS_EVERY_MS
/** A children list this old waits for a whole summary (until LIST_DROPPED_MS: see FullSummary).
 * Younger, a trimmed summary goes without it (see sendFull()). */
const LIST_KEPT_MS = 1.5 * KIDS_EVERY_MS
/** How a full summary goes (tick(), sendFull()): `whole`, with the children list when it is due,
 * once the bucket holds the last whole one and our next counts; `trimmed`, overdue, without the
 * list and cut to what the bucket holds (fit()); `fitted`, overdue with a list about to lapse, the
 * list in it as far as the bucket holds it, the newest delays cut first. */
type FullSummary = 'whole' | 'trimmed' | 'fitted'
/** A node is silent for this long at most: on a stream of 2 Mb/s with 16 siblings its grant (some
 * 100 B/s) pays a full summary of a deep node every 3-5 s, and where it pays less often the counts
 * go meanwhile (tick()). What STALE_MS allows for. */
const MAX_SILENT_MS = 5000
const JITTER = 0.25
/** A parent that has not granted us anything this long after we took it is taken for a build that
 * never grants (feed()): two of its grant's tries, GRANT_RETRY_MS apart. */
export const NO_GRANT_MS = 2 * GRANT_RETRY_MS
/** A child's summary older than this is no longer counted: it left, or reports elsewhere now.
 * It outlives one lost summary: at 7 s (one silence and a report), a child whose count had not
 * changed and whose summary was lost would fall out with its subtree until its next one (the
 * simulator, 1 % loss, showed dips of 36 of 100 for 3 s with every viewer attached). A child that
 * leaves is dropped sooner, as its parent stops holding it (CHILD_EXPIRY_MS). */
export const STALE_MS = 2 * MAX_SILENT_MS + REPORT_MS
/** A child we have heard nothing from for this long (it re-subscribes every RESUBSCRIBE_MS, and
 * most children also pull from us or feed us other stripes) has gone: its subtree stops counting
 * here at once, not when the stream forgets it (CHILD_EXPIRY_MS, 6 s). Its orphans find new parents
 * within about PARENT_TIMEOUT_MS (longer on a stream slower than 1.3 Mb/s: paced()) and are
 * counted there, so until it is dropped they count twice: at 1,000 viewers, 10 s after 20 % left
 * abruptly, the source read 821 of 800. Two renewals lost in a row (1e-4 at 1 % loss) drop a live
 * child until its next summary, at most MAX_SILENT_MS later. */
export const SILENT_KID_MS = 2 * RESUBSCRIBE_MS + 500
/** Delays are read over the WINDOW_MS of whole epochs ending at the newest epoch the tree has
 * finished reporting: one whose chunks, counted over the subtree, reach this share of the best
 * epoch's (each as a share of viewers x chunks published in it, at most 1). Summaries climb a hop
 * in one REPORT_MS or so, so the epochs of the last seconds are still partial at the top of a deep
 * tree, and mostly in their shallow part. Relative to the best epoch, not absolute: a lost summary
 * loses its delays for good (5-7 % of an epoch at 300 viewers and 1 % loss), and in a join wave
 * the early epochs had fewer viewers than now, so no epoch may reach an absolute share. The
 * absolute 90 % it replaced fell back, then, to the newest epoch with half the best share: at 300
 * viewers, 20 s after the joins, a window ending in epochs 69 % and 23 % reported, short of their
 * low delays (the shallow viewers' still on their way), and a p95 22 % above the exact one. */
const COMPLETE_SHARE = 0.95
/** Epochs kept, for the window and the climb of a deep tree (a summary a minute late is dropped). */
const HORIZON_EPOCHS = (WINDOW_MS + 60_000) / EPOCH_MS
const WINDOW_EPOCHS = WINDOW_MS / EPOCH_MS
/** The source shows the median (by viewers) of its views over this long, taken every
 * SMOOTH_STEP_MS. A subtree that moves is dropped by its old parent before its new one has counted
 * it, and the count dipped for under a second (57 of 100 viewers at one instant in the simulator,
 * while every one of them stayed attached): a real change shows within about half of it. */
const SMOOTH_MS = 2000
const SMOOTH_STEP_MS = 250
/** A chunk we knew of this long ago and still lack is counted as missed (its playback passed). */
const MISSED_AFTER_MS = 8000
/** A parent caps each child's chunk counts at this many times the chunks it saw itself. */
const CHUNK_MARGIN = 2
const MIN_CHUNKS_PER_VIEWER = 64
/** Children whose per-epoch totals are kept (current ones and those that left within the horizon). */
export const MAX_KID_EPOCHS = 256

interface KidRecord { s: AudienceSummary; at: number; kidsAt: number; byId: boolean }

/** Children that left whose last summaries are kept (a stripe's fan-out is 8 to 16). */
const MAX_KIDS_AWAY = 32

interface Snapshot { at: number; up: number; down: number; fromSource: number; onTime: number; late: number; missed: number; stalls: number; stallSeconds: number; maxKnown: number }

export interface AudienceComponents { context: SwarmContext; stats: SwarmStats; children: Children; parents: StripeParents }

export class AudienceReporter {
  private readonly c: SwarmContext
  private readonly k: AudienceComponents
  private readonly version = packageVersion()
  /** Our reporting children's latest summaries (bounded: only current reporting children are kept). */
  private kids = new Map<string, KidRecord>()
  /** Children that stopped reporting here, with their last summaries: one that comes back while its
   * summary is fresh is counted again at once (see tick()). Bounded by MAX_KIDS_AWAY. */
  private away = new Map<string, KidRecord>()
  /** When we last listed our children to our parent, and to which parent (KIDS_EVERY_MS). */
  private kidsSent = { at: -Infinity, to: '' }
  /** This node's own cumulative figures, and snapshots of them for the sliding window. */
  private own: Omit<Snapshot, 'at' | 'up' | 'down' | 'fromSource' | 'maxKnown'>
  private snaps: Snapshot[] = []
  private missedCursor = -1
  private nextAt = 0
  private snapAt = 0
  private sentAt = -Infinity
  private sentViewers = 0
  /** When our last changed counts go again (COUNTS_REPEAT_MS), if nothing has gone up since. */
  private repeatAt = Infinity
  private sentTo: string | undefined
  /** Messages sent to the current parent (see NEW_PARENT_REPEATS). */
  private sentToCount = 0
  /** What we may send up (audience-grants.ts), fed from the stream bytes we received since
   * `fed`, and our parent's grant: bytes a second, from whom. */
  private readonly up = new ByteBucket(0, BURST_BYTES)
  private fed = { at: -Infinity, received: 0 }
  private grant: { from: string; bps: number; tag?: number } | undefined
  /** Our report parent (StripeParents.reportParent), and since when (feed()). */
  private parentSince: { addr: string | undefined; at: number } = { addr: undefined, at: 0 }
  /** What we grant our own children. */
  private readonly grants: AudienceGrants
  private lastFullBytes = 512
  /** The size of our last full summary cut to its floor (fit()): what a trimmed one waits for. */
  private floorBytes = 0
  /** Our last counts' size: what a full summary leaves in the up bucket (see tick()). */
  private lastCountsBytes = COUNTS_BYTES
  /** Delays this node and its subtree verified, by epoch; and those not yet sent up. Each delay
   * goes up once, as it comes: what climbed stays counted when its subtree moves elsewhere (the
   * report tree re-forms every few seconds), and nothing is counted twice. A lost summary loses
   * its delays (1 % loss over a 10-level climb lost some 5 % of the deepest viewers' in the
   * simulator); summaries that replace per epoch lost far more, whole subtrees' history each time
   * one moved. */
  private readonly delays = new DelayEpochs()
  private readonly outbox = new DelayEpochs()
  /** Per child, the chunks it sent up for each epoch: a liar sending its delays again and again
   * adds no more than its viewers' worth to an epoch. Kept after the child leaves, until its epochs
   * pass the horizon: a liar that left and came back would otherwise start from nothing and send
   * the same epochs again, once a cycle. */
  private kidEpochs = new Map<string, Map<number, number>>()
  /** Chunks the stream published in each epoch (the expected count per viewer), and the next
   * chunk to count. */
  private published = new Map<number, number>()
  private publishedCursor = 0
  /** The source's clock: the newest publish time we saw, and our time when we saw it. */
  private sourceTime = { at: 0, published: -Infinity }
  /** Hops of the last chunks we verified: how close to the source we are. */
  private hops: number[] = []
  /** The source's views over the last SMOOTH_MS, oldest first (see view()). */
  private recent: AudienceView[] = []
  private recentAt = 0
  /** The source's last hour of audience figures (the dashboard's series), absent elsewhere. */
  readonly history: AudienceHistory | undefined
  /** Telemetry this node sent and took (messages, encoded bytes): its cost, as the tests measure it.
   * The grants' bytes, sent to our children and taken from our parent, are in the totals too. */
  readonly traffic = { sent: 0, sentBytes: 0, received: 0, receivedBytes: 0, grantsSentBytes: 0, grantsReceivedBytes: 0 }

  /** `tag`: our number for the stream, given to our children with their grants. */
  constructor(components: AudienceComponents, init: { tag?: number } = {}) {
    this.c = components.context
    this.k = components
    this.own = { onTime: 0, late: 0, missed: 0, stalls: 0, stallSeconds: 0 }
    this.history = this.c.isSource ? new AudienceHistory() : undefined
    this.grants = new AudienceGrants({
      id: this.c.id, isSource: this.c.isSource,
      tag: init.tag,
      send: (to, m) => {
        if (this.c.node.send(to, [m]) === 0) return false
        const bytes = encodedSize(m)
        this.count(bytes)
        this.traffic.grantsSentBytes += bytes
        return true
      },
      heardAt: (a) => this.kids.get(a)?.at ?? -Infinity,
      namedById: (a) => this.kids.get(a)?.byId,
      takesTagGrant: (a) => this.c.node.peers.get(a)?.grantsByTag === true,
      viewers: (a) => this.kids.get(a)?.s.viewers,
      streamBps: () => (this.c.isSource ? undefined : this.c.pace.bytesPerSecond()),
    })
    components.stats.onDelay = (ageMs, hops) => this.onDelay(ageMs, hops)
  }

  private onDelay(ageMs: number, hops: number): void {
    const now = this.c.node.timers.now()
    this.hops.push(hops)
    if (this.hops.length > 16) this.hops.shift()
    const published = now - ageMs
    if (published > this.sourceTime.published) this.sourceTime = { at: now, published }
    const e = Math.floor(published / EPOCH_MS)
    this.delays.add(e, delayBucket(ageMs), 1)
    this.outbox.add(e, delayBucket(ageMs), 1)
    if (now <= playbackDeadline(now - ageMs, PLAYOUT_DELAY_MS, this.c.edge.joinedAt)) this.own.onTime++
    else this.own.late++
  }

  /** What this node's player pages reported: stalls that ended, and their seconds. */
  playback(stalls: number, stallSeconds: number): void {
    this.own.stalls += stalls
    this.own.stallSeconds += stallSeconds
  }

  /** Our report parent's grant: what we may send it (from anyone else, nothing). */
  onGrant(m: MessageOf<'TellMeYourAudienceAtMost'>, ctx: Ctx): void {
    if (this.c.isSource || ctx.from !== this.k.parents.reportParent()) return
    const bytes = encodedSize(m)
    this.traffic.received++
    this.traffic.receivedBytes += bytes
    this.traffic.grantsReceivedBytes += bytes
    this.grant = { from: ctx.from, bps: m.bytesPerSecond, tag: m.tag }
  }

  /** Whether our grant is `from`'s, with `tag`, and `from` is still our parent: a grant naming the
   * stream by that tag alone renews it (a parent restarted may have given the tag to another stream
   * since). */
  holdsGrant(from: string, tag: number): boolean {
    return this.grant?.from === from && this.grant.tag === tag && this.k.parents.reportParent() === from
  }

  onAudience(m: MessageOf<'HereIsMyAudience'>, ctx: Ctx): void {
    // Only from a child that reports through us: a summary from anyone else would count its subtree twice.
    if (!this.k.children.reportsHere(ctx.from)) return
    this.traffic.received++
    this.traffic.receivedBytes += encodedSize(m)
    const s = sanitize(m.audience, { isAddress, chunksPerViewer: this.chunksPerViewer(), oneViewerChunks: this.ownVerified() })
    if (!s) return
    const had = this.kids.get(ctx.from)
    const at = this.c.node.timers.now()
    const byId = m.id !== undefined
    if (m.counts && had) this.kids.set(ctx.from, { ...had, s: withCounts(had.s, s), at, byId })
    else if (s.kids) this.kids.set(ctx.from, { s, at, kidsAt: at, byId })
    else {
      // No list: the child sends it only every KIDS_EVERY_MS; the last one stands meanwhile.
      if (had?.s.kids && at - had.kidsAt <= LIST_DROPPED_MS) s.kids = had.s.kids
      this.kids.set(ctx.from, { s, at, kidsAt: had?.kidsAt ?? -Infinity, byId })
    }
    if (s.fresh) this.takeDelays(ctx.from, s)
  }

  /** A child that stopped reporting here and came back (refused on a renewal while we were full, a
   * place swapped and given back) has not moved, as it sees it: its parent is the same, and it
   * sends nothing new until its count changes or MAX_SILENT_MS passes. Its last summary, still
   * fresh, counts again at once: dropped when it left, a relay with 13 viewers below it was
   * missing from the source's count for 5 s after it was back (500 kb/s, seed 2, 147 of 160 read
   * 10 s after 20 % left). */
  private comeBack(now: number, reporting: Set<string>): void {
    for (const [a, e] of this.away) {
      if (now - e.at > STALE_MS) this.away.delete(a)
      else if (reporting.has(a)) {
        this.away.delete(a)
        if (!this.kids.has(a)) this.kids.set(a, e)
      }
    }
    while (this.away.size > MAX_KIDS_AWAY) this.away.delete(this.away.keys().next().value as string)
  }

  /** A child's new delays join ours (and go up with our next summary), each epoch within its
   * viewers' worth of chunks in all, a liar's within one viewer's (as sanitize() caps one summary). */
  private takeDelays(from: string, s: AudienceSummary): void {
    const cur = this.epochNow()
    // Not the stream's recent past (or a clock we cannot place yet): nothing to add it to.
    if (cur === undefined) return
    const whole = s.suspect >= s.viewers && s.suspect > 0
    const perWindow = whole ? this.ownVerified() ?? this.chunksPerViewer() / 2 : s.viewers * this.chunksPerViewer()
    const cap = Math.ceil((perWindow * EPOCH_MS) / WINDOW_MS)
    let got = this.kidEpochs.get(from)
    if (!got) {
      this.forgetDepartedKid()
      got = new Map()
      this.kidEpochs.set(from, got)
    }
    for (const [e, first, counts] of s.fresh ?? []) {
      if (e < cur - HORIZON_EPOCHS || e > cur + 1) continue
      const had = got.get(e) ?? 0
      let n = 0
      for (const [i, k] of within(fromRun(first, counts), cap - had)) {
        this.delays.add(e, i, k)
        if (!this.c.isSource) this.outbox.add(e, i, k)
        n += k
      }
      got.set(e, had + n)
    }
  }

  /** Room for one more child's epochs: past MAX_KID_EPOCHS children, the one that left first is
   * forgotten (a churn of that many children within the horizon, far beyond a stripe's fan-out). */
  private forgetDepartedKid(): void {
    if (this.kidEpochs.size < MAX_KID_EPOCHS) return
    for (const a of this.kidEpochs.keys()) {
      if (!this.k.children.reportsHere(a)) { this.kidEpochs.delete(a); return }
    }
  }

  /** The source's clock as far as we know it (undefined before our first chunk). */
  private sourceNow(): number | undefined {
    const now = this.c.node.timers.now()
    if (this.c.isSource) return now
    if (this.sourceTime.published === -Infinity) return undefined
    return this.sourceTime.published + now - this.sourceTime.at
  }

  private epochNow(): number | undefined {
    const t = this.sourceNow()
    return t === undefined ? undefined : Math.floor(t / EPOCH_MS)
  }

  /** Called from the swarm's tick: drops stale children and, when due, reports up. */
  tick(now: number): void {
    const reporting = this.k.children.reporting()
    // A child that is ours no more is dropped at once, even one that moved elsewhere and is not
    // counted there yet: keeping it for 1-2 s while its counts climbed its new path was tried, and
    // counted subtrees twice (up to 260 of 100 at the source) as the tree re-formed, far worse
    // than the dips it closed.
    for (const [a, e] of this.kids) {
      const silent = now - e.at > STALE_MS || now - (this.c.node.peers.get(a)?.lastHeard ?? 0) > SILENT_KID_MS
      if (!silent && reporting.has(a)) continue
      this.kids.delete(a)
      // Stopped reporting here while still heard from: kept, should it come back (comeBack()).
      if (!silent) this.away.set(a, e)
    }
    this.comeBack(now, reporting)
    const totals = this.k.stats.totals
    this.grants.tick(now, this.c.isSource ? totals.producedBytes : totals.receivedBytes, reporting)
    const parent = this.c.isSource ? undefined : this.k.parents.reportParent()
    this.feed(now, parent)
    // The window's snapshots are taken on a clock of their own: a parent that has not reported yet
    // must still know how many chunks the stream produced lately, to cap its children by.
    if (now >= this.snapAt) {
      this.snapAt = now + REPORT_MS
      this.snapshot(now)
      this.pruneEpochs()
      this.history?.add(now, this.view())
    }
    if (this.c.isSource) {
      if (now >= this.recentAt) {
        this.recentAt = now + SMOOTH_STEP_MS
        this.recent.push(this.merged())
        if (this.recent.length > SMOOTH_MS / SMOOTH_STEP_MS) this.recent.shift()
      }
      return
    }
    if (parent === undefined || this.c.edge.startChunk < 0 || now - this.sentAt < MIN_GAP_MS) return
    // A full summary leaves the bytes of our next counts in the bucket, so a change in our
    // subtree always goes up at once. Spent to the last byte, the bucket made the counts wait
    // for it to refill, up to 1.5 s a hop at 1 Mb/s (a grant of some 130 B/s), and 10 s after 40
    // of 200 viewers left the source had counted 91 of 160 (1 Mb/s, seed 1, half killed and half
    // saying goodbye; the tree had re-formed below the source 4 s before).
    // Overdue by REPORT_MS, it goes trimmed to what the bucket holds (fit()): waiting for the bucket
    // to hold a whole one starved it where the counts took most of the budget. At 500 kb/s the
    // source's only child (granted some 120 B/s, its counts going every 1.5 s as the tree below it
    // re-formed) sent no full summary in 40 s, its outbox of delays grew to 8 epochs, the summary
    // with them, and the source had no delays to read (p95 missing at seed 5, 52 % off at seed 1).
    // A children list about to lapse at our parent waits for a whole summary until our parent has
    // dropped it (or never had one): then it goes fitted. Waiting on, a relay with its list due
    // (its first, or 15 s old) sent nothing but counts while they took most of its grant: at
    // 500 kb/s the source's only child (granted some 120 B/s) sent its first full summary 24 s
    // after its first viewer joined (the simulator, seed 5), and in 50 real viewer processes one
    // sent none for 40 s, its delays of 8 epochs waiting, and the source read a p95 22-29 % low.
    const how = this.fullSummary(now)
    const fullDue = now >= this.nextAt && this.up.tokens >= (how === 'whole' ? this.lastFullBytes + this.lastCountsBytes : Math.min(this.trimTo(), this.lastFullBytes) + TRIMMED_KEEPS * this.lastCountsBytes)
    // A new parent has not counted us yet: that is a change too. It may not hold us as its child
    // yet when our first counts arrive, and drop them: they go again (NEW_PARENT_REPEATS), or our
    // subtree would be missing until our next full summary, seconds later (in the simulator a
    // 20-viewer subtree's counts were dropped so, and the source read 56 of 76 for 4 s).
    const changed = this.subtreeViewers() !== this.sentViewers || parent !== this.sentTo || this.sentToCount < NEW_PARENT_REPEATS
    // Counts are paid from the budget like the rest, but they go first: a full summary waits until
    // the bucket holds one (lastFullBytes), counts need only their own hundred bytes. (Holding the
    // counts back while a full summary was due, for it carries them too, was tried: near the top a
    // full summary waited seconds for its bytes, the counts with it, and 10 s after the joins the
    // source counted 196 of 300.)
    // Silent for MAX_SILENT_MS, our counts go unchanged: our parent keeps us for STALE_MS after
    // our last word, and a full summary may take longer to pay for (one listing 6 children, some
    // 700 bytes and its counts' reserve, took 18 s under a parent of an older build at 400 kb/s,
    // and the 7 viewers dropped out of the count each time).
    const silent = now - this.sentAt >= MAX_SILENT_MS
    // A repeat of changed counts spends only what the bucket holds beyond the next full summary and
    // the next counts: repeated whatever the budget, the counts of 200 viewers at 1 Mb/s were exact
    // at every seed, but at 500 kb/s and below they took the bytes of the summaries and of the next
    // changes, and 10 s after 20 % left the source counted 138 of 160 (500 kb/s) and 28 of 160
    // (250 kb/s) instead of 159 and 131.
    const repeatDue = now >= this.repeatAt && this.up.tokens >= this.lastFullBytes + 2 * this.lastCountsBytes
    const countsDue = ((changed || silent) && now - this.sentAt >= COUNTS_GAP_MS) || repeatDue
    if (!fullDue && !countsDue) return
    if (fullDue && this.sendFull(now, parent, how)) return
    if (countsDue) this.sendUp(now, parent, { type: 'HereIsMyAudience', ...this.streamRef(parent), audience: this.counts(), counts: true })
  }

  /** How our next full summary goes (FullSummary). */
  private fullSummary(now: number): FullSummary {
    if (now < this.nextAt + REPORT_MS) return 'whole'
    if (!this.listLapsing(now)) return 'trimmed'
    return now - this.kidsSent.at >= LIST_DROPPED_MS ? 'fitted' : 'whole'
  }

  /** Our full summary, if the budget holds it; else its delays wait in the outbox for the next one
   * (and the children list goes with it). */
  private sendFull(now: number, parent: string, how: FullSummary): boolean {
    const kidsSent = this.kidsSent
    // Trimmed, it goes without the children list (our parent keeps the last one; a part of it
    // would replace it there), which goes with a later summary.
    const audience = this.subtree(parent, how !== 'trimmed')
    const msg: MessageOf<'HereIsMyAudience'> = { type: 'HereIsMyAudience', ...this.streamRef(parent), audience }
    const keep = (how === 'whole' ? 1 : TRIMMED_KEEPS) * this.lastCountsBytes
    const room = BURST_BYTES - this.lastCountsBytes
    const size = this.fit(msg, kidsSent, how === 'whole' ? room : Math.min(room, Math.max(this.trimTo(), this.up.tokens - keep)))
    // What a whole summary would be is what the next one waits for: a cut one leaves it.
    if (how === 'whole' || size > this.lastFullBytes) this.lastFullBytes = size
    if (!this.sendUp(now, parent, msg, keep)) {
      for (const run of audience.fresh ?? []) this.putBack(run)
      this.kidsSent = kidsSent
      return false
    }
    this.nextAt = now + REPORT_MS * (1 - JITTER + 2 * JITTER * this.c.node.timers.random())
    return true
  }

  /** What a full summary overdue is trimmed to at the least (MIN_FULL_BYTES, floorBytes). */
  private trimTo(): number { return Math.max(MIN_FULL_BYTES, this.floorBytes) }

  /** Trims a full summary to `limit` (what the up bucket can hold: BURST_BYTES, or less when the
   * summary is overdue, less the counts' reserve), and returns its size: a
   * larger one waited for tokens the bucket never holds, and no full summary went up again, only
   * counts (8 epochs of wide histograms and a children list with grandchildren pass 4 KB). Trimmed
   * first, the newest epochs go back to the outbox for the next summary (the oldest are those the
   * source's window waits on); then the grandchildren, the smallest subtrees' first; then the
   * children (`kidsSent`: when they were listed before this summary). The figures and the oldest
   * epoch are its floor, and it is not cut below: cut to the figures alone, a child of the source
   * with 1,000 viewers below it sent summaries without a single delay (an epoch of a large
   * audience is some 200-280 bytes), and the source's p95 read 3.7 % off (simulator, 1 Mb/s; 0.07 %
   * so). Above `limit`, it waits for the bucket (sendUp()), its size the floor a trimmed one waits
   * for (floorBytes). */
  private fit(msg: MessageOf<'HereIsMyAudience'>, kidsSent: { at: number; to: string }, limit: number): number {
    const s = msg.audience as AudienceSummary
    let bytes = encodedSize(msg)
    while (bytes > limit) {
      const withGrandkids = [...s.kids ?? []].reverse().find((k) => k.k !== undefined)
      if (s.fresh !== undefined && s.fresh.length > 1) this.putBack(s.fresh.pop()!)
      else if (withGrandkids !== undefined) delete withGrandkids.k
      else if (s.kids !== undefined && s.kids.length > 1) s.kids.pop()
      // An empty list would say "no children": none at all says "as before", and it goes next time.
      else if (s.kids !== undefined) { delete s.kids; this.kidsSent = kidsSent }
      else break
      bytes = encodedSize(msg)
    }
    if (s.kids === undefined && (s.fresh?.length ?? 0) <= 1) this.floorBytes = bytes
    return bytes
  }

  /** An epoch's delays taken for a summary and not sent: they wait in the outbox for the next. */
  private putBack([e, first, counts]: EpochRun): void {
    for (const [i, n] of fromRun(first, counts)) this.outbox.add(e, i, n)
  }

  /** We list our children (near the top of the tree) and our parent's copy of the list is near its
   * end. */
  private listLapsing(now: number): boolean {
    return this.depth() <= LIST_DEPTH && now - this.kidsSent.at > LIST_KEPT_MS
  }

  /** Our stream as `parent` knows it: by the tag its grant gave, or (a parent of an older build,
   * or before its grant) by the id. */
  private streamRef(parent: string): StreamRef {
    return this.grant?.from === parent && this.grant.tag !== undefined ? { tag: this.grant.tag } : { id: this.c.id }
  }

  /** Sends `msg` to our parent if the up budget pays for it and leaves `keep` bytes. */
  private sendUp(now: number, parent: string, msg: MessageOf<'HereIsMyAudience'>, keep = 0): boolean {
    const bytes = encodedSize(msg)
    if (!this.up.take(bytes, keep)) return false
    if (msg.counts) this.lastCountsBytes = bytes
    // A full summary carries the counts too; counts that repeat the last ones owe no repeat.
    this.repeatAt = msg.counts && msg.audience.viewers !== this.sentViewers ? now + COUNTS_REPEAT_MS : Infinity
    this.sentAt = now
    this.sentViewers = msg.audience.viewers
    this.sentToCount = parent === this.sentTo ? this.sentToCount + 1 : 1
    this.sentTo = parent
    if (this.c.node.send(parent, [msg]) > 0) this.count(bytes)
    return true
  }

  private count(bytes: number): void {
    this.traffic.sent++
    this.traffic.sentBytes += bytes
  }

  /** Feeds the up budget: UP_SHARE of the stream for the time since the last feed, at the rate we
   * received it over the last RATE_WINDOW_MS (AudienceGrants.rate), and no more than our parent's
   * grant for that time. Not the bytes received since the last feed: the stream comes in chunks
   * (16 KiB, some 8 a second at 1 Mb/s, so most 50 ms ticks bring none), and the smaller of that
   * and the grant, tick by tick, fed the bucket only on the ticks a chunk came, at most the grant's
   * 50 ms each: a child granted 136 B/s got some 52. Its counts then waited seconds at every hop,
   * and 10 s after 40 of 200 viewers left with their goodbyes (each dropped at once with its
   * subtree, whose orphans and moved relays had to be counted again up a 9-level tree) the source
   * counted 90 of 160 (1 Mb/s, seed 1). Before a grant from our parent (a newer parent
   * grants each child on its next tick, and again GRANT_RETRY_MS later if the child stays silent)
   * only IDLE_BYTES are saved up: our first counts go at once, and a parent's children cost it at
   * most that much each, on arriving, beyond what it granted. A parent that has not granted us
   * anything NO_GRANT_MS after we took it is taken for a build that never grants: we send it the
   * default allowance, DEFAULT_SHARE, counts included, and save up to BURST_BYTES, as a full
   * summary near the top of the tree is larger than IDLE_BYTES. */
  private feed(now: number, parent: string | undefined): void {
    const received = this.k.stats.totals.receivedBytes
    const dt = Number.isFinite(this.fed.at) ? now - this.fed.at : 0
    // Until the rate is known (our first second), the bytes themselves.
    const rate = this.grants.rate()
    const share = (rate === undefined ? received - this.fed.received : (rate * dt) / 1000) * UP_SHARE
    this.fed = { at: now, received }
    if (parent !== this.parentSince.addr) this.parentSince = { addr: parent, at: now }
    if (parent !== undefined && this.grant?.from === parent) this.up.feed(Math.min(share, (this.grant.bps * dt) / 1000))
    else if (parent !== undefined && now - this.parentSince.at >= NO_GRANT_MS) this.up.feed((share * DEFAULT_SHARE) / UP_SHARE)
    else this.up.feed(share, IDLE_BYTES)
  }

  private pruneEpochs(): void {
    this.countPublished()
    const cur = this.epochNow()
    if (cur === undefined) return
    const min = cur - HORIZON_EPOCHS
    this.delays.prune(min)
    this.outbox.prune(min)
    for (const [a, got] of this.kidEpochs) {
      for (const e of got.keys()) if (e < min) got.delete(e)
      if (got.size === 0) this.kidEpochs.delete(a)
    }
    for (const e of this.published.keys()) if (e < min) this.published.delete(e)
  }

  /** Counts the chunks published per epoch, from the records we hold (stopping at one we lack). */
  private countPublished(): void {
    const edge = this.c.edge
    // From the first chunk there is (the cursor began at -1, a chunk no one has, and the source
    // counted nothing until the stream was LIVE_WINDOW_CHUNKS old: at 2 Mb/s 33 s, during which its
    // delay window ended at the newest epoch, a fifth reported, and the p95 read 22 % high at 300
    // viewers 20 s after the joins), and, at a viewer, from the first it fetched.
    const floor = Math.max(0, edge.maxKnown - LIVE_WINDOW_CHUNKS, this.c.isSource ? 0 : edge.startChunk)
    if (this.publishedCursor < floor) this.publishedCursor = floor
    for (; this.publishedCursor < edge.maxKnown; this.publishedCursor++) {
      const rec = this.c.log.chunkRecord(this.publishedCursor)
      if (!rec) break
      const e = Math.floor(rec.time / EPOCH_MS)
      this.published.set(e, (this.published.get(e) ?? 0) + 1)
    }
  }

  /** The epochs the delays are read over: WINDOW_MS of them, ending at the newest one the subtree
   * has finished reporting (COMPLETE_SHARE of the best share). */
  private delayEpochs(viewers: number): { from: number; to: number } | undefined {
    const cur = this.epochNow()
    if (cur === undefined) return undefined
    const shares: Array<[number, number]> = []
    for (let e = cur - 1; e >= cur - HORIZON_EPOCHS + WINDOW_EPOCHS; e--) {
      const expected = viewers * (this.published.get(e) ?? 0)
      // At most 1: after viewers left, the epochs before read above it, and would hold the window
      // there for a minute.
      if (expected > 0) shares.push([e, Math.min(1, this.delays.total(e) / expected)])
    }
    const best = Math.max(0, ...shares.map(([, x]) => x))
    const to = shares.find(([, x]) => x >= COMPLETE_SHARE * best)?.[0] ?? cur - 1
    return { from: to - WINDOW_EPOCHS + 1, to }
  }

  /** Only the counts of our subtree, for a change that should climb at once: nothing else goes on
   * the wire (a zero-filled summary was 307 bytes, this some 150), so they can climb twice as often
   * for the same bytes. */
  private counts(): AudienceCounts {
    return countsOf(this.view())
  }

  private subtreeViewers(): number {
    let n = 1
    for (const { s } of this.kids.values()) n += s.viewers
    return n
  }

  /** The audience below us, merged now; at the source, the whole audience as the median of its
   * last views (SMOOTH_MS), so that a subtree in the middle of a move is not a dip. */
  view(): AudienceView {
    if (!this.c.isSource || this.recent.length === 0) return this.merged()
    return [...this.recent].sort((a, b) => a.viewers - b.viewers)[this.recent.length >> 1]
  }

  private merged(): AudienceView {
    // byDepth[d]: viewers d levels below us (at the source, depth d of the report tree).
    const root = this.c.isSource ? emptySummary() : this.ownWindow()
    for (const { s } of this.kids.values()) mergeChild(root, s)
    const epochs = this.delayEpochs(root.viewers)
    root.delay = epochs ? this.delays.histogram(epochs.from, epochs.to) : []
    const to = epochs ? (epochs.to + 1) * EPOCH_MS : 0
    const delayWindow = epochs ? { from: epochs.from * EPOCH_MS, to, endedMsAgo: Math.max(0, Math.round((this.sourceNow() ?? to) - to)) } : null
    return audienceView(root, { windowMs: this.windowMs(), delayWindow, kids: this.kidEntries(true), reporters: this.kids.size, traffic: { ...this.traffic } })
  }

  /** Our depth in the tree: the fewest hops our recent chunks came over. */
  private depth(): number {
    return Math.min(...this.hops)
  }

  /** Our summary for our parent: ourselves at depth 0, our children's subtrees below; the children
   * listed if `list` and they are due (KIDS_EVERY_MS). */
  private subtree(parent: string, list: boolean): AudienceSummary {
    const s = this.ownWindow()
    for (const { s: kid } of this.kids.values()) mergeChild(s, kid)
    // The delays go up once each, as they came (see `fresh`), not as a window.
    delete (s as Partial<AudienceSummary>).delay
    const fresh = this.outbox.take(MAX_EPOCHS)
    if (fresh.length) s.fresh = fresh
    // Only the top of the tree lists its children (and the source's own children their
    // grandchildren), for the source's dashboard: further down the lists would cost bytes that
    // nobody reads.
    const depth = this.depth()
    const now = this.c.node.timers.now()
    if (list && depth <= LIST_DEPTH && (now - this.kidsSent.at >= KIDS_EVERY_MS || parent !== this.kidsSent.to)) {
      // Sent even when empty: an absent list means "as before".
      s.kids = this.kidEntries(this.c.sourceAddrs.has(parent) || depth <= 1)
      this.kidsSent = { at: now, to: parent }
    }
    return s
  }

  private kidEntries(grandkids: boolean): KidEntry[] {
    const ranked = [...this.kids].sort((x, y) => y[1].s.viewers - x[1].s.viewers).slice(0, MAX_KIDS)
    let left = MAX_GRANDKIDS
    return ranked.map(([a, { s }]) => {
      const e: KidEntry = { a, v: s.viewers, h: Math.round(health(s) * 1000) / 1000 }
      if (s.suspect > 0) e.s = s.suspect
      if (grandkids && s.kids?.length && left > 0) {
        e.k = s.kids.slice(0, left).map(({ a: ga, v, h, s: gs }) => ({ a: ga, v, h, ...(gs ? { s: gs } : {}) }))
        left -= e.k.length
      }
      return e
    })
  }

  /** This node alone over its window: one viewer, and what it counted since the window began. */
  private ownWindow(): AudienceSummary {
    const now = this.c.node.timers.now()
    const cur = this.current(now)
    const base = this.base(now) ?? cur
    const s = emptySummary()
    s.viewers = 1
    s.byDepth = [1]
    s.onTime = cur.onTime - base.onTime
    s.late = cur.late - base.late
    s.missed = cur.missed - base.missed
    s.stalls = cur.stalls - base.stalls
    s.stallSeconds = Math.round((cur.stallSeconds - base.stallSeconds) * 1000) / 1000
    s.up = cur.up - base.up
    s.down = cur.down - base.down
    s.fromSource = cur.fromSource - base.fromSource
    s.versions = { [this.version]: 1 }
    const nat = NAT_KINDS.indexOf(this.c.node.nat.kind as typeof NAT_KINDS[number])
    if (nat >= 0) { s.nat = [0, 0, 0]; s.nat[nat] = 1 }
    return s
  }

  private current(now: number): Snapshot {
    const t = this.k.stats.totals
    return { at: now, up: t.uploadedBytes, down: t.receivedBytes, fromSource: t.receivedFromSourceBytes, ...this.own, maxKnown: this.c.edge.maxKnown }
  }

  /** The newest snapshot at least WINDOW_MS old, or the oldest we have. */
  private base(now: number): Snapshot | undefined {
    let b: Snapshot | undefined
    for (const s of this.snaps) if (now - s.at >= WINDOW_MS) b = s
    return b ?? this.snaps[0]
  }

  private windowMs(): number {
    const now = this.c.node.timers.now()
    const b = this.base(now)
    return b ? Math.max(1, now - b.at) : WINDOW_MS
  }

  private snapshot(now: number): void {
    this.countMissed(now)
    this.snaps.push(this.current(now))
    // Keep one snapshot at least WINDOW_MS old and everything newer.
    while (this.snaps.length > 1 && now - this.snaps[1].at >= WINDOW_MS) this.snaps.shift()
  }

  /** Chunks we learned of MISSED_AFTER_MS ago and still lack will not be played: missed. */
  private countMissed(now: number): void {
    const edge = this.c.edge
    if (this.c.isSource || edge.startChunk < 0) return
    let cutoff = -1
    for (const s of this.snaps) if (now - s.at >= MISSED_AFTER_MS) cutoff = s.maxKnown
    if (this.missedCursor < edge.startChunk) this.missedCursor = edge.startChunk
    if (cutoff <= this.missedCursor) return
    for (let n = Math.max(this.missedCursor, cutoff - LIVE_WINDOW_CHUNKS); n < cutoff; n++) if (!this.c.log.hasChunk(n)) this.own.missed++
    this.missedCursor = cutoff
  }

  /** Chunks we verified in our window (none known at the source, or before a window's worth). */
  private ownVerified(): number | undefined {
    if (this.c.isSource || this.windowMs() < WINDOW_MS) return undefined
    const s = this.ownWindow()
    return Math.max(MIN_CHUNKS_PER_VIEWER, s.onTime + s.late)
  }

  /** Chunks a viewer can have verified in a window: about what the stream produced in ours. */
  private chunksPerViewer(): number {
    const now = this.c.node.timers.now()
    const b = this.base(now)
    // Too young to know the stream's rate: no cap beyond the absolute one.
    if (!b || now - b.at < REPORT_MS) return MAX_CHUNKS_PER_VIEWER
    const produced = this.c.edge.maxKnown - b.maxKnown
    const scale = WINDOW_MS / (now - b.at)
    return Math.max(MIN_CHUNKS_PER_VIEWER, Math.ceil(CHUNK_MARGIN * produced * Math.max(1, scale)))
  }
}
