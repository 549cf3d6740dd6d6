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

/** Segment records missing from our index are asked for at most this often. Parents push each
 * record once; one that did not come (a parent that fed us nothing, a lost datagram) would
 * otherwise leave a hole in the player's playlist for good. */
const SEGMENT_REPAIR_MS = 500
/** How far back from the newest segment holes in the index are still worth filling. */
const SEGMENT_REPAIR_WINDOW = 64

/** One chunk asked for: of whom, when, and how many times so far. */
interface RepairRequest { peer: string; at: number; tries: number }

export interface RepairComponents { context: SwarmContext; holders: Holders; parents: StripeParents; tracker: ChunkTracker; stats: SwarmStats }

export class RepairRequests {
  private readonly c: SwarmContext
  private readonly k: RepairComponents
  private inFlight = new Map<number, RepairRequest>()
  private segmentsAskedAt = 0
  /** When the source last pointed us elsewhere instead of serving a pull. */
  private sourceRefusedAt = -Infinity

  constructor(components: RepairComponents) {
    this.c = components.context
    this.k = components
  }

  /** Chunk `n` arrived (or could not be stored and will be asked for again): no request is open. */
  settle(n: number): void {
    this.inFlight.delete(n)
  }

  onHint(m: MessageOf<'MaybeTheyHaveSome'>, ctx: Ctx): void {
    for (const p of m.peers) this.k.holders.note(p)
    // "I do not have it" answers our pulls to that peer now, not after their timeout: retry elsewhere.
    for (const f of this.inFlight.values()) if (f.peer === ctx.from) f.at = -Infinity
    if (this.c.sourceAddrs.has(ctx.from)) this.sourceRefusedAt = this.c.node.timers.now()
  }

  repair(now: number): void {
    const { edge, log, node } = this.c
    const from = Math.max(edge.startChunk, edge.maxKnown - LIVE_WINDOW_CHUNKS)
    this.k.tracker.dropBelow(from)
    for (const k of this.inFlight.keys()) if (k < from) this.inFlight.delete(k)
    const missing: MissingChunk[] = []
    for (const n of log.missingChunks(from, edge.maxKnown)) {
      const since = this.k.tracker.knownSinceOf(n, now)
      const rec = log.chunkRecord(n)
      // Without its record we only know the chunk is already out: treat it as due now.
      missing.push({ n, knownSince: since, deadline: rec ? playbackDeadline(rec.time, PLAYOUT_DELAY_MS, edge.joinedAt) : since, backfill: rec !== null && edge.joinedAt !== null && rec.time < edge.joinedAt.at })
    }
    if (missing.length === 0) return
    const budget = now - this.sourceRefusedAt < SOURCE_REFUSAL_BACKOFF_MS ? 0 : this.sourceBudgetChunks()
    // One sorted holder list per pass: holdersFor runs once per missing chunk.
    const known = this.k.holders.list('').filter((a) => !this.k.parents.hasFailedUs(a, now))
    const reqs = planRepairs({
      now, missing, inFlight: this.inFlight,
      holders: (n) => this.holdersFor(n, known),
      source: [...this.c.sourceAddrs][0],
      sourceBudgetChunks: budget,
      rttMs: (p) => node.peers.get(p)?.rttMs ?? 50,
    })
    for (const r of reqs) {
      const prev = this.inFlight.get(r.n)
      this.inFlight.set(r.n, { peer: r.peer, at: now, tries: (prev?.tries ?? 0) + 1 })
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
    let hole = -1
    for (let n = Math.max(this.c.edge.startSegment, top - SEGMENT_REPAIR_WINDOW); n < top; n++) if (!log.segment(n)) { hole = n; break }
    if (hole < 0) return
    this.segmentsAskedAt = now
    const flowing = this.k.parents.flowing()
    const hs = this.k.holders.list('').filter((a) => !this.k.parents.hasFailedUs(a, now))
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

  private holdersFor(n: number, known: string[]): string[] {
    const s = stripeOf(n)
    const now = this.c.node.timers.now()
    const parents = this.k.parents
    const parent = parents.parent(s)
    // The stripe parent is the natural holder, unless it has gone quiet: then it probably lacks
    // the chunk too (or is gone), and the parents of the other stripes, still pushing, go first.
    const quietAt = (i: number) => parents.quiet(i, now)
    const quiet = parent !== undefined && quietAt(s)
    const others = parents.all().filter((p, i): p is string => p !== undefined && i !== s && p !== parent && !quietAt(i))
    const rest = known.filter((p) => p !== parent && !others.includes(p) && !this.c.sourceAddrs.has(p))
    const first = parent && !quiet ? [parent] : []
    return [...first, ...others, ...rest.slice(0, 6), ...(parent && quiet ? [parent] : [])]
  }
}
