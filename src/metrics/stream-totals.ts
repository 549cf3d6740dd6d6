// The exported stream counters (cjp2p_stream_produced_bytes_total, cjp2p_stream_uploaded_bytes_total)
// and the live-stream gauge, from one source only: each stream's cumulative totals as its swarm
// statistics (SwarmStats) count them, read by the sink at every scrape and once more, finally, when
// the stream closes. Domain code has no second, per-send path into these counters, so there is
// nothing to reconcile: a counter grows by what a stream's total grew since the last reading.
// Only the final reading forgets a stream's baseline: a scrape that no longer lists a stream (it is
// closing) keeps it, so the final reading that follows adds only what grew, never the whole again.
import type { StreamRole, StreamStats, TrafficRole } from './types.ts'

export type StreamSeries = 'produced' | TrafficRole

/** Streams one node carries at once is small (one source, a few watched or relayed); the map is
 * keyed by stream ids that may come from peers, so it is capped. Evicting the oldest only forgets
 * its last totals (its bytes stay counted). */
export const MAX_TRACKED_STREAMS = 1024

interface Reported {
  role: StreamRole
  produced: number
  uploaded: number
  /** Listed by the last scrape: what the live-stream gauge counts. */
  listed: boolean
}

export class StreamTotals {
  private readonly streams = new Map<string, Reported>()

  /** Folds one stream's cumulative totals in; returns how much each exported counter must grow. */
  report(stats: StreamStats): Array<[StreamSeries, number]> {
    if (!valid(stats)) return []
    const key = stats.stream ?? ''
    const prev = this.streams.get(key)
    if (prev === undefined && this.streams.size >= MAX_TRACKED_STREAMS) {
      const oldest = this.streams.keys().next().value
      if (oldest !== undefined) this.streams.delete(oldest)
    }
    this.streams.delete(key) // re-insert so Map order is least recently reported first
    this.streams.set(key, { role: stats.role, produced: stats.producedBytes, uploaded: stats.uploadedBytes, listed: prev?.listed ?? false })
    return growth(stats, prev)
  }

  /** Every stream the node carries now, each folded in. A stream no longer listed keeps its baseline
   * (its final reading, from close(), is still to come) but leaves the live count. */
  sync(list: readonly StreamStats[]): Array<[StreamSeries, number]> {
    const out: Array<[StreamSeries, number]> = []
    for (const s of this.streams.values()) s.listed = false
    for (const stats of list) {
      out.push(...this.report(stats))
      const entry = this.streams.get(stats.stream ?? '')
      if (entry !== undefined) entry.listed = true
    }
    return out
  }

  /** A stream's final totals as it closes: folded in (what grew since the last scrape, or all of a
   * stream never scraped), then its baseline forgotten. */
  close(final: StreamStats): Array<[StreamSeries, number]> {
    if (!valid(final)) return []
    const key = final.stream ?? ''
    const prev = this.streams.get(key)
    this.streams.delete(key)
    return growth(final, prev)
  }

  /** Streams listed by the last scrape and not closed since, by role. */
  countByRole(): Record<StreamRole, number> {
    const counts: Record<StreamRole, number> = { source: 0, viewer: 0 }
    for (const s of this.streams.values()) if (s.listed) counts[s.role]++
    return counts
  }
}

function valid(stats: StreamStats): boolean {
  return validBytes(stats.producedBytes) && validBytes(stats.uploadedBytes) && (stats.role === 'source' || stats.role === 'viewer')
}

/** What each counter grows by from the last reading to this one. A total below the last one means
 * its owner restarted counting from zero (Prometheus counter reset semantics): all of the new total
 * is new bytes. A role change is treated the same way. */
function growth(stats: StreamStats, prev: Reported | undefined): Array<[StreamSeries, number]> {
  const fresh = prev === undefined || prev.role !== stats.role
  const producedDelta = fresh || stats.producedBytes < prev.produced ? stats.producedBytes : stats.producedBytes - prev.produced
  const uploadedDelta = fresh || stats.uploadedBytes < prev.uploaded ? stats.uploadedBytes : stats.uploadedBytes - prev.uploaded
  const uploadSeries: TrafficRole = stats.role === 'source' ? 'source' : 'relay'
  const out: Array<[StreamSeries, number]> = []
  if (producedDelta > 0) out.push(['produced', producedDelta])
  if (uploadedDelta > 0) out.push([uploadSeries, uploadedDelta])
  return out
}

/** Byte counts from domain code: anything else (NaN, negative, Infinity) is a bug there, and a
 * metrics call must never throw into the data path, so it is ignored. */
export function validBytes(n: number): boolean {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0
}
