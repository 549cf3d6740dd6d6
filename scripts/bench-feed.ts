// The benchmark's live source: random bytes appended to a real source StreamLog (hashed and signed
// as ingest does) at a steady bitrate, a segment cut every segmentMs. No ffmpeg: the scheduler is
// what is measured, and random bytes cost the same to carry as video.
import { randomBytes } from 'node:crypto'
import type { StreamLog } from '../src/store/stream-log.ts'

/** Appends happen this often: small enough that chunks leave as they fill, as with a real encoder. */
const TICK_MS = 40

export class BenchFeed {
  private timer: NodeJS.Timeout | undefined
  private busy = false
  private appended = 0
  private segStart = 0
  private segAt = Date.now()
  private owed = 0
  private last = Date.now()

  constructor(private log: StreamLog, private bitrateBps: number, private segmentMs: number) {}

  start(): void {
    this.last = this.segAt = Date.now()
    this.timer = setInterval(() => void this.tick(), TICK_MS)
  }

  private async tick(): Promise<void> {
    if (this.busy) return
    this.busy = true
    try {
      // Bytes owed by the wall clock, so a slow tick on a busy machine does not lower the bitrate.
      const now = Date.now()
      this.owed += ((now - this.last) / 1000) * (this.bitrateBps / 8)
      this.last = now
      const n = Math.floor(this.owed)
      if (n > 0) {
        this.owed -= n
        await this.log.append(randomBytes(n))
        this.appended += n
      }
      if (now - this.segAt >= this.segmentMs && this.appended > this.segStart) {
        await this.log.addSegment({ offset: this.segStart, length: this.appended - this.segStart, duration: (now - this.segAt) / 1000, pdt: this.segAt, discontinuity: false })
        this.segStart = this.appended
        this.segAt = now
      }
    } finally { this.busy = false }
  }

  stop(): void { clearInterval(this.timer); this.timer = undefined }
}
