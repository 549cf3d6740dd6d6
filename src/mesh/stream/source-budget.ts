// The source's upload is a budget: one copy pushed down the stripes, plus a bounded share of
// repairs. This holds what the source needs to decide whether a pull is within it.
import { STRIPES } from '../messages.ts'
import { BLOCK_SIZE } from '../../store/stream-types.ts'
import { sourceMayRepairChild, sourceMayRescue, sourceMayServe, stripeOf } from '../stream-policy.ts'
import { LIVE_WINDOW_CHUNKS, type SwarmContext } from './swarm-context.ts'
import type { SwarmStats, UploadCause } from './swarm-stats.ts'

/** A viewer that asks the source for the same chunk this often, despite redirects, gets it. */
const ASKS_BEFORE_SOURCE_SERVES = 5
const MAX_REFUSED_ASKS = 4096
/** Askers whose rescued bytes are remembered (keyed by requester input, so bounded: one forgotten
 * gets a fresh share, within the rescue's own allowance all the same). */
const MAX_RESCUED_ASKERS = 4096

/** One pull as the source judges it. `bytes`: what answering it serves (a classic peer gets one
 * block, our own peers the chunk). `startup`: the chunk was published before the asker first
 * reached us (a joiner's start-up buffer). */
export interface PullAsk { from: string; verified: boolean; bytes: number; ourChild?: boolean; startup?: boolean }

export class SourceBudget {
  private readonly c: SwarmContext
  private readonly stats: SwarmStats
  /** Bytes produced before our first child: nobody could have wanted them, so no budget from them. */
  private producedBeforeChildren = -1
  /** Bytes served to pulls (not pushes): the source's repair budget counts these. */
  private pulledBytes = 0
  /** Bytes served to our own children's pulls of their stripe's chunks, per stripe (sourceMayRepairChild). */
  private childPulledBytes: number[] = new Array(STRIPES).fill(0)
  /** At the source: recent chunks published while their stripe had no child, so no peer has them. */
  private unpushed = new Set<number>()
  /** At the source: pulls refused for the budget, per requester and chunk. */
  private refusedAsks = new Map<string, number>()
  /** At the source: bytes served under the "asked again" rule, in all and per asker. */
  private rescuedBytes = 0
  private rescuedBy = new Map<string, number>()

  constructor(components: { context: SwarmContext; stats: SwarmStats }) {
    this.c = components.context
    this.stats = components.stats
  }

  childTaken(): void {
    if (this.producedBeforeChildren < 0) this.producedBeforeChildren = this.stats.totals.producedBytes
  }

  noteUnpushed(n: number): void {
    this.unpushed.add(n)
    // Bounded to the live window: older chunks no player will ask for.
    if (this.unpushed.size > LIVE_WINDOW_CHUNKS) this.unpushed.delete(this.unpushed.values().next().value as number)
  }

  /** Chunk `n` reached a peer by push: others can supply it now. */
  pushed(n: number): void {
    this.unpushed.delete(n)
  }

  /** Chunk `n` is being served to a pull, under `cause` (pullCause): charged when the answer is
   * decided, before its bytes are read. */
  pulled(n: number, bytes: number, cause: UploadCause): void {
    if (cause === 'pull-child') this.childPulledBytes[stripeOf(n)] += bytes
    else this.pulledBytes += bytes
    this.unpushed.delete(n)
  }

  /** A charged pull to `from` whose read failed: nothing left, so its bytes go back to the budget,
   * and a rescue's to the rescue's allowance and that asker's share. An unpushed chunk is unpushed
   * still: the failed read did not put it anywhere, and the read may fail only for now (EMFILE
   * under load). */
  unpulled(n: number, bytes: number, cause: UploadCause, from: string): void {
    if (cause === 'pull-child') this.childPulledBytes[stripeOf(n)] -= bytes
    else this.pulledBytes -= bytes
    if (cause === 'pull-unpushed') this.noteUnpushed(n)
    if (cause === 'pull-asked-again' || cause === 'pull-startup') this.unrescued(from, rescueCharge(bytes))
  }

  /** Whether to serve this pull, and under which rule (null: it would exceed the source's budget,
   * point elsewhere). A relay serves under its own allowance ('pull'). A chunk the source never
   * pushed exists nowhere else: it is served whatever the budget. A push lost on its way to our
   * child in the chunk's stripe (`ourChild`) is missing below it too: served within a budget of
   * its own, so that the one node that should ask finds it open after a join wave spent the
   * other. So is one the same viewer has asked for again and again after being pointed
   * elsewhere: the swarm cannot supply it (its holders vanished, or lied), and a hole must not
   * stay a hole; but that rescue has a budget of its own and a share of it per asker
   * (sourceMayRescue): otherwise a subtree that a stripe fails to reach is fed chunk by chunk by
   * the source, whatever its budget. It charges `bytes`, what this answer serves (a block at
   * least). A joiner's start-up chunk (`startup`: published before the asker first reached us)
   * goes the same way, at the same fifth ask, and is counted apart ('pull-startup'). Serving it at
   * the first or second ask was measured and dropped: the first joiners' start-up asks spent the
   * whole allowance in the join wave and the source's copies at 3 % loss rose by 0.07-0.21
   * (docs/SCHEDULER.md session 12): most of what is asked of the source four times comes from the
   * swarm meanwhile. */
  pullCause(n: number, ask: PullAsk): UploadCause | null {
    if (!this.c.isSource) return 'pull'
    if (this.unpushed.has(n)) return 'pull-unpushed'
    const produced = this.stats.totals.producedBytes - Math.max(0, this.producedBeforeChildren)
    if (ask.ourChild && ask.verified && sourceMayRepairChild(this.childPulledBytes[stripeOf(n)], produced)) return 'pull-child'
    if (sourceMayServe(this.pulledBytes, produced)) return 'pull'
    if (!ask.verified || !this.askedAgain(ask, n, produced)) return null
    return ask.startup ? 'pull-startup' : 'pull-asked-again'
  }

  /** Counts a refused pull; true on the ASKS_BEFORE_SOURCE_SERVES-th ask for the same chunk, if the
   * rescue may serve it (else the next ask is that one again: the rescue's allowance grows with
   * the stream). */
  private askedAgain(ask: PullAsk, n: number, produced: number): boolean {
    const { from } = ask
    const key = `${from} ${n}`
    const asks = (this.refusedAsks.get(key) ?? 0) + 1
    // Only a chunk we hold: asks for one we do not must not spend the allowance on nothing.
    if (asks >= ASKS_BEFORE_SOURCE_SERVES && this.c.log.hasChunk(n) && this.mayRescue(from, produced)) {
      this.refusedAsks.delete(key)
      // Counted now, not once served: the chunk is read from the log first, and the other asks of
      // the same datagram (eight askers' nine each, in the test) all passed the check meanwhile.
      // The length served, not the chunk's: a classic peer gets one block an answer. At least a
      // block: every answer also carries the chunk's signed record, and an asker of one byte at a
      // time would otherwise get answers without end from an allowance counted in bytes.
      this.rescued(from, rescueCharge(ask.bytes))
      return true
    }
    // Keyed by requester input, so bounded: forgetting only costs a requester a few more asks.
    if (this.refusedAsks.size >= MAX_REFUSED_ASKS) this.refusedAsks.clear()
    this.refusedAsks.set(key, Math.min(asks, ASKS_BEFORE_SOURCE_SERVES - 1))
    return false
  }

  private mayRescue(from: string, produced: number): boolean {
    return sourceMayRescue({ rescuedBytes: this.rescuedBytes, askerBytes: this.rescuedBy.get(from) ?? 0, producedBytes: produced })
  }

  private rescued(from: string, bytes: number): void {
    this.rescuedBytes += bytes
    const had = this.rescuedBy.get(from)
    if (had === undefined && this.rescuedBy.size >= MAX_RESCUED_ASKERS) this.rescuedBy.delete(this.rescuedBy.keys().next().value as string)
    this.rescuedBy.set(from, (had ?? 0) + bytes)
  }

  /** Gives `bytes` back to the rescue, and to `from`'s share if it is still remembered (a forgotten
   * asker has a fresh share already; adding it back would push another asker out). */
  private unrescued(from: string, bytes: number): void {
    this.rescuedBytes -= bytes
    const had = this.rescuedBy.get(from)
    if (had !== undefined) this.rescuedBy.set(from, Math.max(0, had - bytes))
  }
}

/** What a rescue of `bytes` charges: a block at least, as every answer also carries the chunk's
 * signed record (askedAgain). */
function rescueCharge(bytes: number): number {
  return Math.max(bytes, BLOCK_SIZE)
}
