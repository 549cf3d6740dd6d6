// Every outstanding block request of one download, keyed by first block and peer, in the order
// they were sent. The book decides what a peer asks for next: the first missing blocks, or in the
// endgame a second copy of a request another peer has been slow to answer.
import type { BlockPlan } from './block-plan.ts'
import { MAX_DOWNLOAD_PEERS, holdsBlock } from './download-peer.ts'
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

  /** `partials`: the download's peers with a fresh map of the blocks they hold (relays still
   * downloading); none for a file only complete providers have. */
  constructor(private plan: () => BlockPlan | undefined, private partials: (now: number) => DownloadPeer[] = () => []) {}

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
    const run = this.choose(plan, peer, maxRun, now)
    if (run) return run
    // Endgame: every missing block is requested. Ask for a copy of one another peer has not
    // answered within its usual round trip, so one slow peer cannot hold up the finish.
    for (const r of this.open.values()) {
      if (r.peer === peer || now - r.sentAt < 1.5 * (r.peer.win.srttMs ?? 100)) continue
      for (let i = r.first; i < r.first + r.count; i++) {
        if (peer.mayHave(i, now) && !this.open.has(keyOf(i, peer)) && plan.duplicate(i)) return { first: i, count: 1 }
      }
    }
    return undefined
  }

  /** Rarest first, as far as the wire tells: a partial provider is asked only for blocks its map
   * shows, and while partial providers are about, a complete one is asked first for the blocks none
   * of them holds (only it can give those; what a relay holds, the relay can give). A reader's
   * focus (the gateway) keeps its plain order. */
  private choose(plan: BlockPlan, peer: DownloadPeer, maxRun: number, now: number): { first: number; count: number } | undefined {
    const holds = peer.holdings(now)
    if (holds) return plan.takeWhere(maxRun, (i) => holdsBlock(holds, i), holds.from, holds.from + holds.bits.length * 8)
    const partials = plan.focused ? [] : this.partials(now)
    if (partials.length > 0) {
      const rare = plan.takeWhere(maxRun, (i) => !partials.some((p) => p.mayHave(i, now)))
      if (rare) return rare
    }
    return plan.take(maxRun)
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

  /** Block `i` came from `from`: withdraws other suppliers' requests for it whose blocks are now
   * all had (endgame copies), and returns them so their windows can be freed. A scan, but only
   * called when a block is still asked of someone after its answer, which is the endgame. A probe
   * to a peer yet to answer stays: re-asking it would write again to an address whose proof of life
   * may be on its way. */
  withdrawCopies(i: number, from: DownloadPeer): BlockRequest[] {
    const plan = this.plan()
    if (!plan) return []
    const out: BlockRequest[] = []
    for (const r of this.open.values()) {
      if (r.peer === from || r.peer.phase !== 'supplier' || i < r.first || i >= r.first + r.count) continue
      let all = true
      for (let k = r.first; k < r.first + r.count && all; k++) all = plan.isHad(k)
      if (all) out.push(r)
    }
    for (const r of out) this.release(r, false)
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
