// The source's audience over the last hour, one point every STEP_MS, kept in the node so the
// dashboard's chart survives a page reload (and a second browser sees the same past).
import type { AudienceView } from './audience-view.ts'

export const STEP_MS = 10_000
export const HISTORY_MS = 3_600_000

export interface AudiencePoint {
  t: number
  viewers: number
  onTimeShare: number
  p95Ms: number | null
  stalls: number
  offload: number | null
  suspect: number
}

export class AudienceHistory {
  private points: AudiencePoint[] = []

  /** Takes a point if the last one is STEP_MS old; forgets points older than HISTORY_MS. */
  add(now: number, v: AudienceView): void {
    const last = this.points.at(-1)
    if (last && now - last.t < STEP_MS) return
    this.points.push({ t: now, viewers: v.viewers, onTimeShare: v.chunks.onTimeShare, p95Ms: v.delayMs.p95, stalls: v.stalls, offload: v.offload, suspect: v.suspect })
    while (this.points.length > 0 && now - this.points[0].t > HISTORY_MS) this.points.shift()
  }

  list(): AudiencePoint[] { return [...this.points] }
}
