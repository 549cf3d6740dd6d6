// `npm run simulate -- [--viewers N | --sizes 100,1000] [--seconds S] [--link delay=25ms,jitter=5ms,loss=1%]
//   [--delay ms] [--jitter ms] [--loss p|p%] [--churn 20%/min] [--upload-capacity copies] [--source-capacity copies]
//   [--bitrate 2M] [--join-spread ms] [--seed n] [--json file]`
// Runs the shipped swarm (N real CjNode + StreamSwarm) over the in-process network on virtual time
// (src/sim/simulation.ts) and measures it with the benchmark's own figures (bench-report.ts), so a
// simulated scenario and the same scenario on real processes (`npm run bench`) read alike.
import { writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { simulate, DEADLINE_MS, type SimOptions, type SimRun } from '../src/sim/simulation.ts'
import type { LinkModel } from '../src/mesh/link.ts'
import { BenchArgError, parseBitrate, parseChurn, parseLink } from './bench-args.ts'
import { figures, type Figures } from './bench-report.ts'
import { PeakRss } from './bench-node-metrics.ts'

export interface SimResult { options: SimOptions; figures: Figures; uploadP99: number; wallSeconds: number; peakRssMb: number; events: number }

/** One run, measured as the bench measures: same completeness window, deadline and formulas. */
export function measure(run: SimRun): { figures: Figures; uploadP99: number } {
  const o = run.options
  const stableMs = o.churnPerMin > 0 ? Math.min(60_000, o.seconds * 1000 * 0.5) : (o.seconds * 1000) / 2
  const f = figures(
    { mode: 'p2p', endAt: run.endAt, deadlineMs: DEADLINE_MS, stableMs },
    { kind: 'source', ...run.source, cpuSeconds: 0, peakRssBytes: 0 },
    [{ kind: 'viewers', viewers: run.viewers, nodes: run.viewers.length, cpuSeconds: 0, peakRssBytes: 0 }],
  )
  const ups = f.uploadsCopies
  return { figures: f, uploadP99: ups.length ? ups[Math.min(ups.length - 1, Math.floor(0.99 * ups.length))] : 0 }
}

export function table(results: SimResult[], timing = true): string {
  const o = results[0].options
  const l = o.link
  const pct = (x: number, d = 2) => `${(x * 100).toFixed(d)} %`
  const ms = (x: number) => `${Math.round(x)} ms`
  const cap = (c: number) => (c > 0 ? `${c} copies` : 'unlimited')
  return [
    `simulation (shipped swarm, virtual time): ${(o.bitrateBps / 1e6).toFixed(1)} Mb/s, ${l.delayMs} ms one-way (+${l.jitterMs ?? 0} ms jitter), ${pct(l.loss, 1)} loss, ` +
      `${o.churnPerMin ? `${(o.churnPerMin * 100).toFixed(0)} %/min churn, ` : ''}upload capacity ${cap(o.uploadCapacity)} (source ${cap(o.sourceCapacity)}), seed ${o.seed}`,
    '',
    `| viewers | virtual s | source copies | upload/viewer median / p99 | delay p50 / p95 / p99 | completeness worst / mean | duplicates | control | startup median / max |${timing ? ' wall time | peak memory |' : ''}`,
    `|---|---|---|---|---|---|---|---|---|${timing ? '---|---|' : ''}`,
    ...results.map(({ figures: f, uploadP99, wallSeconds, peakRssMb, options }) =>
      `| ${f.viewers} | ${options.seconds} | ${f.sourceCopies.toFixed(3)} | ${f.uploadPerViewerCopies.median.toFixed(2)} / ${uploadP99.toFixed(2)} | ` +
      `${ms(f.delayMs.p50)} / ${ms(f.delayMs.p95)} / ${ms(f.delayMs.p99)} | ${pct(f.completeness.worst)} / ${pct(f.completeness.mean)} | ` +
      `${pct(f.duplicateShare)} | ${pct(f.controlShare)} | ${ms(f.startupMs.median)} / ${ms(f.startupMs.max)}${f.startupMs.neverPlayed ? ` (${f.startupMs.neverPlayed} never)` : ''} |` +
      (timing ? ` ${wallSeconds.toFixed(1)} s | ${Math.round(peakRssMb)} MB |` : '')),
  ].join('\n')
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      viewers: { type: 'string' }, sizes: { type: 'string' }, seconds: { type: 'string', default: '60' }, link: { type: 'string' },
      delay: { type: 'string' }, jitter: { type: 'string' }, loss: { type: 'string' }, churn: { type: 'string' },
      'upload-capacity': { type: 'string', default: '0' }, 'source-capacity': { type: 'string', default: '0' },
      bitrate: { type: 'string', default: '2M' }, 'join-spread': { type: 'string' }, seed: { type: 'string', default: '1' }, json: { type: 'string' },
    },
  })
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
  const sizes = values.sizes ? values.sizes.split(',').map((s) => num('sizes', 1, 1e6, s)) : [num('viewers', 1, 1e6, values.viewers ?? '1000')]
  const results: SimResult[] = []
  for (const viewers of sizes.map(Math.round)) {
    const options: SimOptions = {
      viewers, seconds: num('seconds', 5, 3600), bitrateBps: parseBitrate(values.bitrate ?? '2M'), link,
      uploadCapacity: num('upload-capacity', 0, 100), sourceCapacity: num('source-capacity', 0, 100),
      joinSpreadMs: values['join-spread'] ? num('join-spread', 0, 600_000) : Math.min(10_000, viewers * 100),
      churnPerMin: values.churn ? parseChurn(values.churn) : 0, seed: Math.round(num('seed', 0, 2 ** 31)),
    }
    process.stderr.write(`simulating ${viewers} viewers for ${options.seconds} virtual s...\n`)
    const rss = new PeakRss()
    const wall = performance.now()
    let lastLog = wall
    const run = await simulate(options, (t) => {
      if (performance.now() - lastLog > 10_000) { lastLog = performance.now(); process.stderr.write(`  ${Math.round(t / 1000)} virtual s after ${Math.round((lastLog - wall) / 1000)} s\n`) }
    })
    const wallSeconds = (performance.now() - wall) / 1000
    const peakRssMb = rss.stop() / 2 ** 20
    results.push({ options, ...measure(run), wallSeconds, peakRssMb, events: run.events })
  }
  process.stdout.write(table(results) + '\n')
  if (values.json) await writeFile(values.json, JSON.stringify(results.map(({ figures: f, ...r }) => ({ ...r, figures: { ...f, delayCdfMs: undefined, uploadsCopies: undefined } })), null, 2) + '\n')
}

main().catch((err: unknown) => {
  process.stderr.write(`simulate: ${err instanceof BenchArgError ? err.message : (err as Error).stack}\n`)
  process.exit(err instanceof BenchArgError ? 2 : 1)
})
