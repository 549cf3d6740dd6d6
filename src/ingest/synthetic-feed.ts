// A synthetic live source for the benchmark and the simulator: bytes appended to a real source
// StreamLog (hashed and signed as ingest does) at a steady bitrate, a segment cut every segmentMs.
// No ffmpeg: the scheduler is what is measured, and random bytes cost the same to carry as video.
import { randomBytes } from 'node:crypto'
import type { StreamLog } from '../store/stream-log.ts'
import { realTimers, type Timer, type Timers } from '../util/timers.ts'

/** Appends happen this often: small enough that chunks leave as they fill, as with a real encoder. */
const TICK_MS = 40

export interface SyntheticFeedComponents {
  log: StreamLog
  timers?: Timers
  /** Where the bytes come from (random by default; the simulator draws them from its seed). */
  bytes?: (n: number) => Buffer
}

export class SyntheticFeed {
  private log: StreamLog
  private timers: Timers
  private bytes: (n: number) => Buffer
  private timer: Timer | undefined
  private busy = false
  private appended = 0
  private segStart = 0
  private segAt = 0
  private owed = 0
  private last = 0

  constructor(c: SyntheticFeedComponents, private init: { bitrateBps: number; segmentMs: number }) {
    this.log = c.log
    this.timers = c.timers ?? realTimers
    this.bytes = c.bytes ?? randomBytes
  }

  start(): void {
    this.last = this.segAt = this.timers.now()
    this.timer = this.timers.setInterval(() => void this.tick(), TICK_MS)
  }

  private async tick(): Promise<void> {
    if (this.busy) return
    this.busy = true
    try {
      // Bytes owed by the clock, so a slow tick on a busy machine does not lower the bitrate.
      const now = this.timers.now()
      this.owed += ((now - this.last) / 1000) * (this.init.bitrateBps / 8)
      this.last = now
      const n = Math.floor(this.owed)
      if (n > 0) {
        this.owed -= n
        await this.log.append(this.bytes(n))
        this.appended += n
        // Stopped meanwhile: the owner may be closing the log (a segment cut now threw ERR_CLOSED).
        if (this.timer === undefined) return
      }
      if (now - this.segAt >= this.init.segmentMs && this.appended > this.segStart) {
        await this.log.addSegment({ offset: this.segStart, length: this.appended - this.segStart, duration: (now - this.segAt) / 1000, pdt: this.segAt, discontinuity: false })
        this.segStart = this.appended
        this.segAt = now
      }
    } finally { this.busy = false }
  }

  stop(): void { this.timers.clear(this.timer); this.timer = undefined }
}
