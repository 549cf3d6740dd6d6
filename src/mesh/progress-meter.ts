// Download progress for people: bytes had, a smoothed rate and the time left.
import type { Clock } from '../util/timers.ts'

export interface DownloadProgress {
  /** Bytes of the file we have (including blocks a resumed copy already had). */
  bytes: number
  /** Total size, once a peer told us. */
  size?: number
  /** Bytes per second over the last few seconds. */
  rateBps: number
  /** Peers currently delivering. */
  peers: number
  /** Seconds left at the current rate; undefined while the rate or size is unknown. */
  etaSeconds?: number
}

/** Rate is smoothed with this time constant: long enough to hide bursts, short enough to follow change. */
const RATE_TAU_MS = 2000

export class ProgressMeter {
  private size?: number
  private rate = 0
  private counted = 0
  private lastAt: number
  private nextReport = 0

  constructor(private clock: Clock, private everyMs: number) {
    this.lastAt = clock.now()
  }

  start(size: number): void { this.size = size }

  /** Bytes fetched (not resumed) since the last tick. */
  add(bytes: number): void { this.counted += bytes }

  /** A progress report when one is due. */
  tick(bytes: number, peers: number): DownloadProgress | undefined {
    const now = this.clock.now()
    const dt = now - this.lastAt
    if (dt > 0) {
      const a = 1 - Math.exp(-dt / RATE_TAU_MS)
      this.rate += a * ((this.counted * 1000) / dt - this.rate)
      this.counted = 0
      this.lastAt = now
    }
    if (now < this.nextReport) return undefined
    this.nextReport = now + this.everyMs
    return this.report(bytes, peers)
  }

  final(size: number, peers: number): DownloadProgress {
    return { bytes: size, size, rateBps: Math.round(this.rate), peers, etaSeconds: 0 }
  }

  private report(bytes: number, peers: number): DownloadProgress {
    const rateBps = Math.round(this.rate)
    const left = this.size === undefined ? undefined : this.size - bytes
    const etaSeconds = left !== undefined && rateBps > 0 ? Math.ceil(left / rateBps) : undefined
    return { bytes, size: this.size, rateBps, peers, etaSeconds }
  }
}
