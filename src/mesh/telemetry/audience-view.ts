// The audience as the dashboard, Prometheus and `status --audience` show it: a merged summary with
// the figures people read (shares, percentiles, rates) worked out once, here.
import { delayPercentile, health, type AudienceSummary, type KidEntry } from './audience-summary.ts'

export interface AudienceView {
  viewers: number
  /** Viewers at each depth below this node (at the source: depth in the report tree). */
  byDepth: number[]
  /** The window the counts below cover, ms (10 s once a node has run that long). */
  windowMs: number
  chunks: { onTime: number; late: number; missed: number; onTimeShare: number; completeness: number }
  delayMs: { p50: number | null; p95: number | null; p99: number | null }
  /** The merged histogram: [bucket index, chunks] (bounds in DELAY_BUCKETS_MS). */
  delay: Array<[number, number]>
  /** The chunks the delays are of: those published from..to (ms, the source's clock), whole
   * epochs the tree has finished reporting, the last of them endedMsAgo; null before the first chunk. */
  delayWindow: { from: number; to: number; endedMsAgo: number } | null
  stalls: number
  stallSeconds: number
  uploadBytesPerSecond: number
  downloadBytesPerSecond: number
  /** Share of what viewers received that came from other viewers rather than the source. */
  offload: number | null
  versions: Record<string, number>
  /** Viewers by the NAT each classified itself behind (`unknown`: not classified yet). */
  nat: { none: number; cone: number; symmetric: number; unknown: number }
  /** Viewers whose summaries had to be capped on the way up. */
  suspect: number
  /** Direct children in the report stripe that sent a summary. */
  reporters: number
  kids: KidEntry[]
  traffic: { sent: number; sentBytes: number; received: number; receivedBytes: number; grantsSentBytes: number; grantsReceivedBytes: number }
}

export function audienceView(s: AudienceSummary, extra: Pick<AudienceView, 'windowMs' | 'delayWindow' | 'kids' | 'reporters' | 'traffic'>): AudienceView {
  const due = s.onTime + s.late + s.missed
  const perSecond = (n: number) => Math.round((n * 1000) / extra.windowMs)
  const ms = (v: number | null) => (v === null ? null : Math.round(v))
  return {
    viewers: s.viewers, byDepth: s.byDepth, windowMs: extra.windowMs, delayWindow: extra.delayWindow,
    chunks: { onTime: s.onTime, late: s.late, missed: s.missed, onTimeShare: round3(health(s)), completeness: due === 0 ? 1 : round3((s.onTime + s.late) / due) },
    delayMs: { p50: ms(delayPercentile(s, 0.5)), p95: ms(delayPercentile(s, 0.95)), p99: ms(delayPercentile(s, 0.99)) },
    delay: s.delay, stalls: s.stalls, stallSeconds: s.stallSeconds,
    uploadBytesPerSecond: perSecond(s.up), downloadBytesPerSecond: perSecond(s.down),
    offload: s.down > 0 ? round3(1 - s.fromSource / s.down) : null,
    versions: s.versions, nat: natOf(s), suspect: s.suspect, reporters: extra.reporters, kids: extra.kids, traffic: extra.traffic,
  }
}

function natOf(s: AudienceSummary): AudienceView['nat'] {
  const [none, cone, symmetric] = s.nat ?? [0, 0, 0]
  return { none, cone, symmetric, unknown: Math.max(0, s.viewers - none - cone - symmetric) }
}

const round3 = (v: number) => Math.round(v * 1000) / 1000
