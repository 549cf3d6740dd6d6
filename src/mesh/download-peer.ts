// One peer's part in one download: its request window, what it has delivered, and whether it is
// answering at all. A peer starts as a candidate that gets one request at a time; its first full
// block makes it a supplier with a growing window; a run of timeouts sets it aside for a while.
import { RequestWindow } from './request-window.ts'
import type { PeerAnswer } from './transfer-error.ts'

/** Peers one download talks to: more add requests and bookkeeping, not speed. Each has a slot
 * below this, part of its requests' keys. */
export const MAX_DOWNLOAD_PEERS = 64
/** Timeouts in a row after which a peer counts as gone for now and its blocks go to others. */
export const GONE_AFTER_TIMEOUTS = 3
/** Useless answers (short data, as to an unproven address) in a row after which a peer is dropped. */
export const MAX_SHORT_ANSWERS = 16
/** Answers to requests sent this many later that overtake an unanswered one mark it lost: a peer's
 * answers come back nearly in order (its disk reads may swap a few), so this is a loss, not a delay. */
export const REORDER_SEQS = 16
/** How long a partial provider's map of held blocks is trusted before it is asked again. */
export const HOLDINGS_FRESH_MS = 1000
/** Longest rest for a peer that went silent before it is asked again. */
const MAX_REST_MS = 30_000

export type PeerPhase = 'candidate' | 'supplier' | 'resting' | 'dropped'

export class DownloadPeer {
  readonly win = new RequestWindow()
  phase: PeerPhase = 'candidate'
  /** Blocks it delivered that we did not already have. */
  blocks = 0
  bytes = 0
  timeoutsInRow = 0
  shortInRow = 0
  restUntil = 0
  rests = 0
  /** Blocks it gives per answer when asked for more, once an answer showed it (a classic peer: one
   * for the Ruby client relaying and our emulation, ten for the Rust node's 40 KiB clamp). */
  answerRun?: number
  /** Not before this time (our own anti-amplification budget toward it was exhausted). */
  notBefore = 0
  /** When we first asked it, and what it has answered so far (reported once per change). */
  askedAt?: number
  answer?: PeerAnswer

  /** Requests sent to it in order (key and sequence), answered ones included; trimmed as answers pass them. */
  private sentLog: { seq: number; key: number }[] = []
  private sentHead = 0

  /** `slot`: its index among the download's peers, below MAX_DOWNLOAD_PEERS. */
  constructor(readonly addr: string, readonly slot: number) {}

  logSent(seq: number, key: number): void { this.sentLog.push({ seq, key }) }

  /** Requests overtaken by the answer to `seq`; the caller keeps those still outstanding as lost. */
  overtaken(seq: number): { seq: number; key: number }[] {
    const out: { seq: number; key: number }[] = []
    while (this.sentHead < this.sentLog.length && this.sentLog[this.sentHead].seq < seq - REORDER_SEQS) out.push(this.sentLog[this.sentHead++])
    if (this.sentHead > 1024) { this.sentLog = this.sentLog.slice(this.sentHead); this.sentHead = 0 }
    return out
  }

  /** The window it may use now: one request until it has delivered (its address proven, our cookie
   * echoed), then the grown window. */
  room(): number {
    if (this.phase === 'dropped' || this.phase === 'resting') return 0
    if (this.phase === 'candidate') return this.win.inFlight === 0 ? 1 : 0
    return this.win.room
  }

  /** It answered a request with data. */
  answered(rttMs?: number): void {
    this.win.acked(rttMs)
    this.timeoutsInRow = 0
    this.shortInRow = 0
    this.rests = 0
    if (this.phase !== 'dropped') this.phase = 'supplier'
  }

  /** A request timed out; true when this made the peer rest (its other requests should be released). */
  timedOut(seq: number, now: number): boolean {
    this.win.lost(seq, true)
    this.timeoutsInRow++
    if (this.phase === 'dropped' || this.timeoutsInRow < GONE_AFTER_TIMEOUTS) return false
    this.phase = 'resting'
    this.restUntil = now + Math.min(MAX_REST_MS, 1000 * 2 ** this.rests++)
    this.timeoutsInRow = 0
    return true
  }

  /** Data arrived for a request already given up on: the peer is alive, only slower than its
   * timeout (a busy machine), so a rest it earned by those timeouts ends now. */
  answeredLate(): void {
    this.timeoutsInRow = 0
    this.win.backoff = 0
    if (this.phase === 'resting') { this.phase = 'supplier'; this.rests = 0 }
  }

  /** Back from a rest: one probe at a time again. */
  wake(now: number): void {
    if (this.phase === 'resting' && now >= this.restUntil) this.phase = 'candidate'
  }

  /** An answer without a usable block; true when the peer should be dropped. */
  short(): boolean {
    this.win.cancelled()
    return ++this.shortInRow >= MAX_SHORT_ANSWERS
  }

  /** What a partial provider (a relay still downloading a `blake3/` file) said it holds: blocks
   * `from + k` for each set bit k (LSB first), and when. Unset: assumed to hold the whole file. */
  holds?: { from: number; bits: Buffer; at: number }

  /** The holdings it last told us, while fresh: a relay keeps downloading, so an old map goes stale
   * and the peer is asked again (its next hint carries a new map). */
  holdings(now: number): { from: number; bits: Buffer } | undefined {
    return this.holds && now - this.holds.at < HOLDINGS_FRESH_MS ? this.holds : undefined
  }

  /** Whether it holds block i, as far as we know (a peer with no fresh map: yes). */
  mayHave(i: number, now: number): boolean {
    const h = this.holdings(now)
    return h === undefined || holdsBlock(h, i)
  }

  /** Ranking for the endgame and for progress: delivered throughput per round trip. */
  score(): number {
    return (this.phase === 'supplier' ? 1e9 : 0) + this.win.cwnd * 1000 / Math.max(1, this.win.srttMs ?? 1000)
  }
}

/** Bit k (LSB first) of a have-map starting at block `from` says block from + k is held. */
export function holdsBlock(h: { from: number; bits: Buffer }, i: number): boolean {
  const k = i - h.from
  return k >= 0 && k < h.bits.length * 8 && (h.bits[k >> 3] & (1 << (k & 7))) !== 0
}
