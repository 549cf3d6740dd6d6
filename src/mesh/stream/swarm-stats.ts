// One stream's counters on one node: bytes up and down, chunk outcomes, hops, delays and who fed
// whom. The single source for the swarm's status and its metrics: the exported stream byte counters
// read these totals (the runtime hands them to the sink's readStreams), nothing else counts them.
import type { SwarmContext } from './swarm-context.ts'

/** Recent deliveries remembered for the relay graph (who fed us each chunk). */
export const FED_BY_MEMORY = 256
/** Delays kept for the percentiles: when full, the older half goes. */
const MAX_DELAYS = 4096

export type ChunkOutcome = 'new' | 'duplicate' | 'late' | 'rejected'
/** Why a chunk went out: a live push, a repair forwarded down, a new child's catch-up, or a pull
 * answered (at the source, by which of its rules: within its budget, a chunk nobody else has, its
 * own child in the chunk's stripe (a push lost on that link), a viewer that asked again and
 * again, or the same for a joiner's start-up chunk, counted apart). Where the source's copies
 * beyond the first go. */
export type UploadCause = 'push' | 'repair-push' | 'catchup' | 'pull' | 'pull-unpushed' | 'pull-child' | 'pull-asked-again' | 'pull-startup'
/** How a duplicate came: pushed by our stripe parent or by another peer (a parent we left, a
 * catch-up), flagged repaired (a pull answered or a repair forwarded down), or a chunk completed
 * twice while its first copy was being stored; `sealed-` when the sender shares an encrypted
 * session with us. Where wasted upload comes from, per receiver. */
export type DuplicateCause = `${'' | 'sealed-'}${'push-parent' | 'push-other' | 'repaired' | 'stored-twice'}`

export class SwarmStats {
  private readonly c: SwarmContext
  readonly totals = {
    uploadedBytes: 0, receivedBytes: 0, receivedFromSourceBytes: 0, producedBytes: 0, duplicateBytes: 0,
    chunks: { new: 0, duplicate: 0, late: 0, rejected: 0 }, hops: {} as Record<string, number>,
    uploadedBy: {} as Partial<Record<UploadCause, number>>,
    duplicateBy: {} as Partial<Record<DuplicateCause, number>>,
  }
  /** Told every verified chunk's age (the audience telemetry keeps its own window of them). */
  onDelay: ((ageMs: number, hops: number) => void) | undefined
  private delays: number[] = []
  private fedByRing: string[] = []
  private fedToCounts = new Map<string, number>()
  private fedWindow = new Set<string>()

  constructor(components: { context: SwarmContext }) {
    this.c = components.context
  }

  count(result: ChunkOutcome): void {
    this.totals.chunks[result]++
    this.c.node.metrics.chunkReceived(result)
  }

  /** Payload that arrived for a chunk already held (or already being stored): wasted upload. */
  duplicate(bytes: number, cause: DuplicateCause): void {
    this.count('duplicate')
    this.totals.duplicateBytes += bytes
    this.totals.duplicateBy[cause] = (this.totals.duplicateBy[cause] ?? 0) + bytes
  }

  produced(bytes: number): void {
    this.totals.producedBytes += bytes
  }

  /** A chunk (push or pull) went out to `to`, for `cause`. */
  uploaded(to: string, bytes: number, cause: UploadCause): void {
    this.totals.uploadedBytes += bytes
    this.totals.uploadedBy[cause] = (this.totals.uploadedBy[cause] ?? 0) + bytes
    this.fedToCounts.set(to, (this.fedToCounts.get(to) ?? 0) + 1)
    this.fedWindow.add(to)
  }

  /** A new chunk was verified and stored: `firstSender` fed it, `hops` from the source. */
  received(bytes: number, fromSource: boolean, hops: number, firstSender: string): void {
    this.totals.receivedBytes += bytes
    if (fromSource) this.totals.receivedFromSourceBytes += bytes
    this.totals.hops[hops] = (this.totals.hops[hops] ?? 0) + 1
    this.fedByRing.push(firstSender)
    if (this.fedByRing.length > FED_BY_MEMORY) this.fedByRing.shift()
  }

  /** A verified chunk's age since it was signed. */
  delay(ageMs: number, hops: number): void {
    this.delays.push(ageMs)
    if (this.delays.length > MAX_DELAYS) this.delays.splice(0, MAX_DELAYS / 2)
    this.c.node.metrics.chunkVerified(ageMs / 1000, hops)
    this.onDelay?.(ageMs, hops)
  }

  /** Peers fed since the last call (the relay fan-out gauge), then resets the window. */
  takeFanout(): number {
    const n = this.fedWindow.size
    this.fedWindow.clear()
    return n
  }

  fedBy(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const a of this.fedByRing) out[a] = (out[a] ?? 0) + 1
    return out
  }

  fedTo(): Record<string, number> {
    return Object.fromEntries(this.fedToCounts)
  }

  delayMs(): { p50: number; p95: number; p99: number; max: number; count: number } {
    const sorted = [...this.delays].sort((a, b) => a - b)
    const q = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0)
    return { p50: q(0.5), p95: q(0.95), p99: q(0.99), max: sorted.at(-1) ?? 0, count: sorted.length }
  }
}
