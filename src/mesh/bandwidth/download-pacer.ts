// --max-download. What arrives cannot be refused, only not asked for: so file downloads reserve
// the bytes of each answer before they ask (DownloadSession holds its requests while the bucket is
// in debt), and everything else that arrives (stream pushes and repairs, control) is charged as it
// comes. Stream traffic thus goes first: its arrivals put the bucket in debt and the file requests
// wait until it is paid. A stream that alone arrives faster than the limit is not slowed (its
// parents push it unasked); the limit then holds files back entirely.
import type { Clock } from '../../util/timers.ts'
import { TokenBucket } from './token-bucket.ts'
import { RateMeter } from './rate-meter.ts'

/** As the upload bucket: a quarter second's worth after an idle spell, at least a few answers. */
const BURST_SECONDS = 0.25
const MIN_BURST_BYTES = 16 << 10

export interface DownloadStatus {
  /** Bytes a second; null without --max-download. */
  limitBytesPerSecond: number | null
  /** Bytes a second that arrived over the last few seconds. */
  rateBytesPerSecond: number
  receivedBytes: number
  /** Answer bytes of file requests held back because the bucket was in debt (each refusal counted;
   * the request goes later). */
  deferredBytes: number
}

export class DownloadPacer {
  readonly limit: number | null
  private readonly bucket: TokenBucket | null
  private readonly meter: RateMeter
  private deferred = 0

  /** `bytesPerSecond`: --max-download; undefined for none. */
  constructor(c: { clock: Clock }, init: { bytesPerSecond?: number } = {}) {
    this.meter = new RateMeter(c.clock)
    const rate = init.bytesPerSecond
    this.limit = rate === undefined ? null : rate
    this.bucket = rate === undefined ? null : new TokenBucket(c.clock, { rate, burst: Math.max(MIN_BURST_BYTES, rate * BURST_SECONDS) })
  }

  /** A datagram of `bytes` arrived; `reserved`: a file answer whose bytes its request already paid. */
  arrived(bytes: number, reserved: boolean): void {
    this.meter.add(bytes)
    if (!reserved) this.bucket?.take(bytes)
  }

  /** Reserves the bytes a file request's answer will take; false (nothing reserved) while the
   * bucket is in debt: the request waits. */
  reserve(bytes: number): boolean {
    if (this.bucket === null) return true
    if (!this.bucket.ready()) { this.deferred += bytes; return false }
    this.bucket.take(bytes)
    return true
  }

  status(): DownloadStatus {
    return { limitBytesPerSecond: this.limit, rateBytesPerSecond: Math.round(this.meter.perSecond()), receivedBytes: this.meter.total, deferredBytes: this.deferred }
  }
}
