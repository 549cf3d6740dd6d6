// A token bucket in bytes on an injected clock. A datagram is never split, so a send may take the
// bucket below zero (a debt that the refill pays back before the next send): over any span the
// bytes taken stay within rate x span + burst + one datagram, and a datagram larger than the
// burst still goes out. npm's token buckets read Date.now() themselves or wait with their own
// timers; the pacers here must run on virtual time in tests, so this small one is ours.
import type { Clock } from '../../util/timers.ts'

export interface TokenBucketInit {
  /** Bytes a second. */
  rate: number
  /** Bytes the bucket holds when full: what may leave at once after an idle spell. */
  burst: number
}

export class TokenBucket {
  readonly rate: number
  readonly burst: number
  private level: number
  private at: number

  constructor(private readonly clock: Clock, init: TokenBucketInit) {
    if (!(init.rate > 0) || !(init.burst > 0)) throw new RangeError('a token bucket needs a positive rate and burst')
    this.rate = init.rate
    this.burst = init.burst
    this.level = init.burst
    this.at = clock.now()
  }

  /** Tokens now: negative while a debt is being paid. */
  tokens(): number {
    const now = this.clock.now()
    if (now > this.at) {
      this.level = Math.min(this.burst, this.level + ((now - this.at) / 1000) * this.rate)
      this.at = now
    }
    return this.level
  }

  /** Whether something may be sent now: any positive level, whatever the size (see the debt above). */
  ready(): boolean { return this.tokens() > 0 }

  /** Whether `level` tokens are in hand: for a send that must leave them to more urgent ones. */
  holds(level: number): boolean { return this.tokens() >= level }

  /** Takes `bytes` (possibly into debt). */
  take(bytes: number): void {
    this.tokens()
    this.level -= bytes
  }

  /** Milliseconds until ready() holds again (0 when it holds now). */
  msUntilReady(): number {
    // One byte past zero, so the timer never wakes to a level of exactly 0 and sleeps again for 0 ms.
    return this.msUntil(1)
  }

  /** Milliseconds until holds(level) (0 when it holds now; never for a level above the burst). */
  msUntil(level: number): number {
    const t = this.tokens()
    return t >= level ? 0 : Math.ceil(((level - t) / this.rate) * 1000)
  }
}
