// Bytes a second over the last few seconds, for status and metrics: a ring of fixed time slots, so
// a burst shows for the window's length and then leaves (a smoothed average would never quite forget it).
import type { Clock } from '../../util/timers.ts'

/** Long enough to span the bursts a token bucket lets through, short enough to show a change soon. */
const WINDOW_MS = 5000
const SLOT_MS = 250
const SLOTS = WINDOW_MS / SLOT_MS

export class RateMeter {
  /** Bytes counted since the meter was made. */
  total = 0
  /** A plain array of doubles, held in the heap beside the meter: a Float64Array this small keeps
   * its numbers in a backing store of its own elsewhere, one more cache miss per datagram counted. */
  private slots: number[] = new Array<number>(SLOTS).fill(0)
  private slot: number
  private readonly since: number

  constructor(private readonly clock: Clock) {
    this.since = clock.now()
    this.slot = Math.floor(this.since / SLOT_MS)
  }

  add(bytes: number): void {
    this.advance()
    this.slots[this.slot % SLOTS] += bytes
    this.total += bytes
  }

  /** Bytes a second over the window (over the time since the start while that is shorter). */
  perSecond(): number {
    this.advance()
    let sum = 0
    for (const b of this.slots) sum += b
    // The ring holds the slots before this one whole and this one as far as it has gone.
    const now = this.clock.now()
    const spanMs = Math.max(SLOT_MS, Math.min(now - this.since, (SLOTS - 1) * SLOT_MS + (now % SLOT_MS)))
    return (sum * 1000) / spanMs
  }

  private advance(): void {
    const now = Math.floor(this.clock.now() / SLOT_MS)
    for (let s = this.slot + 1; s <= now && s <= this.slot + SLOTS; s++) this.slots[s % SLOTS] = 0
    this.slot = Math.max(this.slot, now)
  }
}
