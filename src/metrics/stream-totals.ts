// Stream bytes reach the sink two ways: per-send hooks (streamBytesProduced/Uploaded) and cumulative
// per-stream totals from a status loop (setStreamStats). Both describe the same bytes, so adding
// them would double count a node that uses both. Each exported counter instead follows the larger
// of the two running sums; both sums only grow, so the counter stays monotonic. (A process that
// reports one stream only per send and another only by totals undercounts: pick one way per process.)
import type { StreamRole, StreamStats, TrafficRole } from './types.ts'

export type StreamSeries = 'produced' | TrafficRole

/** Streams one node carries at once is small (one source, a few watched or relayed); the map is
 * keyed by stream ids that may come from peers, so it is capped. Evicting the oldest only forgets
 * its last totals (its bytes stay counted). */
export const MAX_TRACKED_STREAMS = 1024

interface Reported { role: StreamRole; produced: number; uploaded: number }

export class StreamTotals {
  private readonly perCall = new Map<StreamSeries, number>()
  private readonly reported = new Map<StreamSeries, number>()
  private readonly exported = new Map<StreamSeries, number>()
  private readonly streams = new Map<string, Reported>()

  /** Adds per-call bytes; returns how much the exported counter must grow. */
  addPerCall(series: StreamSeries, bytes: number): number {
    if (!validBytes(bytes)) return 0
    this.perCall.set(series, (this.perCall.get(series) ?? 0) + bytes)
    return this.advance(series)
  }

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
    for (const [series, delta] of [['produced', producedDelta], [uploadSeries, uploadedDelta]] as const) {
      if (delta <= 0) continue
      this.reported.set(series, (this.reported.get(series) ?? 0) + delta)
      const grow = this.advance(series)
      if (grow > 0) out.push([series, grow])
    }
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

  private advance(series: StreamSeries): number {
    const target = Math.max(this.perCall.get(series) ?? 0, this.reported.get(series) ?? 0)
    const grow = target - (this.exported.get(series) ?? 0)
    if (grow <= 0) return 0
    this.exported.set(series, target)
    return grow
  }
}

/** Byte counts from domain code: anything else (NaN, negative, Infinity) is a bug there, and a
 * metrics call must never throw into the data path, so it is ignored. */
export function validBytes(n: number): boolean {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0
}
