// The source's audience (merged up the report tree by the telemetry, src/mesh/telemetry/) as
// Prometheus series: one scrape target shows the whole stream. Every figure covers the telemetry's
// sliding window: a count merged from a tree that changes shape is not monotonic, so the counts
// are gauges, and the delay histogram's buckets are the window's (histogram_quantile() reads them
// as they are, without rate()).
import { Gauge, Histogram, type MetricType, type MetricObjectWithValues, type MetricValueWithName, type Registry } from 'prom-client'
import type { AudienceStats } from './types.ts'

/** Exported delay bounds (s): the telemetry's 10 %-wide buckets summed into these. */
export const AUDIENCE_DELAY_LE = [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30] as const
export const MAX_EXPORTED_DEPTH = 16
const HISTOGRAM_HELP = 'Seconds from publication to verified, for every chunk the audience verified over the telemetry window (sum: from bucket bounds, an upper estimate)'

export class AudienceMetrics {
  private readonly viewers: Gauge
  private readonly byDepth: Gauge<'depth'>
  private readonly chunks: Gauge<'result'>
  private readonly delay: WindowHistogram
  private readonly stalls: Gauge
  private readonly stallSeconds: Gauge
  private readonly offload: Gauge
  private readonly suspect: Gauge
  private readonly window: Gauge
  private readonly nat: Gauge<'nat'>

  constructor(registry: Registry) {
    const registers = [registry]
    this.viewers = new Gauge({ name: 'cjp2p_audience_viewers', help: 'Viewers of this source\'s stream, counted up the report tree', registers })
    this.byDepth = new Gauge({ name: 'cjp2p_audience_viewers_by_depth', help: 'Viewers at each depth of the report tree (16: 16 and deeper)', labelNames: ['depth'] as const, registers })
    this.chunks = new Gauge({ name: 'cjp2p_audience_chunks', help: 'Chunks the audience verified on time or late, or missed, over the telemetry window', labelNames: ['result'] as const, registers })
    this.delay = new WindowHistogram({ name: 'cjp2p_audience_chunk_delay_seconds', help: HISTOGRAM_HELP, buckets: [...AUDIENCE_DELAY_LE], registers })
    this.stalls = new Gauge({ name: 'cjp2p_audience_stalls', help: 'Playback stalls the audience\'s player pages reported over the telemetry window', registers })
    this.stallSeconds = new Gauge({ name: 'cjp2p_audience_stall_seconds', help: 'Seconds of those stalls', registers })
    this.offload = new Gauge({ name: 'cjp2p_audience_offload_ratio', help: 'Share of the bytes viewers received that came from other viewers, not the source', registers })
    this.suspect = new Gauge({ name: 'cjp2p_audience_suspect_viewers', help: 'Viewers whose telemetry had to be capped on its way up (liars or broken nodes)', registers })
    this.nat = new Gauge({ name: 'cjp2p_audience_viewers_by_nat', help: 'Viewers by the NAT they classified themselves behind (none, cone, symmetric; unknown: not classified yet)', labelNames: ['nat'] as const, registers })
    this.window = new Gauge({ name: 'cjp2p_audience_window_seconds', help: 'The window the audience figures cover', registers })
  }

  set(a: AudienceStats): void {
    this.viewers.set(a.viewers)
    this.byDepth.reset()
    a.byDepth.slice(1, MAX_EXPORTED_DEPTH + 1).forEach((n, i) => this.byDepth.set({ depth: String(i + 1) }, n))
    this.chunks.set({ result: 'on_time' }, a.onTime)
    this.chunks.set({ result: 'late' }, a.late)
    this.chunks.set({ result: 'missed' }, a.missed)
    this.delay.window = a.delay
    this.stalls.set(a.stalls)
    this.stallSeconds.set(a.stallSeconds)
    if (a.offload !== null) this.offload.set(a.offload)
    this.suspect.set(a.suspect)
    this.window.set(a.windowMs / 1000)
    for (const [nat, n] of Object.entries(a.nat)) this.nat.set({ nat }, n)
  }
}

/** A histogram whose buckets are set whole from the merged telemetry, not observed one by one. */
class WindowHistogram extends Histogram {
  /** [upper bound ms, chunks] */
  window: Array<[number, number]> = []

  override get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    return this.getForPromString()
  }

  /** What the registry's text format reads (prom-client's Histogram.get() reads it too). */
  getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const name = 'cjp2p_audience_chunk_delay_seconds'
    const total = this.window.reduce((t, [, n]) => t + n, 0)
    const values: Array<MetricValueWithName<string>> = AUDIENCE_DELAY_LE.map((le) => ({
      metricName: `${name}_bucket`, labels: { le }, value: this.window.reduce((t, [ms, n]) => (ms <= le * 1000 ? t + n : t), 0),
    }))
    values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: total })
    values.push({ metricName: `${name}_sum`, labels: {}, value: this.window.reduce((t, [ms, n]) => t + (ms / 1000) * n, 0) })
    values.push({ metricName: `${name}_count`, labels: {}, value: total })
    // prom-client's typings declare MetricType as an enum its JavaScript does not export; the
    // registry writes `type` into the text format as it is, the string 'histogram'.
    return Promise.resolve({ name, help: HISTOGRAM_HELP, type: 'histogram' as unknown as MetricType, values, aggregator: 'sum', collect: () => {} })
  }
}
