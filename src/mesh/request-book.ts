// Every outstanding block request of one download, keyed by first block and peer, in the order
// they were sent. The book decides what a peer asks for next: the first missing blocks, or in the
// endgame a second copy of a request another peer has been slow to answer.
import type { BlockPlan } from './block-plan.ts'
import { MAX_DOWNLOAD_PEERS } from './download-peer.ts'
import type { DownloadPeer } from './download-peer.ts'

/** A request's key: its first block and the asking peer's slot, as one number (a string key cost a
 * concatenation per block in profiles); exact far beyond the 2^24 blocks of the largest file. */
const keyOf = (first: number, peer: DownloadPeer): number => first * MAX_DOWNLOAD_PEERS + peer.slot

export interface BlockRequest {
  key: number
  peer: DownloadPeer
  first: number
  count: number
  seq: number
  sentAt: number
  deadline: number
  /** The same blocks were asked of this peer before without an answer: no RTT sample (Karn). */
  retry: boolean
}

export class RequestBook {
  private open = new Map<number, BlockRequest>()
  /** Keys that went unanswered once: bounded by blocks x peers of one download. */
  private unanswered = new Set<number>()

  constructor(private plan: () => BlockPlan | undefined) {}

  get size(): number { return this.open.size }
  values(): IterableIterator<BlockRequest> { return this.open.values() }
  get(key: number): BlockRequest | undefined { return this.open.get(key) }

  /** Removes and returns the request an answer at `first` from `peer` belongs to. */
  take(first: number, peer: DownloadPeer): BlockRequest | undefined {
    const key = keyOf(first, peer)
    const r = this.open.get(key)
    if (r) this.open.delete(key)
    return r
  }

  /** The next blocks for a peer, recorded as requested (sequence and deadline are set on sending). */
  next(peer: DownloadPeer, maxRun: number, now: number): BlockRequest | undefined {
    const run = this.pick(peer, maxRun, now)
    if (!run) return undefined
    const key = keyOf(run.first, peer)
    const r: BlockRequest = { key, peer, first: run.first, count: run.count, seq: 0, sentAt: now, deadline: 0, retry: this.unanswered.has(key) }
    this.open.set(key, r)
    return r
  }

  private pick(peer: DownloadPeer, maxRun: number, now: number): { first: number; count: number } | undefined {
    const plan = this.plan()
    // Size unknown: ask for block 0 to learn it (one such probe per peer).
    if (!plan) return this.open.has(keyOf(0, peer)) ? undefined : { first: 0, count: 1 }
    const run = plan.take(maxRun)
    if (run) return run
    // Endgame: every missing block is requested. Ask for a copy of one another peer has not
    // answered within its usual round trip, so one slow peer cannot hold up the finish.
    for (const r of this.open.values()) {
      if (r.peer === peer || now - r.sentAt < 1.5 * (r.peer.win.srttMs ?? 100)) continue
      for (let i = r.first; i < r.first + r.count; i++) {
        if (!this.open.has(keyOf(i, peer)) && plan.duplicate(i)) return { first: i, count: 1 }
      }
    }
    return undefined
  }

  /** Withdraws a request without an answer; its blocks can be asked of anyone again. */
  release(r: BlockRequest, unanswered: boolean): void {
    this.open.delete(r.key)
    if (unanswered) this.unanswered.add(r.key)
    this.settle(r)
  }

  /** The request's blocks are no longer asked for by it (answered or withdrawn). */
  settle(r: BlockRequest): void {
    const plan = this.plan()
    if (plan) for (let i = r.first; i < r.first + r.count; i++) plan.release(i)
  }

  /** Once the size is known, probes for block 0 count as requests for it (past the cap: for nothing). */
  adoptProbes(plan: BlockPlan): void {
    for (const r of this.open.values()) if (!plan.duplicate(0)) r.count = 0
  }

  /** Requests whose deadline passed, removed from the book. */
  expired(now: number): BlockRequest[] {
    const out: BlockRequest[] = []
    for (const r of this.open.values()) if (r.deadline <= now) out.push(r)
    for (const r of out) this.release(r, true)
    return out
  }

  /** Open requests whose blocks include `i`. A scan: called only in the endgame, when a block is
   * asked of two peers and few requests are open. */
  covering(i: number): BlockRequest[] {
    const out: BlockRequest[] = []
    for (const r of this.open.values()) if (r.first <= i && i < r.first + r.count) out.push(r)
    return out
  }

  ofPeer(peer: DownloadPeer): BlockRequest[] { return [...this.open.values()].filter((r) => r.peer === peer) }

  /** Cancels everything (the download ended); windows are told so. */
  clear(): void {
    for (const r of this.open.values()) r.peer.win.cancelled()
    this.open.clear()
    this.unanswered.clear()
  }
}
