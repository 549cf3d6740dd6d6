// One live stream on one node: joins at the live edge, keeps a parent per stripe, pushes verified
// chunks to its children, pulls what the push missed, and answers other nodes' requests. The
// decisions live in stream-policy.ts; this file turns messages into state and state into messages.
import { EventEmitter } from 'node:events'
import type { CjNode, Ctx } from './node.ts'
import type { Message, MessageOf } from './messages.ts'
import { STRIPES, MAX_RECORDS_PER_MESSAGE } from './messages.ts'
import { ChunkAssembly, type AddResult } from './chunk-assembly.ts'
import type { MissingChunk } from './stream-policy.ts'
import {
  CATCHUP_CHUNKS, CHILD_EXPIRY_MS, FAILED_RELAY_MS, FIRST_PUSH_MS, MISSED_PUSH_MS, PARENT_TIMEOUT_MS, RESUBSCRIBE_MS, SOURCE_REPAIR_BUDGET,
  decideChild, pushOverdue, isReceiving, mayServePull, planRepairs, playbackDeadline, rankParents, sourceMayServe, stripeOf,
} from './stream-policy.ts'
import type { StreamLog } from '../store/stream-log.ts'
import type { ChunkRecord, SegmentRecord, Verdict } from '../store/stream-types.ts'
import { BLOCK_SIZE, CHUNK_SIZE } from '../store/stream-types.ts'
import type { TrafficRole } from '../metrics/types.ts'
import type { Timer } from '../util/timers.ts'

/** A viewer starts this many segments behind the newest, enough for hls.js to start smoothly. */
export const START_SEGMENTS_BACK = 3
/** Chunks further behind the edge than this are abandoned: no player will ever want them. */
export const LIVE_WINDOW_CHUNKS = 512
/** How long a viewer expects to have after a chunk is published before its player needs it. */
export const PLAYOUT_DELAY_MS = 3000
/** Recent deliveries remembered for the relay graph (who fed us each chunk). */
const FED_BY_MEMORY = 256
/** Peers remembered as holders of this stream: enough to find parents, bounded against floods. */
const MAX_HOLDERS = 256
const TICK_MS = 50
/** A failing disk is reported at most this often (a full disk fails every chunk). */
const STORE_FAULT_LOG_MS = 10_000
/** A parent candidate that has not accepted or redirected us in this time is passed over. */
const JOIN_ANSWER_MS = 500
/** A viewer that asks the source for the same chunk this often, despite redirects, gets it. */
const ASKS_BEFORE_SOURCE_SERVES = 5
const MAX_REFUSED_ASKS = 4096
/** A stripe parent silent this long is asked for repairs last (a segment's chunks arrive within
 * a burst, so over a second of silence mid-stream means trouble upstream). */
const QUIET_PARENT_MS = 1200
/** Segment records missing from our index are asked for at most this often. Parents push each
 * record once; one that did not come (a parent that fed us nothing, a lost datagram) would
 * otherwise leave a hole in the player's playlist for good. */
const SEGMENT_REPAIR_MS = 500
/** How far back from the newest segment holes in the index are still worth filling. */
const SEGMENT_REPAIR_WINDOW = 64
/** A relay dropped as parent for silence is tried last among candidates for this long. */
const DROPPED_PARENT_MS = 10_000

/** A stripe we are looking for a parent in. `hello` is set while we wait for a candidate we have
 * never talked to to finish the cookie round trip: peers only take children they have verified.
 * `failed`: the parent that stopped feeding us, named in every ask so that its own parent drops it. */
interface Join { candidates: string[]; asked?: string; askedAt: number; tried: Set<string>; hello?: boolean; failed?: string }

export interface SwarmStatus {
  id: string
  role: 'source' | 'viewer'
  /** The signed live edge; its length (`bytes`) and signing time give the stream bitrate anywhere. */
  head: { chunks: number; segments: number; ended: boolean; bytes: number; time: number } | null
  /** Addresses that sent us chunks as the source (hops 0): a viewer's dashboard marks them. */
  sources: string[]
  startChunk: number
  verifiedChunks: number
  parents: (string | null)[]
  children: string[][]
  fedBy: Record<string, number>
  fedTo: Record<string, number>
  uploadedBytes: number
  receivedBytes: number
  receivedFromSourceBytes: number
  /** Payload bytes that arrived for chunks already held (or already being stored): wasted upload. */
  duplicateBytes: number
  producedBytes: number
  copiesUploaded: number
  chunks: { new: number; duplicate: number; late: number; rejected: number }
  delayMs: { p50: number; p95: number; p99: number; max: number; count: number }
  hops: Record<string, number>
}

export class StreamSwarm extends EventEmitter {
  readonly id: string
  readonly isSource: boolean
  private node: CjNode
  readonly log: StreamLog
  private role: TrafficRole
  private assembly: ChunkAssembly
  private parents: (string | undefined)[] = new Array(STRIPES).fill(undefined)
  private parentPushAt: number[] = new Array(STRIPES).fill(0)
  /** Newest chunk each stripe's parent pushed to us (from where we stood when it took us). */
  private parentPushedN: number[] = new Array(STRIPES).fill(-1)
  /** Since when each stripe's parent owes us a push (undefined: it does not), and its own parent
   * in that stripe (where to complain). */
  private overdueSince: (number | undefined)[] = new Array(STRIPES).fill(undefined)
  /** When each stripe's parent took us, and whether it has pushed anything since. */
  private parentSince: number[] = new Array(STRIPES).fill(0)
  private parentFed: boolean[] = new Array(STRIPES).fill(false)
  private parentVia: (string | undefined)[] = new Array(STRIPES).fill(undefined)
  private subscribedAt: number[] = new Array(STRIPES).fill(0)
  private joins: (Join | undefined)[] = new Array(STRIPES).fill(undefined)
  private children: Set<string>[] = Array.from({ length: STRIPES }, () => new Set())
  /** `<stripe> <addr>` -> until when: children reported as feeding nothing, and complainers heard
   * (each bounded by MAX_HOLDERS); when a stripe last lost a child that way. */
  private failedChildren = new Map<string, number>()
  private complainers = new Map<string, number>()
  private failedChildAt: number[] = new Array(STRIPES).fill(-Infinity)
  /** Parents that fed us nothing while the other stripes flowed, until when: never asked again
   * meanwhile (a squatter says yes to everyone; ranking it last is not enough). */
  private failedParents = new Map<string, number>()
  private childSeen = new Map<string, number>()
  private holders = new Map<string, number>()
  private sourceAddrs = new Set<string>()
  private inFlight = new Map<number, { peer: string; at: number; tries: number }>()
  private knownSince = new Map<number, number>()
  private hopsOf = new Map<number, number>()
  private fedByRing: string[] = []
  private fedToCounts = new Map<string, number>()
  private fedWindow = new Set<string>()
  private forwardedSegments = new Set<number>()
  /** Parents dropped for silence, and when (pruned past MAX_HOLDERS entries). */
  private droppedAt = new Map<string, number>()
  private bootstrap: string[]
  private timer: Timer | undefined
  private headAskedAt = 0
  private segmentsAskedAt = 0
  /** The first segment a joiner plays (segments before it are none of its business). */
  private startSegment = 0
  startChunk = -1
  /** When we joined, and when our start chunk was published: a joiner's playback clock. */
  private joinedAt: { at: number; startPublishedAt: number } | null = null
  /** Bytes produced before our first child: nobody could have wanted them, so no budget from them. */
  private producedBeforeChildren = -1
  /** Bytes served to pulls (not pushes): the source's repair budget counts these. */
  private pulledBytes = 0
  /** At the source: recent chunks published while their stripe had no child, so no peer has them. */
  private unpushed = new Set<number>()
  /** At the source: pulls refused for the budget, per requester and chunk. */
  private refusedAsks = new Map<string, number>()
  private pullWindow = { at: 0, served: 0 }
  /** Chunks being stored that came from their stripe parent: the ones we push on. */
  private fromParent = new Set<number>()
  private maxKnown = 0
  private closed = false
  private storeFaultAt = -Infinity
  private delays: number[] = []
  readonly stats = {
    uploadedBytes: 0, receivedBytes: 0, receivedFromSourceBytes: 0, producedBytes: 0, duplicateBytes: 0,
    chunks: { new: 0, duplicate: 0, late: 0, rejected: 0 }, hops: {} as Record<string, number>,
  }

  constructor(node: CjNode, log: StreamLog, init: { bootstrap?: string[] } = {}) {
    super()
    this.node = node
    this.log = log
    this.assembly = new ChunkAssembly((rec, i, bytes) => log.verify.block(rec, i, bytes))
    this.id = log.id
    this.isSource = log.isSource
    this.role = this.isSource ? 'source' : 'relay'
    this.bootstrap = init.bootstrap ?? []
    for (const b of this.bootstrap) this.noteHolder(b)
    this.log.on('chunk', this.onLocalChunk)
    this.log.on('segment', this.onLocalSegment)
    this.log.on('end', this.onLocalEnd)
    if (this.isSource) {
      const head = log.head()
      this.maxKnown = head?.chunks ?? 0
      this.startChunk = 0
    }
  }

  start(): void {
    if (this.timer || this.closed) return
    this.timer = this.node.timers.setInterval(() => this.tick(), TICK_MS)
    this.tick()
  }

  // ---- local events: a chunk became verified here (source append or replica put) ----

  private onLocalChunk = (n: number): void => {
    const rec = this.log.chunkRecord(n)
    if (!rec) return
    if (this.isSource) { this.stats.producedBytes += rec.length; this.node.metrics.streamBytesProduced(rec.length) }
    this.maxKnown = Math.max(this.maxKnown, n + 1)
    // Only what flows down the stripe is pushed on: a chunk we pulled is not forwarded, or a
    // cycle of nodes cut off from the source would keep itself alive on its own repairs.
    if (!this.isSource && !this.fromParent.delete(n)) return
    void this.push(n, rec)
  }

  private onLocalSegment = (seg: SegmentRecord): void => {
    if (this.forwardedSegments.has(seg.n)) return
    this.forwardedSegments.add(seg.n)
    if (this.forwardedSegments.size > 64) this.forwardedSegments.delete(Math.min(...this.forwardedSegments))
    // Segment records are small and rare (one a second): every child gets each once.
    const msg: Message = { type: 'HereAreSegments', id: this.id, segments: [seg] }
    for (const c of this.allChildren()) this.node.send(c, [msg])
  }

  private onLocalEnd = (): void => {
    const head = this.log.head()
    if (!head) return
    for (const c of this.allChildren()) this.node.send(c, [{ type: 'ThisStreamGrew', head }])
  }

  /** Pushes a newly verified chunk to this stripe's children, with its signed record. */
  private async push(n: number, rec: ChunkRecord): Promise<void> {
    const kids = [...this.children[stripeOf(n)]]
    if (kids.length === 0) {
      // Nobody received this chunk from us: until someone does, only we can supply it.
      if (this.isSource) this.noteUnpushed(n)
      return
    }
    let bytes: Buffer
    try { bytes = await this.log.read(n * CHUNK_SIZE, rec.length) } catch { return }
    const hops = this.isSource ? 0 : (this.hopsOf.get(n) ?? 1)
    for (const c of kids) this.sendChunk(c, n, rec, bytes, hops)
  }

  private sendChunk(to: string, n: number, rec: ChunkRecord, bytes: Buffer, hops: number): void {
    const msgs: Message[] = [{ type: 'HereAreChunkHashes', id: this.id, chunks: [rec] }]
    for (let off = 0; off < bytes.length; off += BLOCK_SIZE) {
      msgs.push({ type: 'Content', id: this.id, offset: n * CHUNK_SIZE + off, data: bytes.subarray(off, off + BLOCK_SIZE), hops })
    }
    const sent = this.node.send(to, msgs, 'stream', this.role)
    if (sent > 0) {
      this.stats.uploadedBytes += bytes.length
      this.fedToCounts.set(to, (this.fedToCounts.get(to) ?? 0) + 1)
      this.fedWindow.add(to)
    }
  }

  // ---- messages from peers (routed here by StreamRegistry) ----

  onHeadRequest(ctx: Ctx): void {
    const info = this.log.info()
    const head = this.log.head()
    if (info) ctx.reply({ type: 'HereIsTheStreamInfo', info })
    if (head) ctx.reply({ type: 'ThisStreamGrew', head })
  }

  onHead(m: MessageOf<'ThisStreamGrew'>, ctx: Ctx): void {
    this.judge(this.log.putHead(m.head), ctx, 'bad_signature')
    const head = this.log.head()
    if (head) this.maxKnown = Math.max(this.maxKnown, head.chunks)
    this.noteHolder(ctx.from)
    if (head?.ended && m.head.ended) this.emit('ended')
    // Joining: ask the peer that told us the edge for the newest segment records right away.
    if (head && this.startChunk < 0 && !this.isSource) {
      if (head.segments === 0) this.chooseStart()
      else ctx.reply({ type: 'PleaseSendSegments', id: this.id, from: Math.max(0, head.segments - START_SEGMENTS_BACK), count: START_SEGMENTS_BACK })
    }
  }

  onInfo(m: MessageOf<'HereIsTheStreamInfo'>, ctx: Ctx): void {
    this.judge(this.log.putInfo(m.info), ctx, 'bad_signature')
  }

  onChunkHashesRequest(m: MessageOf<'PleaseSendChunkHashes'>, ctx: Ctx): void {
    const out: ChunkRecord[] = []
    for (let n = m.from; n < m.from + Math.min(m.count, MAX_RECORDS_PER_MESSAGE); n++) {
      const r = this.log.chunkRecord(n)
      if (r) out.push(r)
    }
    if (out.length) ctx.reply({ type: 'HereAreChunkHashes', id: this.id, chunks: out })
  }

  onChunkHashes(m: MessageOf<'HereAreChunkHashes'>, ctx: Ctx): void {
    for (const rec of m.chunks) {
      if (this.isSource) continue
      const v = this.log.putChunkRecord(rec)
      this.judge(v, ctx, 'bad_signature')
      if (v.result === 'reject') continue
      this.maxKnown = Math.max(this.maxKnown, rec.n + 1)
      if (!this.knownSince.has(rec.n)) this.knownSince.set(rec.n, this.node.timers.now())
      const held = this.log.chunkRecord(rec.n)
      if (held) this.assembled(rec.n, this.assembly.tryComplete(held))
    }
  }

  onSegmentsRequest(m: MessageOf<'PleaseSendSegments'>, ctx: Ctx): void {
    const out: SegmentRecord[] = []
    for (let n = m.from; n < m.from + Math.min(m.count, MAX_RECORDS_PER_MESSAGE); n++) {
      const s = this.log.segment(n)
      if (s) out.push(s)
    }
    if (out.length) ctx.reply({ type: 'HereAreSegments', id: this.id, segments: out })
  }

  onSegments(m: MessageOf<'HereAreSegments'>, ctx: Ctx): void {
    if (this.isSource) return
    for (const seg of m.segments) {
      const v = this.log.putSegment(seg)
      this.judge(v, ctx, 'bad_signature')
      if (v.result === 'accept') this.onLocalSegment(seg)
    }
    if (this.startChunk < 0) this.chooseStart()
  }

  onSubscribe(m: MessageOf<'PleaseKeepSendingMe'>, ctx: Ctx): void {
    // Pushing a stream to an unproven address would be the worst amplification there is.
    if (!ctx.verified) return
    const s = m.stripe
    const now = this.node.timers.now()
    if (m.failed) this.onComplaint(s, m.failed, ctx.from, now)
    const failedUntil = this.failedChildren.get(`${s} ${ctx.from}`)
    const d = failedUntil !== undefined && failedUntil > now
      // Its children said it fed them nothing: no place here in this stripe for a while.
      ? { accept: false as const, tryInstead: [...this.children[s], ...this.holderList(ctx.from)].filter((a) => a !== ctx.from).slice(0, 8) }
      : decideChild({
        isSource: this.isSource, self: this.node.address, children: this.children,
        receiving: (i) => isReceiving(this.parents[i] !== undefined, this.parentPushAt[i], now),
        pushDown: (i) => now - this.failedChildAt[i] >= FAILED_RELAY_MS,
        leaf: this.node.nat.kind === 'symmetric', natOf: (a) => this.node.peers.get(a)?.nat,
      }, { from: ctx.from, stripe: s }, this.holderList(ctx.from))
    if (d.accept) {
      const isNew = !this.children[s].has(ctx.from)
      if (this.producedBeforeChildren < 0) this.producedBeforeChildren = this.stats.producedBytes
      this.children[s].add(ctx.from)
      this.childSeen.set(ctx.from, now)
      // Our own parent in the stripe goes with the yes: the child's backup if we fail it.
      const via = this.isSource ? undefined : this.parents[s]
      ctx.reply({ type: 'IWillKeepSendingYou', id: this.id, stripe: s, ...(via ? { via } : {}) })
      if (d.evict) {
        this.children[s].delete(d.evict)
        this.node.send(d.evict, [{ type: 'AskThemInstead', id: this.id, stripe: s, peers: [ctx.from] }])
      }
      if (isNew) void this.catchUpChild(ctx.from, s, m.from)
    } else {
      ctx.reply({ type: 'AskThemInstead', id: this.id, stripe: s, peers: d.tryInstead })
    }
  }

  /** A grandchild says our child `failed` fed it nothing in stripe `s`. We cannot see whether a
   * child relays, its children can: the child loses its place (and may not have it back for
   * FAILED_RELAY_MS) and the complainer, asking in the same message, takes it. A child only has
   * children once it receives (decideChild), so an honest child fails them only when its own
   * parent fails it, and then it complains first. A liar framing honest children is heard once
   * per stripe per FAILED_RELAY_MS, takes the place, feeds nothing, and is reported in turn; the
   * framed child moves under it, as in a push-down. */
  private onComplaint(s: number, failed: string, from: string, now: number): void {
    if (failed === from || !this.children[s].has(failed)) return
    const key = `${s} ${from}`
    if ((this.complainers.get(key) ?? -Infinity) > now || (this.failedChildren.get(key) ?? -Infinity) > now) return
    this.children[s].delete(failed)
    this.failedChildAt[s] = now
    remember(this.failedChildren, `${s} ${failed}`, now + FAILED_RELAY_MS, now)
    remember(this.complainers, key, now + FAILED_RELAY_MS, now)
    this.node.log.info('a child fed its children nothing; gave its place to one of them', { stream: this.id, stripe: s, child: failed, reportedBy: from })
    this.node.send(failed, [{ type: 'AskThemInstead', id: this.id, stripe: s, peers: [from] }])
  }

  /** A new child gets the last few chunks of its stripe it lacks, so a parent switch leaves no hole. */
  private async catchUpChild(to: string, stripe: number, from: number): Promise<void> {
    const top = this.maxKnown
    const begin = Math.max(from, top - CATCHUP_CHUNKS)
    for (let n = begin; n < top; n++) {
      if (stripeOf(n) !== stripe || !this.log.hasChunk(n)) continue
      const rec = this.log.chunkRecord(n)
      if (!rec) continue
      try { this.sendChunk(to, n, rec, await this.log.read(n * CHUNK_SIZE, rec.length), this.isSource ? 0 : (this.hopsOf.get(n) ?? 1)) } catch { continue /* evicted meanwhile */ }
      this.unpushed.delete(n)
    }
  }

  onSubscribed(m: MessageOf<'IWillKeepSendingYou'>, ctx: Ctx): void {
    if (this.isSource) return
    const j = this.joins[m.stripe]
    const via = m.via !== this.node.address && m.via !== ctx.from ? m.via : undefined
    if (this.parents[m.stripe] === ctx.from) { this.subscribedAt[m.stripe] = this.node.timers.now(); this.parentVia[m.stripe] = via; return }
    if (!j || j.asked !== ctx.from) {
      // An offer we did not ask for (or no longer want): decline it so the sender does not push in vain.
      this.node.send(ctx.from, [{ type: 'StopSendingMe', id: this.id, stripe: m.stripe }])
      return
    }
    this.parents[m.stripe] = ctx.from
    this.parentPushAt[m.stripe] = this.node.timers.now()
    this.subscribedAt[m.stripe] = this.node.timers.now()
    this.overdueSince[m.stripe] = undefined
    this.parentSince[m.stripe] = this.node.timers.now()
    this.parentFed[m.stripe] = false
    this.parentVia[m.stripe] = via
    // Judged from where we stand now: it owes us the pushes that come after.
    this.parentPushedN[m.stripe] = Math.max(...this.parentPushedN, this.maxKnown - 1)
    this.joins[m.stripe] = undefined
    this.noteHolder(ctx.from)
    this.node.log.debug('stripe parent', { stream: this.id, stripe: m.stripe, parent: ctx.from })
  }

  onRedirect(m: MessageOf<'AskThemInstead'>, ctx: Ctx): void {
    for (const p of m.peers) this.noteHolder(p)
    if (this.parents[m.stripe] === ctx.from && !this.isSource) {
      // Pushed down: our parent gave our place to a node with more room; move under it.
      this.parents[m.stripe] = undefined
      this.joins[m.stripe] = { candidates: m.peers.filter((p) => p !== this.node.address), askedAt: 0, tried: new Set([ctx.from]) }
      this.advanceJoin(m.stripe)
      return
    }
    const j = this.joins[m.stripe]
    if (!j || j.asked !== ctx.from) return
    const now = this.node.timers.now()
    const dropped = (a: string) => !this.sourceAddrs.has(a) && now - (this.droppedAt.get(a) ?? -Infinity) < DROPPED_PARENT_MS
    // A redirect may point back at a parent that just failed us (the source lists its children
    // first): such peers go to the end, after everything else we know.
    const fresh = m.peers.filter((p) => !j.tried.has(p) && p !== this.node.address && !this.hasFailedUs(p, now))
    const rest = j.candidates.filter((c) => !fresh.includes(c))
    j.candidates = [...fresh.filter((a) => !dropped(a)), ...rest.filter((a) => !dropped(a)), ...fresh.filter(dropped), ...rest.filter(dropped)]
    j.asked = undefined
    this.advanceJoin(m.stripe)
  }

  onUnsubscribe(m: MessageOf<'StopSendingMe'>, ctx: Ctx): void {
    this.children[m.stripe].delete(ctx.from)
  }

  onContentRequest(m: MessageOf<'PleaseSendContent'>, ctx: Ctx): Promise<void> | void {
    const n = Math.floor(m.offset / CHUNK_SIZE)
    const rec = this.log.chunkRecord(n)
    // A chunk the source never pushed exists nowhere else: it is served whatever the budget.
    // So is one the same viewer has asked for again and again after being pointed elsewhere: the
    // swarm cannot supply it (its holders vanished, or lied), and a hole must not stay a hole.
    const overBudget = this.isSource && !this.unpushed.has(n) && !sourceMayServe(this.pulledBytes, this.stats.producedBytes - Math.max(0, this.producedBeforeChildren)) &&
      !(ctx.verified && this.askedAgain(ctx.from, n))
    if (overBudget && rec) {
      // The source's upload is a budget: beyond one copy plus repairs it points to its subtree.
      const peers = [...this.children[stripeOf(n)], ...this.holderList(ctx.from)].filter((p) => p !== ctx.from).slice(0, ctx.verified ? 8 : 3)
      if (peers.length) { ctx.reply({ type: 'MaybeTheyHaveSome', id: this.id, peers }); return }
    }
    if (rec && this.log.hasChunk(n) && !this.isSource && !this.pullAllowance()) {
      const peers = [...this.children[stripeOf(n)], ...this.holderList(ctx.from)].filter((p) => p !== ctx.from).slice(0, ctx.verified ? 8 : 3)
      if (peers.length) { ctx.reply({ type: 'MaybeTheyHaveSome', id: this.id, peers }); return }
    }
    if (!rec || !this.log.hasChunk(n)) {
      const peers = this.holderList(ctx.from).slice(0, ctx.verified ? 8 : 3)
      if (peers.length) ctx.reply({ type: 'MaybeTheyHaveSome', id: this.id, peers })
      return
    }
    const within = m.offset - n * CHUNK_SIZE
    // Our own peers get the whole chunk they asked for; others one block, as they expect.
    const max = ctx.peer.speaksStreams ? CHUNK_SIZE : BLOCK_SIZE
    const length = Math.min(m.length, max, rec.length - within)
    if (length <= 0) return
    return this.replyChunk(ctx, n, rec, within, length)
  }

  /** Counts a pull we are about to serve; false when this second's allowance is used up. */
  private pullAllowance(): boolean {
    const now = this.node.timers.now()
    if (now - this.pullWindow.at >= 1000) this.pullWindow = { at: now, served: 0 }
    if (!mayServePull(this.pullWindow.served)) return false
    this.pullWindow.served++
    return true
  }

  private async replyChunk(ctx: Ctx, n: number, rec: ChunkRecord, within: number, length: number): Promise<void> {
    let bytes: Buffer
    try { bytes = await this.log.read(n * CHUNK_SIZE + within, length) } catch { return }
    const head = this.log.head()
    const ended = head?.ended ? head.length : undefined
    ctx.reply({ type: 'HereAreChunkHashes', id: this.id, chunks: [rec] })
    for (let off = 0; off < bytes.length; off += BLOCK_SIZE) {
      ctx.reply({ type: 'Content', id: this.id, offset: n * CHUNK_SIZE + within + off, data: bytes.subarray(off, off + BLOCK_SIZE), eof: ended, hops: this.isSource ? 0 : (this.hopsOf.get(n) ?? 1) }, 'stream', this.role)
    }
    this.stats.uploadedBytes += bytes.length
    this.pulledBytes += bytes.length
    this.unpushed.delete(n)
    this.fedToCounts.set(ctx.from, (this.fedToCounts.get(ctx.from) ?? 0) + 1)
    this.fedWindow.add(ctx.from)
  }

  onContent(m: MessageOf<'Content'>, ctx: Ctx): void {
    if (this.isSource || m.data.length === 0) return
    const n = Math.floor(m.offset / CHUNK_SIZE)
    const hops = (m.hops ?? 0) + 1
    this.noteHolder(ctx.from)
    const s = stripeOf(n)
    if (this.parents[s] === ctx.from) {
      this.parentPushAt[s] = this.node.timers.now()
      this.parentPushedN[s] = Math.max(this.parentPushedN[s], n)
      this.parentFed[s] = true
    }
    if (this.log.hasChunk(n)) { this.count('duplicate'); this.stats.duplicateBytes += m.data.length; return }
    if (this.startChunk >= 0 && n < Math.max(this.startChunk, this.maxKnown - LIVE_WINDOW_CHUNKS)) { this.count('late'); return }
    // Far beyond the edge we know is either a lie or the future: do not buffer it.
    if (n > this.maxKnown + 4 * STRIPES + 64) return
    const rec = this.log.chunkRecord(n) ?? undefined
    this.assembled(n, this.assembly.add(n, m.offset - n * CHUNK_SIZE, m.data, ctx.from, hops, rec, this.node.timers.now()), ctx.from)
  }

  /** Charges the sender of every block that failed its signed hash, and stores a chunk made whole. */
  private assembled(n: number, r: AddResult, from?: string): void {
    if (r.kind === 'invalid') {
      if (from) this.node.penalise(from, 'bad_chunk')
      this.count('rejected')
      return
    }
    for (const liar of r.bad) {
      this.node.penalise(liar, 'bad_chunk')
      this.count('rejected')
      this.node.log.debug('rejected a block that did not match its signed hash', { stream: this.id, chunk: n, from: liar })
      this.emit('bad-block', n, liar)
    }
    if (r.kind !== 'complete') return
    // Only senders of verified blocks are believed when they say they are the source: junk
    // claiming hops 0 once made its sender "the source" (asked last as a parent, first for repairs).
    for (const s of r.zeroHop) this.sourceAddrs.add(s)
    void this.store(n, r.bytes, r.senders, r.hops)
  }

  private async store(n: number, bytes: Buffer, senders: string[], hops: number): Promise<void> {
    const parent = this.parents[stripeOf(n)]
    if (parent !== undefined && senders.includes(parent)) {
      this.fromParent.add(n)
      if (this.fromParent.size > FED_BY_MEMORY) this.fromParent.delete(this.fromParent.values().next().value as number)
    }
    let v: Verdict
    try {
      v = await this.log.putChunk(n, bytes)
    } catch (err) {
      // A local fault (disk full, I/O error), not the sender's: nothing was marked verified, the
      // chunk is fetched again later. Said once in a while, never thrown into the void.
      this.inFlight.delete(n)
      const now = this.node.timers.now()
      if (now - this.storeFaultAt > STORE_FAULT_LOG_MS) {
        this.storeFaultAt = now
        this.node.log.error('could not store a verified chunk; serving what we have and retrying', { stream: this.id, chunk: n, err })
      }
      this.emit('store-fault', err)
      return
    }
    this.fromParent.delete(n)
    this.inFlight.delete(n)
    if (v.result === 'reject') {
      this.count('rejected')
      // Every block already matched its signed BLAKE3, so only the record's own SHA-256 can
      // disagree: the source signed inconsistent hashes, and no sender is to blame.
      this.node.log.warn('rejected a chunk that did not match its signed hashes', { stream: this.id, chunk: n, from: senders.join(','), reason: v.reason })
      this.emit('rejected', n, senders)
      return
    }
    if (v.result === 'ignore') { this.count('duplicate'); this.stats.duplicateBytes += bytes.length; return }
    this.count('new')
    this.stats.receivedBytes += bytes.length
    // Delivery record for ranking peers: credit each sender its share of a verified chunk.
    for (const a of senders) { const p = this.node.peers.get(a); if (p) p.deliveredBytes += bytes.length / senders.length }
    if (senders.some((s) => this.sourceAddrs.has(s))) this.stats.receivedFromSourceBytes += bytes.length
    this.hopsOf.set(n, hops)
    if (this.hopsOf.size > FED_BY_MEMORY) this.hopsOf.delete(this.hopsOf.keys().next().value as number)
    this.stats.hops[hops] = (this.stats.hops[hops] ?? 0) + 1
    this.fedByRing.push(senders[0])
    if (this.fedByRing.length > FED_BY_MEMORY) this.fedByRing.shift()
    const rec = this.log.chunkRecord(n)
    if (rec) {
      const age = Math.max(0, this.node.timers.now() - rec.time)
      this.delays.push(age)
      if (this.delays.length > 4096) this.delays.splice(0, 2048)
      this.node.metrics.chunkVerified(age / 1000, hops)
    }
  }

  /** Counts a refused pull; true on the ASKS_BEFORE_SOURCE_SERVES-th ask for the same chunk. */
  private askedAgain(from: string, n: number): boolean {
    const key = `${from} ${n}`
    const asks = (this.refusedAsks.get(key) ?? 0) + 1
    if (asks >= ASKS_BEFORE_SOURCE_SERVES) { this.refusedAsks.delete(key); return true }
    // Keyed by requester input, so bounded: forgetting only costs a requester a few more asks.
    if (this.refusedAsks.size >= MAX_REFUSED_ASKS) this.refusedAsks.clear()
    this.refusedAsks.set(key, asks)
    return false
  }

  private noteUnpushed(n: number): void {
    this.unpushed.add(n)
    // Bounded to the live window: older chunks no player will ask for.
    if (this.unpushed.size > LIVE_WINDOW_CHUNKS) this.unpushed.delete(this.unpushed.values().next().value as number)
  }

  private count(result: 'new' | 'duplicate' | 'late' | 'rejected'): void {
    this.stats.chunks[result]++
    this.node.metrics.chunkReceived(result)
  }

  private judge(v: Verdict, ctx: Ctx, reason: 'bad_signature'): void {
    if (v.result === 'reject') {
      this.node.penalise(ctx.from, reason)
      this.node.log.debug('rejected a record', { stream: this.id, from: ctx.from, reason: v.reason })
    }
  }

  onHint(m: MessageOf<'MaybeTheyHaveSome'>, ctx: Ctx): void {
    for (const p of m.peers) this.noteHolder(p)
    // "I do not have it" answers our pulls to that peer now, not after their timeout: retry elsewhere.
    for (const f of this.inFlight.values()) if (f.peer === ctx.from) f.at = -Infinity
  }

  // ---- the viewer's loop: find the edge, keep parents, pull holes ----

  private tick(): void {
    if (this.closed) return
    const now = this.node.timers.now()
    this.expireChildren(now)
    if (this.isSource) return
    const head = this.log.head()
    if (!head || !this.log.info() || this.startChunk < 0) {
      // Retry quickly at first (the hello and the cookie round trip may still be under way).
      if (now - this.headAskedAt > 300) {
        this.headAskedAt = now
        // Peers that proved their address first: hearsay (a liar's list of holders, refreshed
        // faster than anyone honest speaks) must not crowd out the peers that can answer.
        const proven = (a: string) => this.node.peers.get(a)?.verified === true
        const hs = this.holderList('')
        for (const p of [...hs.filter(proven), ...hs.filter((a) => !proven(a))].slice(0, 4)) this.node.send(p, [{ type: 'PleaseSendStreamHead', id: this.id }])
      }
      return
    }
    if (head.ended && this.log.missingChunks(this.startChunk, head.chunks).length === 0) return
    this.keepParents(now)
    this.repair(now)
    this.repairSegments(now, head.segments)
    // Keep learning the edge from someone other than our parents, so a lying parent cannot hide it.
    if (now - this.headAskedAt > 2000) {
      this.headAskedAt = now
      const hs = this.holderList('')
      if (hs.length) this.node.send(hs[Math.floor(this.node.timers.random() * hs.length)], [{ type: 'PleaseSendStreamHead', id: this.id }])
    }
  }

  /** Joins at the live edge: a few segments back from the newest, never at byte 0 of a long stream. */
  private chooseStart(): void {
    const head = this.log.head()
    if (!head) return
    const first = Math.max(0, head.segments - START_SEGMENTS_BACK)
    const seg = this.log.segment(first)
    if (head.segments > 0 && !seg) return
    this.startSegment = first
    const start = seg ? Math.floor(seg.offset / CHUNK_SIZE) : head.chunks
    this.startChunk = Math.max(0, Math.min(start, head.chunks))
    const now = this.node.timers.now()
    this.joinedAt = { at: now, startPublishedAt: this.log.chunkRecord(this.startChunk)?.time ?? seg?.pdt ?? now }
    this.maxKnown = Math.max(this.maxKnown, head.chunks)
    this.node.log.debug('joining at the live edge', { stream: this.id, chunk: this.startChunk, of: head.chunks })
    this.emit('joined', this.startChunk)
  }

  private keepParents(now: number): void {
    const frontier = Math.max(...this.parentPushedN)
    for (let s = 0; s < STRIPES; s++) {
      const p = this.parents[s]
      if (p) {
        const silent = now - this.parentPushAt[s] > PARENT_TIMEOUT_MS && this.maxKnown > 0
        if (!pushOverdue(this.parentPushedN[s], frontier)) this.overdueSince[s] = undefined
        else this.overdueSince[s] ??= now
        // Late while the other stripes flow: it fed us nothing it owed (a squatter, or a relay whose
        // own parent failed it, which is then complaining upstream itself).
        const unfed = !this.parentFed[s] && now - this.parentSince[s] > FIRST_PUSH_MS && this.catchUpFrom(s) < this.maxKnown - STRIPES
        const failing = now - (this.overdueSince[s] ?? now) > MISSED_PUSH_MS || unfed
        if (silent || failing || this.isBanned(p)) {
          this.node.log.debug('stripe parent failed us', { stream: this.id, stripe: s, parent: p, silent, failing })
          this.node.send(p, [{ type: 'StopSendingMe', id: this.id, stripe: s }])
          this.parents[s] = undefined
          this.overdueSince[s] = undefined
          this.droppedAt.set(p, now)
          if (this.droppedAt.size > MAX_HOLDERS) for (const [a, t] of this.droppedAt) if (now - t > DROPPED_PARENT_MS) this.droppedAt.delete(a)
          if (failing && !this.sourceAddrs.has(p)) remember(this.failedParents, p, now + FAILED_RELAY_MS, now)
          this.rejoinAfterFailure(s, p, now)
        } else if (now - this.subscribedAt[s] > RESUBSCRIBE_MS) {
          this.subscribedAt[s] = now
          this.node.send(p, [{ type: 'PleaseKeepSendingMe', id: this.id, stripe: s, from: this.maxKnown }])
        }
        continue
      }
      const j = this.joins[s] ??= { candidates: this.rankedCandidates(s, now), askedAt: 0, tried: new Set() }
      if (j.asked && j.hello && this.node.peers.get(j.asked)?.verified) {
        // The handshake finished: ask for real now.
        j.hello = false
        j.askedAt = now
        this.node.send(j.asked, [this.subscription(s, j)])
      } else if (!j.asked || now - j.askedAt > JOIN_ANSWER_MS) { j.asked = undefined; this.advanceJoin(s) }
    }
  }

  /** Parent candidates for a stripe, best first. A relay we dropped recently goes last: it is most
   * likely gone, or failed us. (Not the source: a restarted source comes back at its address, and
   * only it can root the stripe.) */
  private rankedCandidates(s: number, now: number, list = this.holderList('')): string[] {
    list = list.filter((a) => !this.hasFailedUs(a, now))
    const recentlyDropped = (a: string) => !this.sourceAddrs.has(a) && now - (this.droppedAt.get(a) ?? -Infinity) < DROPPED_PARENT_MS
    const ranked = rankParents(s, list.map((addr) => ({ addr, rttMs: this.node.peers.get(addr)?.rttMs, isSource: this.sourceAddrs.has(addr) })))
    return [...ranked.filter((a) => !recentlyDropped(a)), ...ranked.filter(recentlyDropped)]
  }

  /** Our parent in stripe `s` stopped feeding us: ask its own parent (it told us which), else the
   * source, first, naming the failed one. That node drops the failed child and takes us in its
   * place in the same round trip, with a catch-up of what we missed. */
  private rejoinAfterFailure(s: number, failed: string, now: number): void {
    const backups = [this.parentVia[s], ...this.sourceAddrs, ...this.bootstrap]
      .filter((a): a is string => a !== undefined && a !== failed && a !== this.node.address && !this.hasFailedUs(a, now))
    const rest = this.rankedCandidates(s, now).filter((a) => a !== failed && !backups.includes(a))
    this.joins[s] = { candidates: [...new Set(backups), ...rest], askedAt: 0, tried: new Set([failed]), failed }
    this.parentVia[s] = undefined
    this.advanceJoin(s)
  }

  private hasFailedUs(addr: string, now: number): boolean {
    return (this.failedParents.get(addr) ?? -Infinity) > now
  }

  private subscription(s: number, j: Join): Message {
    return { type: 'PleaseKeepSendingMe', id: this.id, stripe: s, from: this.catchUpFrom(s), ...(j.failed ? { failed: j.failed } : {}) }
  }

  private advanceJoin(s: number): void {
    const j = this.joins[s]
    if (!j) return
    const next = j.candidates.shift()
    if (!next) { this.joins[s] = undefined; return }
    j.tried.add(next)
    j.asked = next
    j.askedAt = this.node.timers.now()
    const peer = this.node.peers.get(next)
    if (!peer?.verified) {
      // A stranger ignores subscriptions until we have echoed its cookie. An RTT probe is answered
      // by everyone (with its cookie), so send that first and subscribe once it is verified.
      j.hello = true
      this.node.send(next, [{ type: 'PleaseReturnThisMessage', value: this.node.timers.now() }])
      return
    }
    j.hello = false
    this.node.send(next, [this.subscription(s, j)])
  }

  /** Where a new parent should start pushing: our oldest hole in its stripe, so the catch-up to our
   * start point comes from the parent rather than from pulls (and never from the source). */
  private catchUpFrom(stripe: number): number {
    const from = Math.max(this.startChunk, this.maxKnown - CATCHUP_CHUNKS)
    for (const n of this.log.missingChunks(from, this.maxKnown)) if (stripeOf(n) === stripe) return n
    return this.maxKnown
  }

  private repair(now: number): void {
    const from = Math.max(this.startChunk, this.maxKnown - LIVE_WINDOW_CHUNKS)
    this.assembly.dropBelow(from)
    for (const k of this.knownSince.keys()) if (k < from) this.knownSince.delete(k)
    for (const k of this.inFlight.keys()) if (k < from) this.inFlight.delete(k)
    const missing: MissingChunk[] = []
    for (const n of this.log.missingChunks(from, this.maxKnown)) {
      let since = this.knownSince.get(n)
      if (since === undefined) { since = now; this.knownSince.set(n, now) }
      const rec = this.log.chunkRecord(n)
      // Without its record we only know the chunk is already out: treat it as due now.
      missing.push({ n, knownSince: since, deadline: rec ? playbackDeadline(rec.time, PLAYOUT_DELAY_MS, this.joinedAt) : since })
    }
    if (missing.length === 0) return
    const budget = this.sourceBudgetChunks()
    // One sorted holder list per pass: holdersFor runs once per missing chunk.
    const known = this.holderList('').filter((a) => !this.hasFailedUs(a, now))
    const reqs = planRepairs({
      now, missing, inFlight: this.inFlight,
      holders: (n) => this.holdersFor(n, known),
      source: [...this.sourceAddrs][0],
      sourceBudgetChunks: budget,
      rttMs: (p) => this.node.peers.get(p)?.rttMs ?? 50,
    })
    for (const r of reqs) {
      const prev = this.inFlight.get(r.n)
      this.inFlight.set(r.n, { peer: r.peer, at: now, tries: (prev?.tries ?? 0) + 1 })
      this.node.send(r.peer, [{ type: 'PleaseSendContent', id: this.id, offset: r.n * CHUNK_SIZE, length: CHUNK_SIZE }])
    }
  }

  /** Asks for the oldest hole in our segment index (below the head's count or a record we hold),
   * from a parent that is pushing, else a holder; the answer fills up to 16 records. */
  private repairSegments(now: number, headSegments: number): void {
    if (now - this.segmentsAskedAt < SEGMENT_REPAIR_MS) return
    const top = Math.max(headSegments, this.log.segmentCount())
    let hole = -1
    for (let n = Math.max(this.startSegment, top - SEGMENT_REPAIR_WINDOW); n < top; n++) if (!this.log.segment(n)) { hole = n; break }
    if (hole < 0) return
    this.segmentsAskedAt = now
    const freshest = Math.max(...this.parentPushAt)
    const flowing = this.parents.filter((p, i): p is string => p !== undefined && freshest - this.parentPushAt[i] < QUIET_PARENT_MS)
    const hs = this.holderList('').filter((a) => !this.hasFailedUs(a, now))
    const pool = flowing.length ? flowing : hs
    if (pool.length === 0) return
    this.node.send(pool[Math.floor(this.node.timers.random() * pool.length)], [{ type: 'PleaseSendSegments', id: this.id, from: hole, count: MAX_RECORDS_PER_MESSAGE }])
  }

  /** The share of the source's repair budget this viewer may use: we cannot see the source's
   * counters, so each viewer keeps its own pulls from the source within the budget of its stream. */
  private sourceBudgetChunks(): number {
    const received = this.stats.receivedBytes / CHUNK_SIZE
    const fromSource = this.stats.receivedFromSourceBytes / CHUNK_SIZE
    return Math.max(0, Math.floor(received * SOURCE_REPAIR_BUDGET + 2 - fromSource))
  }

  private holdersFor(n: number, known: string[]): string[] {
    const s = stripeOf(n)
    const now = this.node.timers.now()
    const parent = this.parents[s]
    // The stripe parent is the natural holder, unless it has gone quiet: then it probably lacks
    // the chunk too (or is gone), and the parents of the other stripes, still pushing, go first.
    // Quiet means quiet while the other stripes flow: when the whole stream pauses (or ended),
    // every parent is silent and all of them remain the best holders.
    const freshest = Math.max(...this.parentPushAt)
    const quietAt = (i: number) => freshest - this.parentPushAt[i] > QUIET_PARENT_MS && now - this.parentPushAt[i] > QUIET_PARENT_MS
    const quiet = parent !== undefined && quietAt(s)
    const others = this.parents.filter((p, i): p is string => p !== undefined && i !== s && p !== parent && !quietAt(i))
    const rest = known.filter((p) => p !== parent && !others.includes(p) && !this.sourceAddrs.has(p))
    const first = parent && !quiet ? [parent] : []
    return [...first, ...others, ...rest.slice(0, 6), ...(parent && quiet ? [parent] : [])]
  }

  private expireChildren(now: number): void {
    for (const [s, set] of this.children.entries()) {
      for (const c of set) {
        if (now - (this.childSeen.get(c) ?? 0) > CHILD_EXPIRY_MS) { this.children[s].delete(c); this.childSeen.delete(c) }
      }
    }
  }

  private allChildren(): Set<string> {
    const all = new Set<string>()
    for (const set of this.children) for (const c of set) all.add(c)
    return all
  }

  private noteHolder(addr: string): void {
    if (!addr || addr === this.node.address) return
    if (this.holders.size >= MAX_HOLDERS && !this.holders.has(addr)) {
      const oldest = [...this.holders.entries()].sort((a, b) => a[1] - b[1])[0]
      this.holders.delete(oldest[0])
    }
    this.holders.set(addr, this.node.timers.now())
  }

  /** The peer table is capped and evicts: any address we hold (a parent, a holder) may have no
   * entry any more. A ban outlives eviction (banned entries are never evicted), so no entry means
   * not banned. */
  private isBanned(addr: string): boolean {
    const p = this.node.peers.get(addr)
    return p !== undefined && this.node.peers.isBanned(p)
  }

  /** Peers that (probably) have this stream, most recently heard first, never banned ones. */
  holderList(exclude: string): string[] {
    return [...this.holders.entries()]
      .filter(([a]) => a !== exclude && !this.isBanned(a))
      .sort((a, b) => b[1] - a[1])
      .map(([a]) => a)
  }

  status(): SwarmStatus {
    const head = this.log.head()
    const fedBy: Record<string, number> = {}
    for (const a of this.fedByRing) fedBy[a] = (fedBy[a] ?? 0) + 1
    const sorted = [...this.delays].sort((a, b) => a - b)
    const q = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0)
    const produced = this.isSource ? this.stats.producedBytes || (head?.length ?? 0) : 0
    return {
      id: this.id,
      role: this.isSource ? 'source' : 'viewer',
      head: head ? { chunks: head.chunks, segments: head.segments, ended: head.ended, bytes: head.length, time: head.time } : null,
      sources: [...this.sourceAddrs].slice(0, 4),
      startChunk: this.startChunk,
      verifiedChunks: this.log.verifiedCount(),
      parents: this.parents.map((p) => p ?? null),
      children: this.children.map((s) => [...s]),
      fedBy,
      fedTo: Object.fromEntries(this.fedToCounts),
      uploadedBytes: this.stats.uploadedBytes,
      receivedBytes: this.stats.receivedBytes,
      receivedFromSourceBytes: this.stats.receivedFromSourceBytes,
      duplicateBytes: this.stats.duplicateBytes,
      producedBytes: produced,
      copiesUploaded: produced > 0 ? this.stats.uploadedBytes / produced : 0,
      chunks: { ...this.stats.chunks },
      delayMs: { p50: q(0.5), p95: q(0.95), p99: q(0.99), max: sorted.at(-1) ?? 0, count: sorted.length },
      hops: { ...this.stats.hops },
    }
  }

  /** Peers fed since the last call (the relay fan-out gauge), then resets the window. */
  takeFanout(): number {
    const n = this.fedWindow.size
    this.fedWindow.clear()
    return n
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.node.timers.clear(this.timer)
    this.log.off('chunk', this.onLocalChunk as never)
    this.log.off('segment', this.onLocalSegment as never)
    this.log.off('end', this.onLocalEnd as never)
    for (let s = 0; s < STRIPES; s++) {
      const p = this.parents[s]
      if (p) this.node.send(p, [{ type: 'StopSendingMe', id: this.id, stripe: s }])
    }
  }
}

/** Sets a key in a map keyed by peer input, bounded by MAX_HOLDERS: expired entries go first, then the oldest. */
function remember(map: Map<string, number>, key: string, until: number, now: number): void {
  map.delete(key)
  if (map.size >= MAX_HOLDERS) {
    for (const [k, u] of map) if (u <= now) map.delete(k)
    if (map.size >= MAX_HOLDERS) map.delete(map.keys().next().value as string)
  }
  map.set(key, until)
}
