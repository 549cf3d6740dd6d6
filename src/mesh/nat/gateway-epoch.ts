// The epoch check of PCP (RFC 6887 section 8.5) and NAT-PMP (RFC 6886 section 3.6): every reply
// carries the seconds since the gateway's mapping table was initialised. A reboot (or a restart of
// the daemon) loses our mapping without telling us; it shows as an epoch that went backwards, or
// that advanced much less (or more) than our own clock did since the previous reply. Then the
// client must map again at once instead of at its next renewal.

export interface EpochSample {
  /** The gateway's epoch, seconds. */
  server: number
  /** Our clock when the reply came, ms. */
  clientMs: number
}

/** Whether `curr` says the gateway lost its state since `prev` (the RFCs' test, with their 2 s of
 * slack and 1/16 for clock drift). */
export function epochLost(prev: EpochSample, curr: EpochSample): boolean {
  if (curr.server + 1 < prev.server) return true
  const clientDelta = (curr.clientMs - prev.clientMs) / 1000
  const serverDelta = curr.server - prev.server
  return clientDelta + 2 < serverDelta - serverDelta / 16 || serverDelta + 2 < clientDelta - clientDelta / 16
}

/** Keeps the last sample of one gateway: `observe` answers whether this reply revealed a reboot. */
export class EpochWatch {
  private last: EpochSample | null = null

  observe(server: number, clientMs: number): boolean {
    const curr = { server, clientMs }
    const lost = this.last !== null && epochLost(this.last, curr)
    this.last = curr
    return lost
  }

  reset(): void { this.last = null }
}
