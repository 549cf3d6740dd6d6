// One pull open for one chunk: whom we asked, when, and how many times so far. It owns its retries:
// each retry moves it to the next holder (planRepairs picks which) and counts, and a holder's
// "I do not have it" ends its wait at once instead of after its timeout.
export class RepairRequest {
  /** When the current ask went out (-Infinity: refused, retry now). */
  at: number
  /** Asks so far, this one included. */
  tries = 1

  constructor(public peer: string, now: number) {
    this.at = now
  }

  /** Asked again, of `peer` (the same or the next holder). */
  retry(peer: string, now: number): void {
    this.peer = peer
    this.at = now
    this.tries++
  }

  /** The peer answered with hints, not data: the next pass retries elsewhere. */
  refused(): void {
    this.at = -Infinity
  }
}
