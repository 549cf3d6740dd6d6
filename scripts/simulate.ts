// `npm run simulate -- [options]`: the flags and their meaning are USAGE in simulate-args.ts (`--help`).
// --all runs issue 12's scenarios (simulate-scenarios.ts) at --viewers, prints their table, then the
// loss sweep (0 to 5 %) and writes its chart (--chart, default simulate-loss.svg), with the sweep of
// an earlier --all --json run beside it if --compare names one.
// --wall-limit ends a run early at that many wall seconds and reports the virtual seconds reached.
// Runs the shipped swarm (N real CjNode + StreamSwarm) over the in-process network on virtual time
// (src/sim/simulation.ts) and measures it with the benchmark's own figures (bench-report.ts), so a
// simulated scenario and the same scenario on real processes (`npm run bench`) read alike.
import { readFile, writeFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { simulate, type SimOptions } from '../src/sim/simulation.ts'
import type { LinkModel } from '../src/mesh/link.ts'
import { BenchArgError, parseBitrate, parseChurn, parseLink } from './bench-args.ts'
import { SIMULATE_OPTIONS, USAGE } from './simulate-args.ts'
import { exitUsage, scriptFlags, UsageError } from './script-args.ts'
import { causeLine, measure, scenarioTable, sweepTable, table, type SimResult } from './simulate-report.ts'
import { LOSS_SWEEP, SCENARIOS, type SimScenario } from './simulate-scenarios.ts'
import { lossChart, type SweepSeries } from './simulate-chart.ts'
import { PeakRss } from './bench-node-metrics.ts'
import { DEPARTURE_USAGE, audienceRun, parseDeparture } from '../src/sim/audience-run.ts'

/** `30%=0.5,10%=0.05`: a share of the viewers and its upload capacity in copies (0 is unlimited). */
function parseUplinks(spec: string | undefined): Array<{ share: number; copies: number }> {
  if (!spec) return []
  const out = spec.split(',').map((part) => {
    const m = /^(\d+(?:\.\d+)?)%=(\d+(?:\.\d+)?)$/.exec(part.trim())
    if (!m) throw new BenchArgError(`bad --uplinks part "${part}" (want e.g. 30%=0.5)`)
    return { share: Number(m[1]) / 100, copies: Number(m[2]) }
  })
  if (out.reduce((a, u) => a + u.share, 0) > 1) throw new BenchArgError('--uplinks shares add up to more than 100 %')
  return out
}

async function main(): Promise<void> {
  const values = scriptFlags('simulate', USAGE, SIMULATE_OPTIONS)
  const num = (k: keyof typeof values, min: number, max: number, v = values[k]): number => {
    const x = String(v).endsWith('%') ? parseFloat(String(v)) / 100 : Number(v)
    if (!Number.isFinite(x) || x < min || x > max) throw new BenchArgError(`--${k} must be a number from ${min} to ${max}`)
    return x
  }
  // The bench's lossy scenario by default: 25 ms one-way, 1 % loss.
  const link: LinkModel = values.link ? parseLink(values.link) : { delayMs: 25, loss: 0.01 }
  if (values.delay !== undefined) link.delayMs = num('delay', 0, 10_000)
  if (values.jitter !== undefined) link.jitterMs = num('jitter', 0, 10_000)
  if (values.loss !== undefined) link.loss = num('loss', 0, 0.5)
  const viewersOpt = values.viewers ?? '1000'
  const sizes = values.sizes ? values.sizes.split(',').map((s) => num('sizes', 1, 1e6, s)) : [num('viewers', 1, 1e6, viewersOpt)]
  const baseOptions = (viewers: number): SimOptions => ({
    viewers, seconds: num('seconds', 5, 3600), bitrateBps: parseBitrate(values.bitrate ?? '2M'), link,
    uploadCapacity: num('upload-capacity', 0, 100), uplinks: parseUplinks(values.uplinks), undeclared: values.undeclared === true, sourceCapacity: num('source-capacity', 0, 100),
    joinSpreadMs: values['join-spread'] ? num('join-spread', 0, 600_000) : Math.min(10_000, viewers * 100),
    churnPerMin: values.churn ? parseChurn(values.churn) : 0, bootstrapViewers: Math.round(num('bootstrap-viewers', 0, 16)), handover: !values['json-codec'] && !values.encrypt, encrypt: values.encrypt === true, seed: Math.round(num('seed', 0, 2 ** 31)),
  })
  const limitMs = values['wall-limit'] ? num('wall-limit', 1, 86_400) * 1000 : Infinity
  if (values.audience) {
    const departure = parseDeparture(values.departure)
    if (departure === undefined) throw new BenchArgError(DEPARTURE_USAGE)
    // The audience telemetry against the truth: the source's count after the join wave and after
    // 20 % left at once, the merged delay p95, and the telemetry's cost (src/sim/audience-run.ts).
    for (const viewers of sizes.map(Math.round)) {
      process.stderr.write(`audience: ${viewers} viewers...\n`)
      const wall = performance.now()
      const r = await audienceRun({
        viewers, seed: Math.round(num('seed', 0, 2 ** 31)), bitrateBps: parseBitrate(values.bitrate ?? '2M'), link,
        joinSpreadMs: values['join-spread'] ? num('join-spread', 0, 600_000) : 10_000, settleMs: num('settle', 1, 600) * 1000, steadyMs: num('steady', 0, 3600) * 1000, leaveShare: 0.2, departure,
        progress: (line) => process.stderr.write(`  (wall ${((performance.now() - wall) / 1000).toFixed(0)} s) ${line}\n`),
      }, values['wall-limit'] ? () => performance.now() - wall > limitMs : undefined)
      const pct = (v: number) => `${(v * 100).toFixed(2)} %`
      if ('stoppedAtMs' in r) {
        const j = r.joined
        process.stdout.write([
          `viewers ${viewers}  (wall ${((performance.now() - wall) / 1000).toFixed(0)} s)  stopped by --wall-limit at virtual s ${(r.stoppedAtMs / 1000).toFixed(1)}`,
          j ? `  count ${values.settle} s after the last join: ${j.counted} of ${j.present} (error ${pct(j.error)}, ${j.attached} attached)` : `  before the count ${values.settle} s after the last join`,
        ].join('\n') + '\n')
        continue
      }
      process.stdout.write([
        `viewers ${viewers}  (wall ${((performance.now() - wall) / 1000).toFixed(0)} s)`,
        `  count ${values.settle} s after the last join: ${r.joined.counted} of ${r.joined.present} (error ${pct(r.joined.error)}, ${r.joined.attached} attached)`,
        `  count ${values.settle} s after 20 % left (${departure}): ${r.afterLeave.counted} of ${r.afterLeave.present} (error ${pct(r.afterLeave.error)}, ${r.afterLeave.attached} attached)`,
        `  delay p95 merged ${r.p95.mergedMs} ms, exact ${r.p95.trueMs} ms (error ${pct(r.p95.error)})`,
        `  telemetry / stream bytes: worst node ${pct(r.cost.worstNode)}, overall ${pct(r.cost.overall)} (steady); since each joined ${pct(r.wholeRun.worstNode)}, ${pct(r.wholeRun.overall)}`,
        `  depths ${JSON.stringify(r.view.byDepth)}  suspect ${r.view.suspect}`,
      ].join('\n') + '\n')
    }
    return
  }
  const results: Array<SimResult & { scenario?: string; loss?: number }> = []
  const names = values.all ? Object.keys(SCENARIOS) : values.scenario ?? []
  for (const n of names) if (!SCENARIOS[n]) throw new BenchArgError(`unknown --scenario "${n}" (known: ${Object.keys(SCENARIOS).join(', ')})`)
  if (names.length === 0) {
    for (const viewers of sizes.map(Math.round)) results.push(await runOne(baseOptions(viewers), 0, limitMs))
    process.stdout.write(table(results) + '\n' + results.map(causeLine).join('\n') + '\n')
  } else {
    // The named scenarios: the table, then (with --all) the loss sweep and its chart.
    const viewers = Math.round(sizes[0])
    const base = baseOptions(viewers)
    const rows: Array<{ scenario: SimScenario; result: SimResult }> = []
    for (const n of names) {
      const sc = SCENARIOS[n]
      const r = await runOne({ ...base, ...sc.over }, sc.graceMs, limitMs)
      rows.push({ scenario: sc, result: r })
      results.push({ ...r, scenario: n })
      process.stdout.write(`${sc.name}\n${table([r])}\n${causeLine(r)}\n\n`)
    }
    process.stdout.write(`issue 12's scenarios, seed ${base.seed}, ${(base.bitrateBps / 1e6).toFixed(1)} Mb/s, joins over ${(base.joinSpreadMs / 1000).toFixed(0)} s knowing the source\n\n${scenarioTable(rows)}\n\n`)
    if (values.all) {
      const points: Array<{ loss: number; result: SimResult }> = []
      for (const loss of LOSS_SWEEP) {
        const reuse = rows.find((r) => r.scenario.graceMs === 0 && r.result.options.joinSpreadMs === base.joinSpreadMs && r.result.options.churnPerMin === 0 && r.result.options.uplinks.length === 0 && r.result.options.link.loss === loss && r.result.options.link.delayMs === 25)
        const result = reuse?.result ?? await runOne({ ...base, link: { delayMs: 25, loss } }, 0, limitMs)
        if (!reuse) results.push({ ...result, loss })
        points.push({ loss, result })
      }
      process.stdout.write(`loss sweep, 25 ms one-way, ${viewers} viewers\n\n${sweepTable(points)}\n`)
      const series: SweepSeries[] = []
      if (values.compare) series.push(await readSeries(values.compare))
      series.push({ label: values.label ?? 'this run', points: points.map(({ loss, result: { figures: f } }) => ({ loss, sourceCopies: f.sourceCopies, worst: f.completeness.worst })) })
      const chartFile = values.chart ?? 'simulate-loss.svg'
      await writeFile(chartFile, lossChart(`simulation, ${viewers} viewers, 25 ms one-way, seed ${base.seed}`, series))
      process.stderr.write(`wrote ${chartFile}\n`)
    }
  }
  if (values.json) await writeFile(values.json, JSON.stringify(results.map(({ figures: f, ...r }) => ({ ...r, figures: { ...f, delayCdfMs: undefined, uploadsCopies: undefined } })), null, 2) + '\n')
}

/** One simulated run with its cost, reporting progress every 10 s of wall time. */
async function runOne(options: SimOptions, graceMs: number, limitMs: number): Promise<SimResult> {
  process.stderr.write(`simulating ${options.viewers} viewers for ${options.seconds} virtual s...\n`)
  const rss = new PeakRss()
  const cpu0 = process.cpuUsage()
  const wall = performance.now()
  let lastLog = wall
  let liveHeapMb: { heap: number; buffers: number } | null = null
  const run = await simulate(options, (t) => {
    if (performance.now() - lastLog > 10_000) { lastLog = performance.now(); process.stderr.write(`  ${Math.round(t / 1000)} virtual s after ${Math.round((lastLog - wall) / 1000)} s\n`) }
    return performance.now() - wall > limitMs
  }, () => { liveHeapMb = heapAfterGcMb() })
  const wallSeconds = (performance.now() - wall) / 1000
  const cpu = process.cpuUsage(cpu0)
  const peakRssMb = rss.stop() / 2 ** 20
  return { options, seconds: run.seconds, ...measure(run, graceMs), wallSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssMb, liveHeapMb, events: run.events, orphanTimers: run.orphanTimers }
}

/** What the live swarm holds, MB, after a full collection: the JS heap, and apart from it the
 * ArrayBuffers (chunk bytes, typed arrays), which V8 keeps outside its heap. Peak RSS moves with
 * when V8 happens to collect and by whole pages, so two versions' memory per viewer compare
 * exactly only on these. Needs `node --expose-gc` (passed on to the bundled run); null without it. */
function heapAfterGcMb(): { heap: number; buffers: number } | null {
  const gc = (globalThis as { gc?: () => void }).gc
  if (typeof gc !== 'function') return null
  gc()
  const m = process.memoryUsage()
  return { heap: m.heapUsed / 2 ** 20, buffers: m.arrayBuffers / 2 ** 20 }
}

/** A loss sweep from an earlier `--all --json` run, to draw beside this one (before / after). */
async function readSeries(file: string): Promise<SweepSeries> {
  const runs = JSON.parse(await readFile(file, 'utf8')) as Array<{ options: SimOptions; figures: { sourceCopies: number; completeness: { worst: number } }; loss?: number; scenario?: string }>
  const points = runs.filter((r) => r.loss !== undefined || r.scenario === 'loss1' || r.scenario === 'loss3')
    .map((r) => ({ loss: r.options.link.loss, sourceCopies: r.figures.sourceCopies, worst: r.figures.completeness.worst }))
  if (points.length === 0) throw new BenchArgError(`--compare ${file} holds no loss sweep (write one with --all --json)`)
  return { label: basename(file, '.json'), points }
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) exitUsage('simulate', err)
  process.stderr.write(`simulate: ${(err as Error).stack}\n`)
  process.exit(1)
})
