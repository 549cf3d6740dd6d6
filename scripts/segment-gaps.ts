// Watches a viewer's log for new playable segments (every byte of the segment verified, and every
// segment before it from where the viewer started). The wait for the first one is the startup; the
// longest wait between two later ones is how long a playing player had to live on its buffer.
import { CHUNK_SIZE, type StreamLogReader } from '../src/store/stream-types.ts'
import { realTimers, type Timer, type Timers } from '../src/util/timers.ts'

export class SegmentGaps {
  private timer: Timer
  private next = -1
  private startAt = 0
  private lastAt = 0
  startupMs = -1
  maxGapMs = 0
  segments = 0

  constructor(private log: StreamLogReader, private startChunk: () => number, everyMs = 20, private timers: Timers = realTimers) {
    this.timer = timers.setInterval(() => this.poll(), everyMs)
  }

  private poll(): void {
    const start = this.startChunk()
    if (start < 0) return
    const now = this.timers.now()
    if (this.next < 0) {
      // The first segment that starts at or after the viewer's start point.
      for (let n = 0; n < this.log.segmentCount(); n++) {
        const s = this.log.segment(n)
        if (s && s.offset >= start * CHUNK_SIZE) { this.next = n; this.startAt = now; break }
      }
      return
    }
    for (;;) {
      const s = this.log.segment(this.next)
      if (!s || !this.log.hasRange(s.offset, s.length)) break
      if (this.segments === 0) this.startupMs = now - this.startAt
      else this.maxGapMs = Math.max(this.maxGapMs, now - this.lastAt)
      this.lastAt = now
      this.next++
      this.segments++
    }
  }

  /** Stops watching; the wait since the last new segment counts too (a stall that never ended). */
  stop(): void {
    if (this.segments > 0 && this.lastAt > 0) { this.poll(); this.maxGapMs = Math.max(this.maxGapMs, this.timers.now() - this.lastAt) }
    this.timers.clear(this.timer)
    this.lastAt = 0
  }
}
