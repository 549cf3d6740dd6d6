// One pull open for one chunk: whom we asked, when, and how many times so far. It owns its retries:
// each retry moves it to the next holder (planRepairs picks which) and counts, and a holder's
// "I do not have it" ends its wait early, at its own retry time (REFUSED_RETRY_MS) instead of its
// timeout.
import { REFUSED_RETRY_MS } from '../stream-policy.ts'

export class RepairRequest {
  /** When the current ask went out. */
  at: number
  /** Set when the peer refused: when to ask the next one. */
  retryAt: number | undefined
  /** Asks so far, this one included. */
  tries = 1

  constructor(public peer: string, now: number) {
    this.at = now
  }

  /** Asked again, of `peer` (the same or the next holder). */
  retry(peer: string, now: number): void {
    this.peer = peer
    this.at = now
    this.retryAt = undefined
    this.tries++
  }

  /** The peer answered with hints, not data: retried elsewhere shortly. */
  refused(now: number): void {
    this.retryAt ??= now + REFUSED_RETRY_MS
  }
}
