// One live stream on one node: joins at the live edge, keeps a parent per stripe, pushes verified
// chunks to its children, pulls what the push missed, and answers other nodes' requests. Each of
// those jobs lives in its own file beside this one; this file wires them together, routes the
// stream's messages to them and runs the viewer's loop. The decisions live in stream-policy.ts.
import { EventEmitter } from 'node:events'
import type { CjNode, Ctx } from '../node.ts'
import type { Message, MessageOf } from '../messages.ts'
import { STRIPES } from '../messages.ts'
import type { StreamLog } from '../../store/stream-log.ts'
import type { SegmentRecord } from '../../store/stream-types.ts'
import { CHUNK_SIZE } from '../../store/stream-types.ts'
import type { Timer } from '../../util/timers.ts'
import { LIVE_WINDOW_CHUNKS, PLAYOUT_DELAY_MS, RESUME_SEGMENTS_BACK, START_SEGMENTS_BACK, judge, type LiveEdge, type SwarmContext } from './swarm-context.ts'
import { Holders } from './holders.ts'
import { SwarmStats } from './swarm-stats.ts'
import { ChunkTracker } from './chunk-tracker.ts'
import { SourceBudget } from './source-budget.ts'
import { StripeParents } from './stripe-parents.ts'
import { Children } from './children.ts'
import { RepairRequests } from './repair-requests.ts'
import { ChunkServer } from './chunk-server.ts'
import { ChunkReceiver } from './chunk-receiver.ts'
import type { SwarmStatus } from './swarm-status.ts'
import { AudienceReporter } from '../telemetry/audience-reporter.ts'
import type { AudienceView } from '../telemetry/audience-view.ts'
import type { AudiencePoint } from '../telemetry/audience-history.ts'
import { ChunkPace } from './chunk-pace.ts'

export { START_SEGMENTS_BACK, LIVE_WINDOW_CHUNKS, PLAYOUT_DELAY_MS } from './swarm-context.ts'
export type { SwarmStatus } from './swarm-status.ts'

const TICK_MS = 50
/** How often drain() looks whether the swarm went quiet. */
const DRAIN_CHECK_MS = 100
/** Segment records forwarded to children, remembered so each goes down once. */
const FORWARDED_SEGMENTS = 64

export class StreamSwarm extends EventEmitter {
  readonly id: string
  readonly isSource: boolean
  readonly log: StreamLog
  private readonly node: CjNode
  private readonly context: SwarmContext
  private readonly edge: LiveEdge = { maxKnown: 0, startChunk: -1, startSegment: 0, joinedAt: null }
  private readonly holders: Holders
  private readonly swarmStats: SwarmStats
  private readonly parents: StripeParents
  private readonly children: Children
  private readonly repairs: RepairRequests
  private readonly server: ChunkServer
  private readonly receiver: ChunkReceiver
  private readonly tracker: ChunkTracker
  private readonly audience: AudienceReporter
  private forwardedSegments = new Set<number>()
  private timer: Timer | undefined
  private headAskedAt = 0
  /** Segment records the log held when this swarm opened it: more than none for a viewer reopened
   * on its folder (after a crash, a restart), whose newest second of records may not have reached
   * the journal (they are written in batches, records-journal.ts). */
  private readonly resumedSegments: number
  /** The registry's number for this stream, which our children's telemetry names it by. */
  readonly audienceTag: number
  /** When a peer last asked this node for the stream's head, records or bytes (drain() waits on it). */
  private askedAt = 0
  private closed = false

  /** `maxUploadBps`: the upload this viewer gives, bytes a second (`watch --max-upload`); a viewer
   * that cannot upload a copy of the stream (a child in each stripe) asks to be a leaf. Counted
   * against a full interior node's children (FANOUT), every viewer that could upload two copies
   * was a leaf: nobody could take a relay's place or push a leaf down, and a third of the
   * stripes found no parent (50 viewers, docs/SCHEDULER.md, session 25). */
  constructor(node: CjNode, log: StreamLog, init: { bootstrap?: string[]; maxUploadBps?: number; audienceTag?: number } = {}) {
    super()
    this.node = node
    this.log = log
    this.id = log.id
    this.isSource = log.isSource
    const bootstrap = init.bootstrap ?? []
    node.uplinkPacing = this.isSource ? 'source' : node.uplinkPacing === 'unset' ? 'viewer' : node.uplinkPacing
    const context: SwarmContext = this.context = {
      id: log.id, isSource: log.isSource, role: log.isSource ? 'source' : 'relay', node, log, edge: this.edge, pace: new ChunkPace(), sourceAddrs: new Set(), events: this,
    }
    this.holders = new Holders({ context }, { bootstrap })
    this.swarmStats = new SwarmStats({ context })
    this.tracker = new ChunkTracker({ context })
    const budget = new SourceBudget({ context, stats: this.swarmStats })
    const leaf = (): boolean => (this.children.capacity() ?? Infinity) < STRIPES
    this.parents = new StripeParents({ context, holders: this.holders }, { bootstrap, leaf, carries: (s) => this.children.of(s).size, tellLate: (s) => this.children.tellLate(s), room: (s) => this.children.roomIn(s), giveCatchUp: (to, s, from) => this.children.handOver(to, s, from) })
    const parts = { context, holders: this.holders, parents: this.parents, tracker: this.tracker, stats: this.swarmStats }
    this.children = new Children({ ...parts, budget }, { maxUploadBps: init.maxUploadBps })
    this.repairs = new RepairRequests(parts, { uploadBps: () => this.children.uploadBps() })
    this.server = new ChunkServer({ ...parts, children: this.children, budget })
    this.receiver = new ChunkReceiver(parts)
    this.audienceTag = init.audienceTag ?? 0
    this.audience = new AudienceReporter({ context, stats: this.swarmStats, children: this.children, parents: this.parents }, { tag: this.audienceTag })
    this.resumedSegments = log.isSource ? 0 : log.segmentCount()
    this.log.on('verified', this.onLocalChunk)
    this.log.on('segment', this.onLocalSegment)
    this.log.on('end', this.onLocalEnd)
    if (this.isSource) {
      this.edge.maxKnown = log.head()?.chunks ?? 0
      this.edge.startChunk = 0
    }
  }

  /** The first chunk we play (-1 until we joined). */
  get startChunk(): number { return this.edge.startChunk }
  set startChunk(n: number) { this.edge.startChunk = n }

  get stats(): SwarmStats['totals'] { return this.swarmStats.totals }

  start(): void {
    if (this.timer || this.closed) return
    this.timer = this.node.timers.setInterval(() => this.tick(), TICK_MS)
    this.tick()
  }

  // ---- local events: a chunk became verified here (source append, or replica put before its write) ----

  private onLocalChunk = (n: number, bytes: Buffer): void => {
    const rec = this.log.chunkRecord(n)
    if (!rec) return
    if (this.isSource) this.swarmStats.produced(rec.length)
    this.edge.maxKnown = Math.max(this.edge.maxKnown, n + 1)
    if (this.isSource) { this.children.push(n, rec, bytes); return }
    // A chunk we pulled goes down the stripe too, flagged as a repair (children do not count it as
    // their parent feeding them, so a cycle cannot live on its own repairs): one loss upstream
    // then costs one pull, not one per node of the subtree. Only while a player can still use it.
    const how = this.tracker.takeForwarding(n)
    if (how === 'repair' && this.node.timers.now() - rec.time > PLAYOUT_DELAY_MS) return
    this.children.push(n, rec, bytes, how === 'repair')
  }

  private onLocalSegment = (seg: SegmentRecord): void => {
    if (this.forwardedSegments.has(seg.n)) return
    this.forwardedSegments.add(seg.n)
    if (this.forwardedSegments.size > FORWARDED_SEGMENTS) this.forwardedSegments.delete(Math.min(...this.forwardedSegments))
    // Segment records are small and rare (one a second): every child gets each once.
    const msg: Message = { type: 'HereAreSegments', id: this.id, segments: [seg] }
    for (const c of this.children.all()) this.node.send(c, [msg])
  }

  private onLocalEnd = (): void => {
    const head = this.log.head()
    if (!head) return
    for (const c of this.children.all()) this.node.send(c, [{ type: 'ThisStreamGrew', head }])
  }

  // ---- messages from peers (routed here by StreamRegistry) ----

  onHeadRequest(ctx: Ctx): void { this.noteAsked(); this.server.onHeadRequest(ctx) }
  onChunkHashesRequest(m: MessageOf<'PleaseSendChunkHashes'>, ctx: Ctx): void { this.noteAsked(); this.server.onChunkHashesRequest(m, ctx) }
  onSegmentsRequest(m: MessageOf<'PleaseSendSegments'>, ctx: Ctx): void { this.noteAsked(); this.server.onSegmentsRequest(m, ctx) }
  onContentRequest(m: MessageOf<'PleaseSendContent'>, ctx: Ctx): Promise<void> | void { this.noteAsked(); return this.server.onContentRequest(m, ctx) }

  private noteAsked(): void { this.askedAt = this.node.timers.now() }

  /** The source's last duty after signing the end: stay up until no peer has asked for anything
   * for `quietMs` (a viewer that holds the whole stream and the ended head asks nothing more), at
   * most `maxMs`. Exiting at once left viewers without the last chunks or the end, so their
   * playlists never got ENDLIST. `quietMs` should outlast a viewer's head poll (2 s). */
  drain(quietMs: number, maxMs: number): Promise<void> {
    const timers = this.node.timers
    const start = timers.now()
    // With no children, the quiet counts from the last ask: a source nobody asked lately ends at once.
    const quietFrom = this.children.all().size === 0 ? this.askedAt : start
    return new Promise((resolve) => {
      const check = (): void => {
        const now = timers.now()
        if (this.closed || now - start >= maxMs || now - Math.max(quietFrom, this.askedAt) >= quietMs) resolve()
        else timers.setTimeout(check, DRAIN_CHECK_MS)
      }
      check()
    })
  }
  onChunkHashes(m: MessageOf<'HereAreChunkHashes'>, ctx: Ctx): void { this.receiver.onChunkHashes(m, ctx) }
  onContent(m: MessageOf<'Content'>, ctx: Ctx): void { this.receiver.onContent(m, ctx) }
  onSubscribe(m: MessageOf<'PleaseKeepSendingMe'>, ctx: Ctx): void { this.children.onSubscribe(m, ctx) }
  onUnsubscribe(m: MessageOf<'StopSendingMe'>, ctx: Ctx): void { this.children.onUnsubscribe(m, ctx) }
  onSubscribed(m: MessageOf<'IWillKeepSendingYou'>, ctx: Ctx): void { this.parents.onSubscribed(m, ctx); this.parents.logTransitions() }
  onRedirect(m: MessageOf<'AskThemInstead'>, ctx: Ctx): void { this.parents.onRedirect(m, ctx); this.parents.logTransitions() }
  onHint(m: MessageOf<'MaybeTheyHaveSome'>, ctx: Ctx): void { this.repairs.onHint(m, ctx) }
  onAudience(m: MessageOf<'HereIsMyAudience'>, ctx: Ctx): void { this.audience.onAudience(m, ctx) }
  onAudienceGrant(m: MessageOf<'TellMeYourAudienceAtMost'>, ctx: Ctx): void { this.audience.onGrant(m, ctx) }
  holdsAudienceGrant(from: string, tag: number): boolean { return this.audience.holdsGrant(from, tag) }

  /** What this node's player pages reported for this stream (counted in the audience telemetry). */
  notePlayback(stalls: number, stallSeconds: number): void { this.audience.playback(stalls, stallSeconds) }

  /** The audience below this node (the whole audience at the source), and the source's last hour. */
  audienceView(): AudienceView { return this.audience.view() }
  audienceHistory(): AudiencePoint[] { return this.audience.history?.list() ?? [] }

  /** A peer proved its key at a new address (its NAT moved it): its places follow it. */
  peerMoved(from: string, to: string): void {
    this.parents.moved(from, to)
    this.children.moved(from, to)
    this.holders.moved(from, to)
    const src = this.context.sourceAddrs
    if (src.delete(from)) src.add(to)
  }

  onHead(m: MessageOf<'ThisStreamGrew'>, ctx: Ctx): void {
    judge(this.context, this.log.putHead(m.head), ctx.from)
    const head = this.log.head()
    if (head) this.edge.maxKnown = Math.max(this.edge.maxKnown, head.chunks)
    this.holders.note(ctx.from)
    if (head?.ended && m.head.ended) this.emit('ended')
    // Joining: ask the peer that told us the edge for the newest segment records right away.
    if (head && this.edge.startChunk < 0 && !this.isSource) {
      if (head.segments === 0) this.chooseStart()
      else ctx.reply({ type: 'PleaseSendSegments', id: this.id, from: Math.max(0, head.segments - START_SEGMENTS_BACK), count: START_SEGMENTS_BACK })
    }
  }

  onInfo(m: MessageOf<'HereIsTheStreamInfo'>, ctx: Ctx): void {
    judge(this.context, this.log.putInfo(m.info), ctx.from)
  }

  onSegments(m: MessageOf<'HereAreSegments'>, ctx: Ctx): void {
    if (this.isSource) return
    for (const seg of m.segments) {
      const v = this.log.putSegment(seg)
      judge(this.context, v, ctx.from)
      if (v.result === 'accept') this.onLocalSegment(seg)
    }
    if (this.edge.startChunk < 0) this.chooseStart()
  }

  // ---- the viewer's loop: find the edge, keep parents, pull holes ----

  private tick(): void {
    if (this.closed) return
    const now = this.node.timers.now()
    this.children.expire(now)
    this.children.shed()
    this.children.answerDeferred()
    this.audience.tick(now)
    if (this.isSource) return
    const head = this.log.head()
    if (!head || !this.log.info() || this.edge.startChunk < 0) {
      // Retry quickly at first (the hello and the cookie round trip may still be under way).
      if (now - this.headAskedAt > 300) {
        this.headAskedAt = now
        // Peers that proved their address first: hearsay (a liar's list of holders, refreshed
        // faster than anyone honest speaks) must not crowd out the peers that can answer.
        const proven = (a: string) => this.node.peers.get(a)?.verified === true
        const hs = this.holders.list('')
        for (const p of [...hs.filter(proven), ...hs.filter((a) => !proven(a))].slice(0, 4)) this.node.send(p, [{ type: 'PleaseSendStreamHead', id: this.id }])
      }
      return
    }
    if (head.ended && this.log.missingChunks(this.edge.startChunk, head.chunks).length === 0) return
    this.parents.keep(now)
    this.parents.logTransitions()
    this.repairs.repair(now)
    this.repairs.repairSegments(now, head.segments)
    // Keep learning the edge from someone other than our parents, so a lying parent cannot hide it.
    if (now - this.headAskedAt > 2000) {
      this.headAskedAt = now
      const hs = this.holders.list('')
      if (hs.length) this.node.send(hs[Math.floor(this.node.timers.random() * hs.length)], [{ type: 'PleaseSendStreamHead', id: this.id }])
    }
  }

  /** Joins at the live edge: a few segments back from the newest, never at byte 0 of a long stream.
   * A viewer reopened on its folder starts at the newest segment its store kept instead (see
   * resumeSegment); its playback clock still starts at the live start, where its player starts. */
  private chooseStart(): void {
    const head = this.log.head()
    if (!head) return
    const live = Math.max(0, head.segments - START_SEGMENTS_BACK)
    const liveSeg = this.log.segment(live)
    if (head.segments > 0 && !liveSeg) return
    const resumed = liveSeg ? this.resumeSegment(head.segments, head.chunks, live) : null
    const seg = resumed ?? liveSeg
    const edge = this.edge
    edge.startSegment = seg?.n ?? live
    const start = seg ? Math.floor(seg.offset / CHUNK_SIZE) : head.chunks
    edge.startChunk = Math.max(0, Math.min(start, head.chunks))
    const liveStart = liveSeg ? Math.floor(liveSeg.offset / CHUNK_SIZE) : edge.startChunk
    const now = this.node.timers.now()
    edge.joinedAt = { at: now, startPublishedAt: this.log.chunkRecord(liveStart)?.time ?? liveSeg?.pdt ?? now }
    edge.maxKnown = Math.max(edge.maxKnown, head.chunks)
    this.node.log.debug(resumed ? 'joining where the store ends' : 'joining at the live edge', { stream: this.id, chunk: edge.startChunk, of: head.chunks })
    this.emit('joined', edge.startChunk)
  }

  /** The newest segment a viewer reopened on its folder kept, when it is behind the live start but
   * near it: starting there, the repairs fetch the records and chunks a crash took (the last
   * second's, journaled in batches), which behind a live start would stay a hole for good. Not
   * when the store ends further back than RESUME_SEGMENTS_BACK (a viewer back after a long
   * absence starts live), below the repairs' live window (nobody would fetch it), or when its own
   * retention has deleted that record since it reopened. */
  private resumeSegment(headSegments: number, headChunks: number, live: number): SegmentRecord | null {
    const n = this.resumedSegments - 1
    if (n < 0 || n >= live || n < headSegments - RESUME_SEGMENTS_BACK) return null
    const seg = this.log.segment(n)
    if (!seg) return null
    const chunk = Math.floor(seg.offset / CHUNK_SIZE)
    return chunk >= this.log.floor && chunk >= headChunks - LIVE_WINDOW_CHUNKS ? seg : null
  }

  /** Peers that (probably) have this stream, most recently heard first, never banned ones. */
  holderList(exclude: string): string[] {
    return this.holders.list(exclude)
  }

  /** The byte counters the metrics export, without building a whole status (read at every scrape). */
  byteTotals(): { producedBytes: number; uploadedBytes: number } {
    const totals = this.swarmStats.totals
    // Until this process has produced a byte, a source counts what its log holds (reopened on its folder).
    const producedBytes = this.isSource ? totals.producedBytes || (this.log.head()?.length ?? 0) : 0
    return { producedBytes, uploadedBytes: totals.uploadedBytes }
  }

  status(): SwarmStatus {
    const head = this.log.head()
    const totals = this.swarmStats.totals
    const produced = this.byteTotals().producedBytes
    const reportStripe = this.parents.reportStripe()
    return {
      id: this.id,
      role: this.isSource ? 'source' : 'viewer',
      head: head ? { chunks: head.chunks, segments: head.segments, ended: head.ended, bytes: head.length, time: head.time } : null,
      sources: [...this.context.sourceAddrs].slice(0, 4),
      startChunk: this.edge.startChunk,
      verifiedChunks: this.log.verifiedCount(),
      parents: this.parents.all().map((p) => p ?? null),
      pathToSource: this.parents.ancestors(reportStripe ?? 0),
      ...(reportStripe !== undefined ? { reportStripe } : {}),
      children: this.children.perStripe(),
      fedBy: this.swarmStats.fedBy(),
      fedTo: this.swarmStats.fedTo(),
      uploadedBytes: totals.uploadedBytes,
      uploadedBy: { ...totals.uploadedBy },
      receivedBytes: totals.receivedBytes,
      receivedFromSourceBytes: totals.receivedFromSourceBytes,
      duplicateBytes: totals.duplicateBytes,
      duplicateBy: { ...totals.duplicateBy },
      producedBytes: produced,
      copiesUploaded: produced > 0 ? totals.uploadedBytes / produced : 0,
      chunks: { ...totals.chunks },
      delayMs: this.swarmStats.delayMs(),
      hops: { ...totals.hops },
      audience: this.audience.view(),
    }
  }

  /** Peers fed since the last call (the relay fan-out gauge), then resets the window. */
  takeFanout(): number {
    return this.swarmStats.takeFanout()
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.node.timers.clear(this.timer)
    this.log.off('verified', this.onLocalChunk)
    this.log.off('segment', this.onLocalSegment as never)
    this.log.off('end', this.onLocalEnd as never)
    this.parents.close()
  }
}
