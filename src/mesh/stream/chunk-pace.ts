// How often a stripe of this stream gets a chunk, read from the times the source signed into its
// chunk records. The swarm's silences (a parent gone, a stripe no longer flowing) were tuned at
// 2 Mb/s, where each stripe gets a chunk every 262 ms; at 250 kb/s it gets one every 2.1 s, and a
// 1.5 s silence took every parent for gone between two of its pushes (200 viewers x 30 s, 1 % loss:
// 1.70 source copies, 11 % duplicates, against 1.06 and 1.8 % at 2 Mb/s). The signed times are the
// source's own pace, the same at every viewer whatever its path, and a liar cannot forge them.
import { STRIPES } from '../messages.ts'
import { CHUNK_SIZE } from '../../store/stream-types.ts'

/** Chunks remembered: about 4 s of a 2 Mb/s stream, 34 s of a 250 kb/s one; a change of bitrate
 * is followed within that. */
const WINDOW = 64
/** A chunk signed more than this per chunk after the newest one known, or before it, is the source
 * pausing (a restart) or its wall clock stepping, not its pace: the window starts again from it.
 * Averaged in, a 60 s restart of a 2 Mb/s stream read as a 4 s stripe period for 64 chunks, and a
 * clock stepped back as a stream too fast to stretch anything. */
const PAUSE_MS_PER_CHUNK = 5000

export class ChunkPace {
  private readonly ns = new Float64Array(WINDOW).fill(-1)
  private readonly times = new Float64Array(WINDOW)
  private newestN = -1
  private newestTime = 0
  /** Chunks before this one were signed before the last pause: not read. */
  private since = 0
  private cached: number | undefined
  private dirty = false

  /** A verified record: chunk `n` was signed at `time` (ms, the source's clock). */
  heard(n: number, time: number): void {
    const i = n % WINDOW
    if (this.ns[i] >= n || n < this.since) return
    if (n > this.newestN) {
      const gap = time - this.newestTime
      if (this.newestN >= 0 && (gap < 0 || gap > PAUSE_MS_PER_CHUNK * (n - this.newestN))) {
        this.chunkMs() // the pace before the pause, kept until a second chunk after it
        this.ns.fill(-1)
        this.since = n
      }
      this.newestN = n
      this.newestTime = time
    }
    this.ns[i] = n
    this.times[i] = time
    this.dirty = true
  }

  /** How long a stripe waits for its next chunk: STRIPES chunk intervals at the stream's mean
   * pace (undefined until two chunks are known). The mean, not the longest wait: a source whose
   * event loop stalls signs the next chunks late and then catches up (its feed owes bytes by the
   * clock), and one such wait would stretch every silence for the whole window (PARENT_TIMEOUT_MS
   * to some 10 s after a 4.6 s stall). */
  stripeMs(): number | undefined {
    const ms = this.chunkMs()
    return ms === undefined ? undefined : STRIPES * ms
  }

  /** The stream's bytes a second at that pace (chunks are CHUNK_SIZE; undefined until two are known). */
  bytesPerSecond(): number | undefined {
    const ms = this.chunkMs()
    return ms === undefined || ms <= 0 ? undefined : (CHUNK_SIZE * 1000) / ms
  }

  /** The mean time between two chunks over the chunks remembered (undefined until two are known;
   * just after a pause, the pace before it until a second chunk comes). */
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
    if (span > 0) this.cached = (this.times[last] - this.times[first]) / span
    return this.cached
  }
}
