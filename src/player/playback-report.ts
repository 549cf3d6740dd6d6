// What a player page tells the node about its playback. Validated like any remote input: the page
// is ours, but anything that can reach the port can post here.

export interface PlaybackReport {
  /** Stalls that ended since the previous report. */
  stalls: number
  /** Their total duration, seconds. */
  stallSeconds: number
  /** Seconds behind the live edge (program date time against the viewer's clock), if known. */
  latencySeconds: number | null
}

/** Largest report body: the three numbers fit in well under a hundred bytes. */
export const MAX_REPORT_BYTES = 1024
/** Stalls in one report: a page reports at least every 30 s, so more is not a real player. */
export const MAX_REPORT_STALLS = 1000
/** Longest plausible stall or latency, seconds: an hour. Anything larger is a broken clock. */
export const MAX_REPORT_SECONDS = 3600

/** A checked report, or a reason to refuse it. */
export function parsePlaybackReport(body: unknown): { report: PlaybackReport } | { error: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { error: 'body must be a JSON object' }
  const { stalls, stallSeconds, latencySeconds } = body as Record<string, unknown>
  if (typeof stalls !== 'number' || !Number.isInteger(stalls) || stalls < 0 || stalls > MAX_REPORT_STALLS) {
    return { error: `stalls must be an integer in 0..${MAX_REPORT_STALLS}` }
  }
  if (!inRange(stallSeconds)) return { error: `stallSeconds must be a number in 0..${MAX_REPORT_SECONDS}` }
  if (stalls === 0 && stallSeconds !== 0) return { error: 'stallSeconds without stalls' }
  if (latencySeconds !== null && latencySeconds !== undefined && !inRange(latencySeconds)) {
    return { error: `latencySeconds must be null or a number in 0..${MAX_REPORT_SECONDS}` }
  }
  return { report: { stalls, stallSeconds, latencySeconds: latencySeconds ?? null } }
}

function inRange(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= MAX_REPORT_SECONDS
}
