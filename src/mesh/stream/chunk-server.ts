// Answers other nodes' requests for this stream: the head, signed records, and chunks by pull,
// within the source's budget and a relay's per-second pull allowance; otherwise points to peers
// that should have them.
import type { Ctx } from '../node.ts'
import type { MessageOf } from '../messages.ts'
import { MAX_RECORDS_PER_MESSAGE } from '../messages.ts'
import { mayServePull, stripeOf } from '../stream-policy.ts'
import type { ChunkRecord } from '../../store/stream-types.ts'
import { BLOCK_SIZE, CHUNK_SIZE } from '../../store/stream-types.ts'
import type { Holders } from './holders.ts'
import type { Children } from './children.ts'
import type { ChunkTracker } from './chunk-tracker.ts'
import type { SourceBudget } from './source-budget.ts'
import type { SwarmStats, UploadCause } from './swarm-stats.ts'
import type { SwarmContext } from './swarm-context.ts'

export interface ChunkServerComponents {
  context: SwarmContext; holders: Holders; children: Children; tracker: ChunkTracker; budget: SourceBudget; stats: SwarmStats
}

export class ChunkServer {
  private readonly c: SwarmContext
  private readonly k: ChunkServerComponents
  private pullWindow = { at: 0, served: 0 }

  constructor(components: ChunkServerComponents) {
    this.c = components.context
    this.k = components
  }

  onHeadRequest(ctx: Ctx): void {
    const info = this.c.log.info()
    const head = this.c.log.head()
    if (info) ctx.reply({ type: 'HereIsTheStreamInfo', info })
    if (head) ctx.reply({ type: 'ThisStreamGrew', head })
  }

  onChunkHashesRequest(m: MessageOf<'PleaseSendChunkHashes'>, ctx: Ctx): void {
    const out = recordsHeld(m, (n) => this.c.log.chunkRecord(n))
    if (out.length) ctx.reply({ type: 'HereAreChunkHashes', id: this.c.id, chunks: out })
  }

  onSegmentsRequest(m: MessageOf<'PleaseSendSegments'>, ctx: Ctx): void {
    const out = recordsHeld(m, (n) => this.c.log.segment(n))
    if (out.length) ctx.reply({ type: 'HereAreSegments', id: this.c.id, segments: out })
  }

  onContentRequest(m: MessageOf<'PleaseSendContent'>, ctx: Ctx): Promise<void> | void {
    const { log, isSource } = this.c
    const n = Math.floor(m.offset / CHUNK_SIZE)
    const rec = log.chunkRecord(n)
    const within = m.offset - n * CHUNK_SIZE
    // Our own peers get the whole chunk they asked for; others one block, as they expect.
    const max = ctx.peer.speaksStreams ? CHUNK_SIZE : BLOCK_SIZE
    const length = rec ? Math.min(m.length, max, rec.length - within) : 0
    // Nothing to serve (a length of 0, an offset past the chunk's end): nothing to charge either;
    // asked five times, a rescue charged its allowance for an answer never sent.
    if (rec && length <= 0) return
    const cause = this.k.budget.pullCause(n, {
      from: ctx.from, verified: ctx.verified, bytes: Math.max(0, length),
      ourChild: isSource && this.k.children.of(stripeOf(n)).has(ctx.from),
      // Published before the asker first reached us: its start-up buffer (SourceBudget.pullCause).
      startup: rec !== null && rec.time < ctx.peer.firstSeen,
    })
    if (cause === null && rec) {
      // The source's upload is a budget: beyond one copy plus repairs it points to its subtree.
      const peers = this.elsewhere(n, ctx)
      if (peers.length) { ctx.reply({ type: 'MaybeTheyHaveSome', id: this.c.id, peers }); return }
    }
    if (rec && log.hasChunk(n) && !isSource && !this.pullAllowance()) {
      const peers = this.elsewhere(n, ctx)
      if (peers.length) { ctx.reply({ type: 'MaybeTheyHaveSome', id: this.c.id, peers }); return }
    }
    if (!rec || !log.hasChunk(n)) {
      // Our own child in that stripe lacks what we lack: we are repairing it, and the repaired
      // chunk goes down to our children (stream-swarm.ts). A hint now would send it pulling
      // elsewhere in parallel with us, one pull per node of the subtree; silence lets it wait.
      if (!isSource && this.k.children.of(stripeOf(n)).has(ctx.from)) return
      const peers = this.k.holders.list(ctx.from, ctx.verified ? 8 : 3)
      if (peers.length) ctx.reply({ type: 'MaybeTheyHaveSome', id: this.c.id, peers })
      return
    }
    // The chunk's data is more than the 2x rule lets an unverified address have (`length` is its
    // size before base64): the node would drop it (node.ts roomFor). Read, served and charged all
    // the same, spoofed asks of 100 bytes each spent the source's budget on nothing, and real
    // viewers then waited for their fifth ask. The record goes, as it did, when it fits; the
    // node's answer carries our cookie, and once verified the asker gets the chunk.
    if (!ctx.verified && ctx.room() < length) { this.replyRecord(ctx, rec); return }
    // Charged now, not once the read returns: a disk read takes milliseconds, and every pull that
    // arrived meanwhile passed the same check against a budget that had not moved yet (a burst
    // at the source served 6.5 MB against a 0.94 MB allowance: test/mesh/stream/chunk-server-budget).
    this.k.budget.pulled(n, length, cause ?? 'pull')
    return this.replyChunk(ctx, n, rec, within, length, cause ?? 'pull')
  }

  /** Peers that should have chunk `n`: its stripe's children first, then holders (fewer to strangers). */
  private elsewhere(n: number, ctx: Ctx): string[] {
    const max = ctx.verified ? 8 : 3
    return [...this.k.children.of(stripeOf(n)), ...this.k.holders.list(ctx.from, max)].filter((p) => p !== ctx.from).slice(0, max)
  }

  /** Counts a pull we are about to serve; false when this second's allowance is used up. */
  private pullAllowance(): boolean {
    const now = this.c.node.timers.now()
    if (now - this.pullWindow.at >= 1000) this.pullWindow = { at: now, served: 0 }
    if (!mayServePull(this.pullWindow.served, this.k.children.spareBytesPerSecond())) return false
    this.pullWindow.served++
    return true
  }

  /** The chunk's signed record, which goes before its data (and alone where the data may not). */
  private replyRecord(ctx: Ctx, rec: ChunkRecord): void {
    ctx.reply({ type: 'HereAreChunkHashes', id: this.c.id, chunks: [rec] })
  }

  private async replyChunk(ctx: Ctx, n: number, rec: ChunkRecord, within: number, length: number, cause: UploadCause): Promise<void> {
    const { log, id } = this.c
    let bytes: Buffer
    try { bytes = await log.read(n * CHUNK_SIZE + within, length) } catch { this.k.budget.unpulled(n, length, cause, ctx.from); return }
    const head = log.head()
    const ended = head?.ended ? head.length : undefined
    this.replyRecord(ctx, rec)
    const hops = this.k.tracker.hops(n)
    // An answer to a pull is a repair, not a push: flagged, so that a child pulling from its own
    // stripe parent does not count the answer as that parent feeding it. Counted as feeding, a
    // cycle cut off from the source (nodes that re-parented into their own subtree) lived for good
    // on its members pulling from each other: a stripe's tree stayed unformed for 30 s and more.
    const repaired = ctx.peer.speaksStreams ? { repaired: true } : {}
    for (let off = 0; off < bytes.length; off += BLOCK_SIZE) {
      ctx.reply({ type: 'Content', id, offset: n * CHUNK_SIZE + within + off, data: bytes.subarray(off, off + BLOCK_SIZE), eof: ended, hops, ...repaired }, 'stream', this.c.role)
    }
    this.k.stats.uploaded(ctx.from, bytes.length, cause)
  }
}

/** The records we hold of those asked for (`from`, `count`), at most one message's worth. */
function recordsHeld<T>(m: { from: number; count: number }, get: (n: number) => T | null | undefined): T[] {
  const out: T[] = []
  for (let n = m.from; n < m.from + Math.min(m.count, MAX_RECORDS_PER_MESSAGE); n++) {
    const r = get(n)
    if (r) out.push(r)
  }
  return out
}
