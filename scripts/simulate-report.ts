// The simulator's report: each run measured with the benchmark's own figures (bench-report.ts:
// same completeness window, deadline and formulas), printed as one table row per run.
import { DEADLINE_MS, type SimOptions, type SimRun } from '../src/sim/simulation.ts'
import { figures, type Figures } from './bench-report.ts'
import type { SimScenario } from './simulate-scenarios.ts'

export interface SimResult {
  options: SimOptions; seconds: number; figures: Figures; uploadP99: number; sourceByCause: Record<string, number>
  wallSeconds: number; cpuSeconds: number; peakRssMb: number
  /** The JS heap and the ArrayBuffers the live swarm holds after a full collection, MB (with --expose-gc). */
  liveHeapMb: { heap: number; buffers: number } | null
  events: number; orphanTimers: number
}

/** One run, measured as the bench measures: same completeness window, deadline and formulas;
 * `graceMs` leaves each viewer's first ms out of completeness (the flash crowd's). */
export function measure(run: SimRun, graceMs = 0): { figures: Figures; uploadP99: number; sourceByCause: Record<string, number> } {
  const o = run.options
  const stableMs = o.churnPerMin > 0 ? Math.min(60_000, run.seconds * 1000 * 0.5) : (run.seconds * 1000) / 2
  const f = figures(
    { mode: 'p2p', endAt: run.endAt, deadlineMs: DEADLINE_MS, stableMs, graceMs },
    { kind: 'source', ...run.source, cpuSeconds: 0, peakRssBytes: 0 },
    [{ kind: 'viewers', viewers: run.viewers, nodes: run.viewers.length, cpuSeconds: 0, peakRssBytes: 0 }],
  )
  const ups = f.uploadsCopies
  // The source's copies split by why they went out (push, catch-up, pulls by rule): where the
  // copies beyond the first come from.
  const sourceByCause = Object.fromEntries(Object.entries(run.source.uploadedBy).map(([k, b]) => [k, (b ?? 0) / Math.max(1, f.streamBytes)]))
  return { figures: f, uploadP99: ups.length ? ups[Math.min(ups.length - 1, Math.floor(0.99 * ups.length))] : 0, sourceByCause }
}

/** `source copies by cause: push 1.000  catchup 0.210 ...`, largest first. */
export function causeLine(r: SimResult): string {
  const parts = Object.entries(r.sourceByCause).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(3)}`)
  return `source copies by cause: ${parts.join('  ')}`
}

export function table(results: SimResult[], timing = true): string {
  const o = results[0].options
  const l = o.link
  const pct = (x: number, d = 2) => `${(x * 100).toFixed(d)} %`
  const ms = (x: number) => `${Math.round(x)} ms`
  const cap = (c: number) => (c > 0 ? `${c} copies` : 'unlimited')
  return [
    `simulation (shipped swarm, virtual time): ${(o.bitrateBps / 1e6).toFixed(1)} Mb/s, ${l.delayMs} ms one-way (+${l.jitterMs ?? 0} ms jitter), ${pct(l.loss, 1)} loss, ` +
      `${o.churnPerMin ? `${(o.churnPerMin * 100).toFixed(0)} %/min churn, ` : ''}joins over ${(o.joinSpreadMs / 1000).toFixed(1)} s knowing the source${o.bootstrapViewers ? ` and ${o.bootstrapViewers} viewers` : ''}, upload capacity ${cap(o.uploadCapacity)}${o.uplinks.map((u) => `, ${Math.round(u.share * 100)} % at ${cap(u.copies)}`).join('')} (source ${cap(o.sourceCapacity)}), seed ${o.seed}`,
    '',
    `| viewers | virtual s | source copies | upload/viewer median / p99 | delay p50 / p95 / p99 | completeness worst / mean | duplicates | control | startup median / max |${timing ? ' wall time (CPU) | peak memory |' : ''}`,
    `|---|---|---|---|---|---|---|---|---|${timing ? '---|---|' : ''}`,
    ...results.map(({ figures: f, uploadP99, wallSeconds, cpuSeconds, peakRssMb, liveHeapMb, seconds }) =>
      `| ${f.viewers} | ${Math.round(seconds)} | ${f.sourceCopies.toFixed(3)} | ${f.uploadPerViewerCopies.median.toFixed(2)} / ${uploadP99.toFixed(2)} | ` +
      `${ms(f.delayMs.p50)} / ${ms(f.delayMs.p95)} / ${ms(f.delayMs.p99)} | ${pct(f.completeness.worst)} / ${pct(f.completeness.mean)} | ` +
      `${pct(f.duplicateShare)} | ${pct(f.controlShare)} | ${ms(f.startupMs.median)} / ${ms(f.startupMs.max)}${f.startupMs.neverPlayed ? ` (${f.startupMs.neverPlayed} never)` : ''} |` +
      (timing ? ` ${wallSeconds.toFixed(1)} s (${cpuSeconds.toFixed(1)} s) | ${Math.round(peakRssMb)} MB${liveHeapMb === null ? '' : ` (after gc: heap ${liveHeapMb.heap.toFixed(1)} MB, buffers ${liveHeapMb.buffers.toFixed(1)} MB)`} |` : '')),
  ].join('\n')
}

/** Issue 12's table: one row per named scenario, the figures its goals are stated in, and the goal. */
export function scenarioTable(rows: Array<{ scenario: SimScenario; result: SimResult }>): string {
  const pct = (x: number, d = 2) => `${(x * 100).toFixed(d)} %`
  const met = (ok: boolean) => (ok ? 'yes' : 'no')
  return [
    '| scenario | viewers | virtual s | source copies | completeness worst / mean | chunk delay p99 | duplicates | goal (copies, worst, p99, dup) | met? | wall (CPU) |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(({ scenario: sc, result: r }) => {
      const f = r.figures
      const g = sc.goal
      const ok = f.sourceCopies <= g.sourceCopies && f.completeness.worst >= g.worst && (g.mean === undefined || f.completeness.mean >= g.mean) &&
        (g.p99Ms === undefined || f.delayMs.p99 <= g.p99Ms) && (g.duplicates === undefined || f.duplicateShare <= g.duplicates)
      const goal = `<= ${g.sourceCopies}, >= ${pct(g.worst, 1)}${g.mean ? ` / ${pct(g.mean)}` : ''}${g.p99Ms ? `, <= ${g.p99Ms / 1000} s` : ''}${g.duplicates ? `, <= ${pct(g.duplicates, 0)}` : ''}`
      return `| ${sc.name} | ${f.viewers} | ${Math.round(r.seconds)} | ${f.sourceCopies.toFixed(3)} | ${pct(f.completeness.worst)} / ${pct(f.completeness.mean)} | ` +
        `${Math.round(f.delayMs.p99)} ms | ${pct(f.duplicateShare)} | ${goal} | ${met(ok)} | ${r.wallSeconds.toFixed(0)} s (${r.cpuSeconds.toFixed(0)} s) |`
    }),
  ].join('\n')
}

/** The loss sweep: source copies and worst completeness at each loss rate. */
export function sweepTable(points: Array<{ loss: number; result: SimResult }>): string {
  return [
    '| loss | viewers | source copies | completeness worst / mean | chunk delay p99 | duplicates |',
    '|---|---|---|---|---|---|',
    ...points.map(({ loss, result: { figures: f } }) =>
      `| ${(loss * 100).toFixed(1)} % | ${f.viewers} | ${f.sourceCopies.toFixed(3)} | ${(f.completeness.worst * 100).toFixed(2)} % / ${(f.completeness.mean * 100).toFixed(2)} % | ${Math.round(f.delayMs.p99)} ms | ${(f.duplicateShare * 100).toFixed(2)} % |`),
  ].join('\n')
}
