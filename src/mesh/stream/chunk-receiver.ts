// Turns what peers send into verified chunks: signed records, then blocks checked against them as
// they arrive, then whole chunks stored. Charges the sender of every block that failed its signed
// hash, and counts every outcome.
import type { Ctx } from '../node.ts'
import type { MessageOf } from '../messages.ts'
import type { AddResult } from '../chunk-assembly.ts'
import { stripeOf } from '../stream-policy.ts'
import type { Verdict } from '../../store/stream-types.ts'
import { CHUNK_SIZE } from '../../store/stream-types.ts'
import type { Holders } from './holders.ts'
import type { StripeParents } from './stripe-parents.ts'
import type { ChunkTracker } from './chunk-tracker.ts'
import type { DuplicateCause, SwarmStats } from './swarm-stats.ts'
import { FAR_AHEAD_CHUNKS, LIVE_WINDOW_CHUNKS, charge, judge, type SwarmContext } from './swarm-context.ts'

/** A failing disk is reported at most this often (a full disk fails every chunk). */
const STORE_FAULT_LOG_MS = 10_000

export interface ReceiverComponents {
  context: SwarmContext; holders: Holders; parents: StripeParents; tracker: ChunkTracker; stats: SwarmStats
}

export class ChunkReceiver {
  private readonly c: SwarmContext
  private readonly k: ReceiverComponents
  private storeFaultAt = -Infinity

  constructor(components: ReceiverComponents) {
    this.c = components.context
    this.k = components
  }

  onChunkHashes(m: MessageOf<'HereAreChunkHashes'>, ctx: Ctx): void {
    const { log, edge, node } = this.c
    for (const rec of m.chunks) {
      if (this.c.isSource) continue
      const v = log.putChunkRecord(rec)
      judge(this.c, v, ctx.from)
      if (v.result === 'reject') continue
      edge.maxKnown = Math.max(edge.maxKnown, rec.n + 1)
      this.k.tracker.heard(rec.n, node.timers.now())
      const held = log.chunkRecord(rec.n)
      if (!held) continue
      this.c.pace.heard(held.n, held.time)
      this.assembled(rec.n, this.k.tracker.assembly.tryComplete(held))
    }
  }

  onContent(m: MessageOf<'Content'>, ctx: Ctx): void {
    if (this.c.isSource || m.data.length === 0) return
    const { log, edge, node } = this.c
    const n = Math.floor(m.offset / CHUNK_SIZE)
    const hops = (m.hops ?? 0) + 1
    this.k.holders.note(ctx.from)
    // A repaired chunk forwarded down is no sign that the parent's stripe flows: counted as one,
    // a cycle cut off from the source would keep itself alive on its own repairs.
    if (m.repaired) this.k.parents.onRepaired(stripeOf(n), ctx.from, n)
    else this.k.parents.onPush(stripeOf(n), ctx.from, n, node.timers.now())
    if (log.hasChunk(n)) { this.k.stats.duplicate(m.data.length, this.duplicateCause(m, ctx.from, n)); return }
    if (edge.startChunk >= 0 && n < Math.max(edge.startChunk, edge.maxKnown - LIVE_WINDOW_CHUNKS) && !this.k.tracker.isInitChunk(n)) { this.k.stats.count('late'); return }
    if (n > edge.maxKnown + FAR_AHEAD_CHUNKS) return
    const rec = log.chunkRecord(n) ?? undefined
    const now = node.timers.now()
    // Flagged before the blocks go in: a block that completes the chunk stores it at once, and
    // how it goes on to our children is decided then.
    this.k.tracker.blockCame(n, m.repaired === true)
    this.assembled(n, this.k.tracker.assembly.add(n, m.offset - n * CHUNK_SIZE, m.data, ctx.from, hops, rec, now), ctx.from)
    this.k.tracker.assembling(n)
  }

  private duplicateCause(m: MessageOf<'Content'>, from: string, n: number): DuplicateCause {
    const how = m.repaired ? 'repaired' : this.k.parents.parent(stripeOf(n)) === from ? 'push-parent' : 'push-other'
    return this.c.node.sealer?.sealsTo(from) ? `sealed-${how}` : how
  }

  /** Charges the sender of every block that failed its signed hash, and stores a chunk made whole. */
  private assembled(n: number, r: AddResult, from?: string): void {
    const { node, events } = this.c
    if (r.kind === 'invalid') {
      // A block at no block's place in a chunk, or of no block's length: a bad field.
      charge(this.c, 'bad_field', from)
      this.k.stats.count('rejected')
      return
    }
    for (const liar of r.bad) {
      charge(this.c, 'bad_hash', liar)
      this.k.stats.count('rejected')
      node.log.debug('rejected a block that did not match its signed hash', { stream: this.c.id, chunk: n, from: liar })
      events.emit('bad-block', n, liar)
    }
    if (r.kind !== 'complete') return
    // Only senders of verified blocks are believed when they say they are the source: junk
    // claiming hops 0 once made its sender "the source" (asked last as a parent, first for repairs).
    for (const s of r.zeroHop) { this.c.sourceAddrs.add(s); node.noteStreamSource(s) }
    void this.store(n, r.bytes, r.senders, r.hops)
  }

  private async store(n: number, bytes: Buffer, senders: string[], hops: number): Promise<void> {
    const { node, log, events } = this.c
    const { tracker, stats } = this.k
    tracker.storing(n, this.k.parents.cameDown(stripeOf(n), senders), hops)
    let v: Verdict
    try {
      v = await log.putChunk(n, bytes)
    } catch (err) {
      // A local fault (disk full, I/O error), not the sender's: nothing was marked verified, the
      // chunk is fetched again later. Said once in a while, never thrown into the void.
      tracker.settled(n, false)
      const now = node.timers.now()
      if (now - this.storeFaultAt > STORE_FAULT_LOG_MS) {
        this.storeFaultAt = now
        node.log.error('could not store a verified chunk; serving what we have and retrying', { stream: this.c.id, chunk: n, err })
      }
      events.emit('store-fault', err)
      return
    }
    tracker.takeForwarding(n)
    if (v.result !== 'accept') tracker.settled(n, v.result === 'ignore')
    if (v.result === 'reject') {
      charge(this.c, v.cause, undefined)
      stats.count('rejected')
      // Every block already matched its signed BLAKE3, so only the record's own SHA-256 can
      // disagree: the source signed inconsistent hashes, and no sender is to blame.
      node.log.warn('rejected a chunk that did not match its signed hashes', { stream: this.c.id, chunk: n, from: senders.join(','), reason: v.reason })
      events.emit('rejected', n, senders)
      return
    }
    if (v.result === 'ignore') { stats.duplicate(bytes.length, node.sealer?.sealsTo(senders[0]) ? 'sealed-stored-twice' : 'stored-twice'); return }
    stats.count('new')
    this.k.parents.verified(stripeOf(n), n, senders)
    // Delivery record for ranking peers: credit each sender its share of a verified chunk.
    for (const a of senders) { const p = node.peers.get(a); if (p) p.deliveredBytes += bytes.length / senders.length }
    stats.received(bytes.length, senders.some((s) => this.c.sourceAddrs.has(s)), hops, senders[0])
    tracker.settled(n, true, hops)
    const rec = log.chunkRecord(n)
    if (rec) stats.delay(Math.max(0, node.timers.now() - rec.time), hops)
  }
}
