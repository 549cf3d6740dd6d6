// How often one address may announce to us (IHave, IHaveNamed): a fixed window per address, in a
// table that strangers fill, so the table has a cap of its own and forgets finished windows first.
import type { Clock } from '../../util/timers.ts'

/** Addresses whose announce rate we track; ones whose minute is over are forgotten first. */
const MAX_ANNOUNCERS = 4096
const MINUTE_MS = 60_000

export class AnnounceRate {
  private rates = new Map<string, { since: number; n: number }>()

  constructor(private clock: Clock, private perMinute: number) {}

  /** Counts one announcement from `addr`; false once it is over its minute's allowance. */
  charge(addr: string): boolean {
    const now = this.clock.now()
    let r = this.rates.get(addr)
    if (!r || now - r.since >= MINUTE_MS) {
      if (!r && this.rates.size >= MAX_ANNOUNCERS) {
        this.sweep()
        // Still full: thousands of proven addresses announcing this minute; newcomers wait.
        if (this.rates.size >= MAX_ANNOUNCERS) return false
      }
      r = { since: now, n: 0 }
      this.rates.set(addr, r)
    }
    return ++r.n <= this.perMinute
  }

  sweep(): void {
    const now = this.clock.now()
    for (const [addr, r] of this.rates) if (now - r.since >= MINUTE_MS) this.rates.delete(addr)
  }
}
