// Turns the children's raw reports into the benchmark's figures, and figures into a table.
// Every figure is derived from what the nodes counted themselves (swarm status, metrics hooks,
// chunk verification times); nothing here is estimated from the outside.
import type { SourceReport, ViewerReport, ViewersReport } from './bench-ipc.ts'

export interface Figures {
  mode: 'p2p' | 'hls'
  viewers: number
  seconds: number
  streamBytes: number
  sourceCopies: number
  uploadPerViewerCopies: { median: number; max: number }
  delayMs: { p50: number; p95: number; p99: number; max: number; samples: number }
  completeness: { worst: number; mean: number; viewersCounted: number }
  duplicateShare: number
  controlShare: number
  wireOverheadShare: number
  startupMs: { median: number; max: number; neverPlayed: number }
  cpuSecondsPerNode: number
  cpuShareOfCorePerNode: number
  peakRssMbPerNode: number
  source: { cpuSeconds: number; peakRssMb: number }
  /** Delay quantiles 0, 1, ..., 100 % (for the chart). */
  delayCdfMs: number[]
  /** Each viewer's upload in copies, ascending (for the chart). */
  uploadsCopies: number[]
}

/** `graceMs`: completeness skips chunks published in each viewer's first this many ms (a flash
 * crowd's start-up is its own figure). */
export interface RunInfo { mode: 'p2p' | 'hls'; endAt: number; deadlineMs: number; stableMs: number; graceMs?: number }

const q = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0)

export function figures(run: RunInfo, src: SourceReport, procs: ViewersReport[]): Figures {
  const viewers: ViewerReport[] = procs.flatMap((p) => p.viewers)
  const times = src.chunkTimes
  const starts = viewers.map((v) => v.startChunk).filter((n) => n >= 0)
  const first = starts.length ? Math.min(...starts) : 0
  let streamBytes = 0
  for (let n = first; n < src.chunkBytes.length; n++) streamBytes += src.chunkBytes[n]
  const bytesBetween = (a: number, b: number) => {
    let s = 0
    for (let n = 0; n < times.length; n++) if (times[n] >= a && times[n] < b) s += src.chunkBytes[n]
    return s
  }

  const delays: number[] = []
  const complete: number[] = []
  const ups: number[] = []
  const startups: number[] = []
  let never = 0
  for (const v of viewers) {
    const until = v.leftAt ?? run.endAt
    const at = new Map(v.verified)
    for (const [n, t] of v.verified) if (times[n] !== undefined && times[n] >= v.joinAt) delays.push(t - times[n])
    ups.push(v.uploadedBytes / Math.max(1, bytesBetween(v.joinAt, until)))
    if (v.firstPlayableAt === null) never++
    else startups.push(v.firstPlayableAt - v.joinAt)
    // Completeness: every chunk published while the viewer was there, whose deadline fell inside
    // the run, counts; it is on time if verified within deadlineMs of its publish time.
    if (until - v.joinAt < run.stableMs) continue
    let due = 0
    let ok = 0
    for (let n = 0; n < times.length; n++) {
      if (times[n] < v.joinAt + (run.graceMs ?? 0) || times[n] + run.deadlineMs > until) continue
      due++
      const t = at.get(n)
      if (t !== undefined && t - times[n] <= run.deadlineMs) ok++
    }
    if (due > 0) complete.push(ok / due)
  }
  delays.sort((a, b) => a - b)
  ups.sort((a, b) => a - b)
  startups.sort((a, b) => a - b)
  const received = viewers.reduce((s, v) => s + v.receivedBytes, 0)
  const dup = viewers.reduce((s, v) => s + v.duplicateBytes, 0)
  const wire = [src.wire, ...viewers.map((v) => v.wire)]
  const payload = wire.reduce((s, w) => s + w.payloadBytes, 0)
  const control = wire.reduce((s, w) => s + w.controlDatagramBytes, 0)
  const streamWire = wire.reduce((s, w) => s + w.streamDatagramBytes, 0)
  const nodes = procs.reduce((s, p) => s + p.nodes, 0)
  const cpu = procs.reduce((s, p) => s + p.cpuSeconds, 0)
  const seconds = viewers.length ? (run.endAt - Math.min(...viewers.map((v) => v.joinAt))) / 1000 : 0
  // Memory per node: each process's peak shared by the nodes it ran (Node's own ~40 MB included).
  const rss = procs.reduce((s, p) => s + p.peakRssBytes, 0)
  return {
    mode: run.mode,
    viewers: viewers.length,
    seconds,
    streamBytes,
    sourceCopies: src.uploadedBytes / Math.max(1, streamBytes),
    uploadPerViewerCopies: { median: q(ups, 0.5), max: ups.at(-1) ?? 0 },
    delayMs: { p50: q(delays, 0.5), p95: q(delays, 0.95), p99: q(delays, 0.99), max: delays.at(-1) ?? 0, samples: delays.length },
    completeness: { worst: complete.length ? Math.min(...complete) : 0, mean: complete.length ? complete.reduce((a, b) => a + b, 0) / complete.length : 0, viewersCounted: complete.length },
    duplicateShare: dup / Math.max(1, received),
    controlShare: control / Math.max(1, payload),
    wireOverheadShare: (streamWire - payload) / Math.max(1, payload),
    startupMs: { median: q(startups, 0.5), max: startups.at(-1) ?? 0, neverPlayed: never },
    cpuSecondsPerNode: cpu / Math.max(1, nodes),
    cpuShareOfCorePerNode: cpu / Math.max(1, nodes) / Math.max(1, seconds),
    peakRssMbPerNode: rss / Math.max(1, nodes) / 2 ** 20,
    source: { cpuSeconds: src.cpuSeconds, peakRssMb: src.peakRssBytes / 2 ** 20 },
    delayCdfMs: Array.from({ length: 101 }, (_, i) => q(delays, i / 100)),
    uploadsCopies: ups.map((u) => Math.round(u * 1000) / 1000),
  }
}

const pct = (x: number, d = 1) => `${(x * 100).toFixed(d)} %`
const ms = (x: number) => `${Math.round(x)} ms`

/** The swarm and the baseline side by side, one figure a row. */
export function table(title: string, p2p: Figures, hls: Figures | null): string {
  const rows: Array<[string, (f: Figures) => string]> = [
    ['viewers (run seconds)', (f) => `${f.viewers} (${f.seconds.toFixed(0)} s)`],
    ['source copies uploaded', (f) => f.sourceCopies.toFixed(3)],
    ['upload per viewer, median / max (copies)', (f) => `${f.uploadPerViewerCopies.median.toFixed(2)} / ${f.uploadPerViewerCopies.max.toFixed(2)}`],
    ['chunk delay p50 / p95', (f) => `${ms(f.delayMs.p50)} / ${ms(f.delayMs.p95)}`],
    ['chunk delay p99 / max', (f) => `${ms(f.delayMs.p99)} / ${ms(f.delayMs.max)}`],
    ['completeness worst / mean (viewers)', (f) => `${pct(f.completeness.worst, 2)} / ${pct(f.completeness.mean, 2)} (${f.completeness.viewersCounted})`],
    ['duplicates / data', (f) => pct(f.duplicateShare, 2)],
    ['control / data', (f) => pct(f.controlShare, 2)],
    ['encoding overhead / data', (f) => pct(f.wireOverheadShare, 1)],
    ['startup median / max', (f) => `${ms(f.startupMs.median)} / ${ms(f.startupMs.max)}${f.startupMs.neverPlayed ? ` (${f.startupMs.neverPlayed} never)` : ''}`],
    ['CPU per viewer node (share of a core)', (f) => `${f.cpuSecondsPerNode.toFixed(2)} s (${pct(f.cpuShareOfCorePerNode, 2)})`],
    ['peak RSS per viewer node', (f) => `${f.peakRssMbPerNode.toFixed(1)} MB`],
    ['source CPU / peak RSS', (f) => `${f.source.cpuSeconds.toFixed(1)} s / ${f.source.peakRssMb.toFixed(0)} MB`],
  ]
  const w0 = Math.max(...rows.map((r) => r[0].length))
  const cells = rows.map(([name, fn]) => [name, fn(p2p), hls ? fn(hls) : '-'])
  const w1 = Math.max('cjp2p swarm'.length, ...cells.map((c) => c[1].length))
  const line = (a: string, b: string, c: string) => `| ${a.padEnd(w0)} | ${b.padEnd(w1)} | ${c} |`
  return [`### ${title}`, '', line('figure', 'cjp2p swarm', 'HLS from one server'), line('-'.repeat(w0), '-'.repeat(w1), '---'), ...cells.map((c) => line(c[0], c[1], c[2]))].join('\n')
}
