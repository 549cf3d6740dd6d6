// The exported stream counters (cjp2p_stream_produced_bytes_total, cjp2p_stream_uploaded_bytes_total)
// and the live-stream gauge, from one source only: each stream's cumulative totals as its swarm
// statistics (SwarmStats) count them, read by the sink at every scrape. Domain code has no second,
// per-send path into these counters, so there is nothing to reconcile: a counter grows by what a
// stream's total grew since the last reading.
import type { StreamRole, StreamStats, TrafficRole } from './types.ts'

export type StreamSeries = 'produced' | TrafficRole

/** Streams one node carries at once is small (one source, a few watched or relayed); the map is
 * keyed by stream ids that may come from peers, so it is capped. Evicting the oldest only forgets
 * its last totals (its bytes stay counted). */
export const MAX_TRACKED_STREAMS = 1024

interface Reported { role: StreamRole; produced: number; uploaded: number }

export class StreamTotals {
  private readonly streams = new Map<string, Reported>()

  /** Folds one stream's cumulative totals in; returns how much each exported counter must grow. */
  report(stats: StreamStats): Array<[StreamSeries, number]> {
    if (!validBytes(stats.producedBytes) || !validBytes(stats.uploadedBytes)) return []
    if (stats.role !== 'source' && stats.role !== 'viewer') return []
    const key = stats.stream ?? ''
    const prev = this.streams.get(key)
    if (prev === undefined && this.streams.size >= MAX_TRACKED_STREAMS) {
      const oldest = this.streams.keys().next().value
      if (oldest !== undefined) this.streams.delete(oldest)
    }
    // A total below the last one means its owner restarted counting from zero (Prometheus counter
    // reset semantics): all of the new total is new bytes. A role change is treated the same way.
    const fresh = prev === undefined || prev.role !== stats.role
    const producedDelta = fresh || stats.producedBytes < prev.produced ? stats.producedBytes : stats.producedBytes - prev.produced
    const uploadedDelta = fresh || stats.uploadedBytes < prev.uploaded ? stats.uploadedBytes : stats.uploadedBytes - prev.uploaded
    this.streams.delete(key) // re-insert so Map order is least recently reported first
    this.streams.set(key, { role: stats.role, produced: stats.producedBytes, uploaded: stats.uploadedBytes })

    const uploadSeries: TrafficRole = stats.role === 'source' ? 'source' : 'relay'
    const out: Array<[StreamSeries, number]> = []
    if (producedDelta > 0) out.push(['produced', producedDelta])
    if (uploadedDelta > 0) out.push([uploadSeries, uploadedDelta])
    return out
  }

  /** Every stream the node carries now: each folded in, and those no longer listed closed. */
  sync(list: readonly StreamStats[]): Array<[StreamSeries, number]> {
    const out: Array<[StreamSeries, number]> = []
    const listed = new Set<string>()
    for (const stats of list) {
      listed.add(stats.stream ?? '')
      out.push(...this.report(stats))
    }
    for (const key of [...this.streams.keys()]) if (!listed.has(key)) this.close(key)
    return out
  }

  close(stream: string): void {
    this.streams.delete(stream)
  }

  /** Streams reported and not closed, by role. */
  countByRole(): Record<StreamRole, number> {
    const counts: Record<StreamRole, number> = { source: 0, viewer: 0 }
    for (const s of this.streams.values()) counts[s.role]++
    return counts
  }
}

/** Byte counts from domain code: anything else (NaN, negative, Infinity) is a bug there, and a
 * metrics call must never throw into the data path, so it is ignored. */
export function validBytes(n: number): boolean {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0
}
