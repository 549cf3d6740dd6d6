// One peer's request window: how many block requests may be outstanding to it, grown while it
// keeps up and cut when requests go unanswered (AIMD, as TCP and hypercore's replicator do), and
// the retransmission timeout from its measured round trips (RFC 6298).

/** Window a peer starts with once its address is proven: a few blocks, so a slow peer is not flooded. */
export const INITIAL_WINDOW = 8
/** The most requests outstanding to one peer. It bounds the bytes one peer can have in flight to us
 * (512 x 5.6 KB is under the 4 MiB receive buffer) and our per-peer bookkeeping. */
export const MAX_WINDOW = 512
/** No timeout shorter than this: a busy event loop or disk adds latency a loopback RTT does not show. */
export const MIN_RTO_MS = 250
/** No timeout longer than this: a peer silent this long is lost for now, its blocks go elsewhere. */
export const MAX_RTO_MS = 8000
/** Before the first sample: the reference node's default peer delay, times a safety factor. */
const FIRST_RTO_MS = 1000
/** Queueing delay (round trip above the lowest seen) past which the window stops growing: more
 * requests in flight would only wait in a queue (a socket buffer, a busy disk), as LEDBAT reasons. */
export const QUEUE_TARGET_MS = 40

export interface WindowInit { initial?: number; max?: number; minRtoMs?: number; maxRtoMs?: number }

export class RequestWindow {
  cwnd: number
  ssthresh: number
  srttMs?: number
  rttvarMs = 0
  minRttMs = Infinity
  inFlight = 0
  /** Consecutive timeouts without any answer in between; backs the timeout off exponentially. */
  backoff = 0
  private seq = 0
  /** Losses of requests sent before this sequence belong to an already-handled loss event. */
  private recoverSeq = 0
  private readonly max: number
  private readonly minRto: number
  private readonly maxRto: number

  constructor(init: WindowInit = {}) {
    this.max = init.max ?? MAX_WINDOW
    this.cwnd = Math.min(init.initial ?? INITIAL_WINDOW, this.max)
    this.ssthresh = this.max
    this.minRto = init.minRtoMs ?? MIN_RTO_MS
    this.maxRto = init.maxRtoMs ?? MAX_RTO_MS
  }

  /** Requests that may be sent now. */
  get room(): number { return Math.max(0, Math.floor(this.cwnd) - this.inFlight) }

  get rtoMs(): number {
    const base = this.srttMs === undefined ? FIRST_RTO_MS : this.srttMs + Math.max(4 * this.rttvarMs, 10)
    return Math.min(this.maxRto, Math.max(this.minRto, base) * 2 ** Math.min(this.backoff, 5))
  }

  /** Records one request sent; returns its sequence number. */
  sent(): number {
    this.inFlight++
    return ++this.seq
  }

  /** A request was answered. `rttMs` only for requests sent once (Karn: a retry's echo is ambiguous). */
  acked(rttMs?: number): void {
    this.inFlight = Math.max(0, this.inFlight - 1)
    this.backoff = 0
    if (rttMs !== undefined && rttMs >= 0) {
      this.sample(rttMs)
      if (rttMs > this.minRttMs + QUEUE_TARGET_MS) return
    }
    if (this.cwnd < this.ssthresh) this.cwnd += 1 // slow start: doubles per round trip
    else this.cwnd += 1 / this.cwnd // congestion avoidance: one more per round trip
    this.cwnd = Math.min(this.cwnd, this.max)
  }

  /** A request went unanswered (timeout) or was answered uselessly. Cuts the window once per loss
   * event: every request already in flight when the first loss was seen belongs to that event. */
  lost(seq: number, timedOut: boolean): void {
    this.inFlight = Math.max(0, this.inFlight - 1)
    if (timedOut) this.backoff++
    if (seq <= this.recoverSeq) return
    this.recoverSeq = this.seq
    this.ssthresh = Math.max(2, Math.floor(this.cwnd / 2))
    this.cwnd = this.ssthresh
  }

  /** A request was withdrawn without an answer being due (download finished, peer dropped). */
  cancelled(): void { this.inFlight = Math.max(0, this.inFlight - 1) }

  private sample(ms: number): void {
    this.minRttMs = Math.min(this.minRttMs, ms)
    if (this.srttMs === undefined) {
      this.srttMs = ms
      this.rttvarMs = ms / 2
    } else {
      this.rttvarMs = 0.75 * this.rttvarMs + 0.25 * Math.abs(this.srttMs - ms)
      this.srttMs = 0.875 * this.srttMs + 0.125 * ms
    }
  }
}
