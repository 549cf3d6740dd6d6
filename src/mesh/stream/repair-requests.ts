// Pulls what the push missed: each missing chunk of the live window is asked of a holder (the
// stripe parent first, unless it went quiet), retried elsewhere on timeout or "I do not have it",
// and the source only within this viewer's share of its repair budget. Also fills holes in the
// segment index.
import type { Ctx } from '../node.ts'
import type { Message, MessageOf } from '../messages.ts'
import { MAX_RECORDS_PER_MESSAGE } from '../messages.ts'
import type { MissingChunk } from '../stream-policy.ts'
import { SOURCE_REFUSAL_BACKOFF_MS, SOURCE_REPAIR_BUDGET, planRepairs, playbackDeadline, stripeOf } from '../stream-policy.ts'
import { CHUNK_SIZE } from '../../store/stream-types.ts'
import type { Holders } from './holders.ts'
import type { StripeParents } from './stripe-parents.ts'
import type { ChunkTracker } from './chunk-tracker.ts'
import type { SwarmStats } from './swarm-stats.ts'
import { LIVE_WINDOW_CHUNKS, PLAYOUT_DELAY_MS, type SwarmContext } from './swarm-context.ts'
import { reachableFirst } from '../nat/reachable-first.ts'
import { TokenBucket } from '../bandwidth/token-bucket.ts'

/** Segment records missing from our index are asked for at most this often. Parents push each
 * record once; one that did not come (a parent that fed us nothing, a lost datagram) would
 * otherwise leave a hole in the player's playlist for good. */
const SEGMENT_REPAIR_MS = 500
/** How far back from the newest segment holes in the index are still worth filling. */
const SEGMENT_REPAIR_WINDOW = 64
/** A capped uplink spends at most this share of its cap on pull requests, each about this many
 * bytes on the wire (a PleaseSendContent datagram), and may send this many at once. */
const REQUEST_SHARE = 0.25
const REQUEST_BYTES = 160
const REQUEST_BURST = 16
/** ... and asks at most this many times a second per chunk the stream publishes a second. Pulls
 * answered "ask them" are asked again elsewhere within REFUSED_RETRY_MS: when every holder is a
 * capped uplink with no spare (each answers hints only), a quarter of a two-copy cap let each
 * viewer send 250 requests a second, four for every block of the stream, and the hints they
 * earned went out ahead of everyone's pushes (50 viewers at two copies: 124 thousand requests and
 * 98 thousand hints in 10 s, control 44 % of the wire; docs/SCHEDULER.md, session 25). */
const REQUESTS_PER_CHUNK = 2

/** Holders besides the parents a missing chunk may be asked of, per repair pass: enough to rotate
 * through on retries. */
const REST_HOLDERS = 6

export interface RepairComponents { context: SwarmContext; holders: Holders; parents: StripeParents; tracker: ChunkTracker; stats: SwarmStats }

export class RepairRequests {
  private readonly c: SwarmContext
  private readonly k: RepairComponents
  private segmentsAskedAt = 0
  /** Segment records [from, to) were all held at the last pass, with the log's floor then. */
  private readonly segmentsHeld = { from: 0, to: 0, floor: -1 }
  /** When the source last pointed us elsewhere instead of serving a pull. */
  private sourceRefusedAt = -Infinity
  /** The window's lower end at the last pass: requests below it are already forgotten. */
  private prunedBelow = -Infinity

  /** Requests a capped uplink may still send: a bucket counted in requests, refilled at
   * REQUEST_SHARE of the cap in requests of about REQUEST_BYTES, holding REQUEST_BURST. A weak
   * uplink whose requests took its whole cap queued its own subscriptions behind them and lost
   * them (the simulator's uneven-uplink viewers). None without a cap. Made when a cap is first
   * known (a measured one comes after the start) and again when it changes. */
  private requests: TokenBucket | undefined
  private readonly uploadBps: () => number | undefined

  /** `uploadBps`: what this viewer may upload, chunk bytes a second (`--max-upload`, or its
   * measured uplink: Children.uploadBps): its requests must fit in it. */
  constructor(components: RepairComponents, init: { uploadBps?: () => number | undefined } = {}) {
    this.c = components.context
    this.k = components
    this.uploadBps = init.uploadBps ?? (() => undefined)
  }

  /** The request bucket for the cap known now (undefined: none). */
  private requestBucket(): TokenBucket | undefined {
    const cap = this.uploadBps()
    if (cap === undefined) return undefined
    const chunkMs = this.c.pace.chunkMs()
    const rate = Math.min((REQUEST_SHARE * cap) / REQUEST_BYTES, chunkMs === undefined || chunkMs <= 0 ? Infinity : (REQUESTS_PER_CHUNK * 1000) / chunkMs)
    // Made again when the rate moved by a tenth or more: the pace moves a little with every chunk.
    const current = this.requests?.rate
    if (current === undefined || Math.abs(rate - current) > 0.1 * current) this.requests = new TokenBucket(this.c.node.timers, { rate, burst: REQUEST_BURST })
    return this.requests
  }

  onHint(m: MessageOf<'MaybeTheyHaveSome'>, ctx: Ctx): void {
    for (const p of m.peers) this.k.holders.note(p)
    // "I do not have it" answers our pulls to that peer now: retry elsewhere after REFUSED_RETRY_MS, not their timeout.
    this.k.tracker.refusedBy(ctx.from, this.c.node.timers.now())
    if (this.c.sourceAddrs.has(ctx.from)) this.sourceRefusedAt = this.c.node.timers.now()
  }

  repair(now: number): void {
    const { edge, log, node } = this.c
    const from = Math.max(edge.startChunk, edge.maxKnown - LIVE_WINDOW_CHUNKS)
    // Only when the window moved: a request is only ever made inside it (or for the init chunks,
    // kept), so none can be below an unmoved lower end (the walk over every open request on every
    // tick showed in profiles).
    const tracker = this.k.tracker
    const init = tracker.initChunks().filter((n) => n < from)
    if (from > this.prunedBelow) {
      tracker.dropBelow(from)
      this.prunedBelow = from
    }
    const missing: MissingChunk[] = []
    // An fMP4 init below our start: due now, no segment plays without it.
    for (const n of init) if (!log.hasChunk(n)) missing.push({ n, knownSince: tracker.heard(n, now), deadline: now })
    for (const n of log.missingChunks(from, edge.maxKnown)) {
      const since = tracker.heard(n, now)
      const rec = log.chunkRecord(n)
      // Without its record we only know the chunk is already out: treat it as due now.
      missing.push({ n, knownSince: since, deadline: rec ? playbackDeadline(rec.time, PLAYOUT_DELAY_MS, edge.joinedAt) : since, backfill: rec !== null && edge.joinedAt !== null && rec.time < edge.joinedAt.at })
    }
    if (missing.length === 0) return
    const budget = now - this.sourceRefusedAt < SOURCE_REFUSAL_BACKOFF_MS ? 0 : this.sourceBudgetChunks()
    const requests = this.requestBucket()
    const reqs = planRepairs({
      now, missing, inFlight: tracker.requests(),
      holders: this.holdersOf(now),
      source: [...this.c.sourceAddrs][0],
      sourceBudgetChunks: budget,
      fedBySource: (n) => this.c.sourceAddrs.has(this.k.parents.parent(stripeOf(n)) ?? ''),
      rttMs: (p) => node.peers.get(p)?.rttMs ?? 50,
      maxRequests: requests && Math.max(0, Math.floor(requests.tokens())),
    })
    requests?.take(reqs.length)
    for (const r of reqs) {
      tracker.asked(r.n, r.peer, now)
      node.send(r.peer, this.requestFor(r.n))
    }
  }

  /** What to ask for chunk `n`: only the blocks we lack (a lost datagram costs one block, not the
   * chunk), only its record when every block is here, else the whole chunk. */
  private requestFor(n: number): Message[] {
    const id = this.c.id
    const whole: Message[] = [{ type: 'PleaseSendContent', id, offset: n * CHUNK_SIZE, length: CHUNK_SIZE }]
    const ranges = this.k.tracker.assembly.missingRanges(n)
    if (!ranges) return whole
    const rec = this.c.log.chunkRecord(n)
    if (!rec) return ranges.length === 0 ? [{ type: 'PleaseSendChunkHashes', id, from: n, count: 1 }] : whole
    const end = rec.length
    const asks = ranges.filter((r) => r.offset < end).map((r): Message => ({ type: 'PleaseSendContent', id, offset: n * CHUNK_SIZE + r.offset, length: Math.min(r.length, end - r.offset) }))
    return asks.length ? asks : whole
  }

  /** Asks for the oldest hole in our segment index (below the head's count or a record we hold),
   * from a parent that is pushing, else a holder; the answer fills up to 16 records. */
  repairSegments(now: number, headSegments: number): void {
    if (now - this.segmentsAskedAt < SEGMENT_REPAIR_MS) return
    const log = this.c.log
    const top = Math.max(headSegments, log.segmentCount())
    const lo = Math.max(this.c.edge.startSegment, top - SEGMENT_REPAIR_WINDOW)
    // Records seen held on an earlier pass are still held unless retention trimmed (it raises the
    // floor): the walk resumes past them instead of looking all 64 up again on every tick.
    const held = this.segmentsHeld
    let n = held.floor === log.floor && lo >= held.from && lo <= held.to ? held.to : lo
    while (n < top && log.segment(n)) n++
    held.from = lo; held.to = n; held.floor = log.floor
    if (n >= top) return
    const hole = n
    this.segmentsAskedAt = now
    const flowing = this.k.parents.flowing()
    const hs = this.k.holders.list('', Infinity, (a) => !this.k.parents.hasFailedUs(a, now))
    const pool = flowing.length ? flowing : hs
    if (pool.length === 0) return
    this.c.node.send(pool[Math.floor(this.c.node.timers.random() * pool.length)], [{ type: 'PleaseSendSegments', id: this.c.id, from: hole, count: MAX_RECORDS_PER_MESSAGE }])
  }

  /** The share of the source's repair budget this viewer may use: we cannot see the source's
   * counters, so each viewer keeps its own pulls from the source within the budget of its stream. */
  private sourceBudgetChunks(): number {
    const received = this.k.stats.totals.receivedBytes / CHUNK_SIZE
    const fromSource = this.k.stats.totals.receivedFromSourceBytes / CHUNK_SIZE
    return Math.max(0, Math.floor(received * SOURCE_REPAIR_BUDGET + 2 - fromSource))
  }

  /** Who to ask for chunk n, best first, for one repair pass. The answer depends only on n's
   * stripe, so it is worked out once per stripe and pass (when first asked), not once per missing
   * chunk; the holder walk is done once per pass and stops as soon as no stripe can use more. */
  private holdersOf(now: number): (n: number) => string[] {
    const parents = this.k.parents
    const all = parents.all()
    const node = this.c.node
    const sources = this.c.sourceAddrs
    let known: string[] | undefined
    // Each stripe takes up to REST_HOLDERS holders that are not its parent, another stripe's parent
    // or a source: a walk that stops after that many plus all those it may skip yields the same
    // first entries as the full list. Behind a symmetric NAT the list is reordered (proven peers
    // first), so it is walked in full there.
    const enough = node.nat.kind === 'symmetric' ? Infinity : REST_HOLDERS + all.length + sources.size
    const holders = (): string[] => (known ??= reachableFirst(node, this.k.holders.list('', enough, (a) => !parents.hasFailedUs(a, now))))
    // The stripe parent is the natural holder, unless it has gone quiet: then it probably lacks
    // the chunk too (or is gone), and the parents of the other stripes, still pushing, go first.
    const quietAt = (i: number) => parents.quiet(i, now)
    const perStripe: Array<string[] | undefined> = new Array(all.length)
    const ofStripe = (s: number): string[] => {
      const parent = all[s]
      const quiet = parent !== undefined && quietAt(s)
      const others = all.filter((p, i): p is string => p !== undefined && i !== s && p !== parent && !quietAt(i))
      const rest: string[] = []
      for (const p of holders()) {
        if (rest.length === REST_HOLDERS) break
        if (p !== parent && !others.includes(p) && !sources.has(p)) rest.push(p)
      }
      const first = parent && !quiet ? [parent] : []
      return [...first, ...others, ...rest, ...(parent && quiet ? [parent] : [])]
    }
    return (n) => {
      const s = stripeOf(n)
      return (perStripe[s] ??= ofStripe(s))
    }
  }

}
