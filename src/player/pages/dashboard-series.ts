// Plot series for the dashboard from a short history of status snapshots: source copies uploaded
// (or, on a viewer that cannot read the source, the share it got from the source), stream
// bitrate against upload per node, per-node upload and download, chunk delay quantiles and stalls. Counters become rates over a few seconds, so a 1 s refresh does not make the lines
// jitter; a counter that went backwards (a node restarted) gives a gap, not a negative rate.
import type { DashboardNodeStatus } from './dashboard-status.ts'

/** Snapshots kept: two and a half minutes at one a second is what the plots show. */
export const MAX_HISTORY = 150
/** Rates are taken over at least this window. */
export const RATE_WINDOW_MS = 4000
/** The stream grows a segment at a time: its bitrate is taken between signed heads at least this
 * far apart (by the source's clock on them), over at most BITRATE_WINDOW_MS of history, so the
 * line neither saws with segment arrivals nor lags a real change for long. */
export const BITRATE_WINDOW_MS = 12_000
export const BITRATE_MIN_SPAN_MS = 3000

export interface NodeSample {
  role: 'source' | 'viewer'
  uploadedBytes: number
  receivedBytes: number
  receivedFromSourceBytes: number
  producedBytes: number
  /** Length and source time of the newest signed head this node holds: the stream's bitrate. */
  headBytes: number
  headTime: number
  stalls: number
  p50: number
  p95: number
  p99: number
  delayCount: number
}

export interface Snapshot {
  t: number
  /** Per node address, for one stream. */
  nodes: Record<string, NodeSample>
}

export interface DashboardSeries {
  /** Seconds relative to the newest snapshot (<= 0). */
  t: number[]
  /** Source upload / stream bytes since the start. */
  copies: (number | null)[]
  /** The same over the last few seconds. */
  copiesRecent: (number | null)[]
  /** Share of the viewers' stream bytes that came from other viewers. */
  offload: (number | null)[]
  /** Share of the viewers' stream bytes, since they started, that came from the source itself. */
  fromSource: (number | null)[]
  /** Stream bytes per second: produced at the source, else the signed head's growth at a viewer. */
  bitrate: (number | null)[]
  upload: Record<string, (number | null)[]>
  download: Record<string, (number | null)[]>
  /** Worst viewer's recent chunk delay, ms. */
  delay: { p50: (number | null)[]; p95: (number | null)[]; p99: (number | null)[] }
  /** Stalls reported by each node's player pages since it started. */
  stalls: Record<string, (number | null)[]>
  /** Now, per node: upload and download rates and totals (the bars). */
  bars: Array<{ id: string; role: string; upRate: number; downRate: number; uploaded: number; received: number; fromSource: number }>
}

/** The history one dashboard keeps, one ring per stream. */
export class DashboardHistory {
  private rings = new Map<string, Snapshot[]>()

  /** Records one snapshot of every stream in these statuses. */
  add(t: number, statuses: readonly DashboardNodeStatus[], streams: readonly string[]): void {
    for (const id of streams) {
      const nodes: Record<string, NodeSample> = {}
      for (const st of statuses) {
        const s = st.streams.find((x) => x.id === id)
        if (!s) continue
        nodes[st.udp] = {
          role: s.role, uploadedBytes: s.uploadedBytes, receivedBytes: s.receivedBytes, receivedFromSourceBytes: s.receivedFromSourceBytes,
          producedBytes: s.producedBytes, headBytes: s.headBytes, headTime: s.headTime, stalls: st.playback.stalls, p50: s.delayMs.p50, p95: s.delayMs.p95, p99: s.delayMs.p99, delayCount: s.delayMs.count,
        }
      }
      let ring = this.rings.get(id)
      if (!ring) this.rings.set(id, ring = [])
      ring.push({ t, nodes })
      if (ring.length > MAX_HISTORY) ring.shift()
    }
    // Streams nobody carries any more age out with their last snapshot.
    for (const [id, ring] of this.rings) if (!streams.includes(id) && t - ring[ring.length - 1].t > MAX_HISTORY * 1000) this.rings.delete(id)
  }

  snapshots(stream: string): readonly Snapshot[] {
    return this.rings.get(stream) ?? []
  }
}

export function seriesFrom(snaps: readonly Snapshot[]): DashboardSeries {
  const last = snaps.at(-1)
  const ids = [...new Set(snaps.flatMap((s) => Object.keys(s.nodes)))].sort()
  const out: DashboardSeries = {
    t: [], copies: [], copiesRecent: [], offload: [], fromSource: [], bitrate: [], upload: {}, download: {},
    delay: { p50: [], p95: [], p99: [] }, stalls: {}, bars: [],
  }
  for (const id of ids) { out.upload[id] = []; out.download[id] = []; out.stalls[id] = [] }
  let from = 0
  let fromLong = 0
  for (let i = 0; i < snaps.length; i++) {
    const cur = snaps[i]
    while (from < i - 1 && cur.t - snaps[from + 1].t >= RATE_WINDOW_MS) from++
    while (fromLong < i - 1 && cur.t - snaps[fromLong + 1].t >= BITRATE_WINDOW_MS) fromLong++
    const long = snaps[fromLong]
    const prev = i > 0 ? snaps[from] : null
    const dt = prev ? (cur.t - prev.t) / 1000 : 0
    out.t.push(Math.round((cur.t - (last?.t ?? cur.t)) / 100) / 10)
    const src = sum(cur, (n) => (n.role === 'source' ? n.uploadedBytes : 0))
    const produced = sum(cur, (n) => n.producedBytes)
    out.copies.push(produced > 0 ? src / produced : null)
    const dSrc = prev ? delta(cur, prev, (n) => (n.role === 'source' ? n.uploadedBytes : 0)) : null
    const dProduced = prev ? delta(cur, prev, (n) => n.producedBytes) : null
    out.copiesRecent.push(dSrc !== null && dProduced ? dSrc / dProduced : null)
    out.bitrate.push(streamRate(cur, long))
    const dViewers = prev ? delta(cur, prev, (n) => (n.role === 'viewer' ? n.receivedBytes : 0)) : null
    const dFromSrc = prev ? delta(cur, prev, (n) => (n.role === 'viewer' ? n.receivedFromSourceBytes : 0)) : null
    out.offload.push(dViewers && dFromSrc !== null ? clamp01(1 - dFromSrc / dViewers) : null)
    const viewerBytes = sum(cur, (n) => (n.role === 'viewer' ? n.receivedBytes : 0))
    out.fromSource.push(viewerBytes > 0 ? clamp01(sum(cur, (n) => (n.role === 'viewer' ? n.receivedFromSourceBytes : 0)) / viewerBytes) : null)
    for (const id of ids) {
      const n = cur.nodes[id]
      const p = prev?.nodes[id]
      out.upload[id].push(rate(n?.uploadedBytes, p?.uploadedBytes, dt))
      out.download[id].push(rate(n?.receivedBytes, p?.receivedBytes, dt))
      out.stalls[id].push(n ? n.stalls : null)
    }
    const viewers = Object.values(cur.nodes).filter((n) => n.role === 'viewer' && n.delayCount > 0)
    out.delay.p50.push(viewers.length ? Math.max(...viewers.map((n) => n.p50)) : null)
    out.delay.p95.push(viewers.length ? Math.max(...viewers.map((n) => n.p95)) : null)
    out.delay.p99.push(viewers.length ? Math.max(...viewers.map((n) => n.p99)) : null)
  }
  if (last) {
    for (const id of ids) {
      const n = last.nodes[id]
      if (!n) continue
      out.bars.push({
        id, role: n.role, upRate: out.upload[id].at(-1) ?? 0, downRate: out.download[id].at(-1) ?? 0,
        uploaded: n.uploadedBytes, received: n.receivedBytes, fromSource: n.receivedFromSourceBytes,
      })
    }
  }
  return out
}

function sum(s: Snapshot, f: (n: NodeSample) => number): number {
  let total = 0
  for (const n of Object.values(s.nodes)) total += f(n)
  return total
}

/** Growth of a summed counter over nodes present in both snapshots; null if any went backwards. */
function delta(cur: Snapshot, prev: Snapshot, f: (n: NodeSample) => number): number | null {
  let total = 0
  for (const [id, n] of Object.entries(cur.nodes)) {
    const p = prev.nodes[id]
    if (!p) continue
    const d = f(n) - f(p)
    if (d < 0) return null
    total += d
  }
  return total
}

/** Stream bytes per second between two snapshots: the signed heads' growth over the source's
 * own clock on them (exact, whenever the dashboard polled), the source's node first, else the
 * viewer whose head moved furthest; the source's produced bytes over our clock when no head does. */
function streamRate(cur: Snapshot, prev: Snapshot): number | null {
  let best: { source: boolean; bytes: number; rate: number } | null = null
  for (const [id, n] of Object.entries(cur.nodes)) {
    const p = prev.nodes[id]
    if (!p || n.headTime - p.headTime < BITRATE_MIN_SPAN_MS || n.headBytes < p.headBytes) continue
    const c = { source: n.role === 'source', bytes: n.headBytes - p.headBytes, rate: (n.headBytes - p.headBytes) / ((n.headTime - p.headTime) / 1000) }
    if (!best || (c.source && !best.source) || (c.source === best.source && c.bytes > best.bytes)) best = c
  }
  if (best) return best.rate
  const span = cur.t - prev.t
  const produced = span >= BITRATE_MIN_SPAN_MS && Object.entries(cur.nodes).some(([id, n]) => n.role === 'source' && prev.nodes[id]) ? delta(cur, prev, (n) => n.producedBytes) : null
  return produced === null ? null : produced / (span / 1000)
}

function rate(cur: number | undefined, prev: number | undefined, dt: number): number | null {
  if (cur === undefined || prev === undefined || dt <= 0 || cur < prev) return null
  return (cur - prev) / dt
}

function clamp01(v: number): number {
  return Math.min(1, Math.max(0, v))
}
