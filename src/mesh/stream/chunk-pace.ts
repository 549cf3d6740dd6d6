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

  /** The longest a stripe waited for its next chunk among the chunks remembered (undefined until
   * two chunks of one stripe are known): the source's bursts count, not only its mean rate, since
   * a feed that writes a segment at a time leaves each stripe silent between them. */
  stripeMs(): number | undefined {
    if (!this.dirty) return this.cached
    this.dirty = false
    let most: number | undefined
    for (let i = 0; i < WINDOW; i++) {
      const n = this.ns[i]
      const j = (i + STRIPES) % WINDOW
      if (n < 0 || this.ns[j] !== n + STRIPES) continue
      const gap = this.times[j] - this.times[i]
      if (most === undefined || gap > most) most = gap
    }
    this.cached = most
    return most
  }
}
