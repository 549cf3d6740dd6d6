// How often a stripe of this stream gets a chunk, read from the times the source signed into its
// chunk records. The swarm's silences (a parent gone, a stripe no longer flowing) were tuned at
// 2 Mb/s, where each stripe gets a chunk every 262 ms; at 250 kb/s it gets one every 2.1 s, and a
// 1.5 s silence took every parent for gone between two of its pushes (200 viewers x 30 s, 1 % loss:
// 1.83 source copies, 10 % duplicates, against 1.08 and 1.9 % at 2 Mb/s). The signed times are the
// source's own pace, the same at every viewer whatever its path, and a liar cannot forge them.
import { STRIPES } from '../messages.ts'

/** Chunks remembered: a few seconds of a slow stream, a second of a fast one, so a change of
 * bitrate is followed within that. */
const WINDOW = 64

export class ChunkPace {
  private readonly ns = new Float64Array(WINDOW).fill(-1)
  private readonly times = new Float64Array(WINDOW)
  private cached: number | undefined
  private dirty = false

  /** A verified record: chunk `n` was signed at `time` (ms, the source's clock). */
  heard(n: number, time: number): void {
    const i = n % WINDOW
    if (this.ns[i] >= n) return
    this.ns[i] = n
    this.times[i] = time
    this.dirty = true
  }

  /** How long a stripe waits for its next chunk: STRIPES chunk intervals at the stream's mean
   * pace (undefined until two chunks are known). The mean, not the longest wait: a source busy in a
   * join wave of 50 real processes signed a chunk seconds late now and then, and silences stretched
   * by that wait (a parent kept 10 s after it stopped, a relay taking children 5 s after its feed
   * did) let the stripe-0 tree lose the source at every viewer (bench:audience, 50 viewers: 0 of
   * 50 attached in one run of three). */
  stripeMs(): number | undefined {
    const ms = this.chunkMs()
    return ms === undefined ? undefined : STRIPES * ms
  }

  /** The mean time between two chunks over the chunks remembered (undefined until two are known). */
  chunkMs(): number | undefined {
    if (!this.dirty) return this.cached
    this.dirty = false
    let first = -1
    let last = -1
    for (let i = 0; i < WINDOW; i++) {
      const n = this.ns[i]
      if (n < 0) continue
      if (first < 0 || n < this.ns[first]) first = i
      if (last < 0 || n > this.ns[last]) last = i
    }
    const span = last >= 0 ? this.ns[last] - this.ns[first] : 0
    this.cached = span > 0 ? (this.times[last] - this.times[first]) / span : undefined
    return this.cached
  }
}
