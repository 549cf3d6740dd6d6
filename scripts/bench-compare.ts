// `npm run bench:compare -- [--viewers 50] [--seconds 60] [--link delay=25ms,loss=1%] [--seed 1] [--sim-only]`
// The same scenario twice: in the simulator (the shipped swarm on virtual time, src/sim/) and in
// the bench (real processes, real UDP on 127.0.0.1, scripts/bench-run.ts), measured by the same
// formulas (bench-report.ts), side by side with the differences and issue 11's agreement goals
// (source copies within 0.05, completeness within 0.5 points). Viewers join one every 100 ms in
// both, knowing only the source; the link model is the same code (src/mesh/link.ts) in both.
import { availableParallelism, loadavg } from 'node:os'
import { simulate } from '../src/sim/simulation.ts'
import { BenchArgError, parseBitrate, parseLink } from './bench-args.ts'
import { exitUsage, scriptFlags, UsageError } from './script-args.ts'
import { STAGGER_MS, runMode } from './bench-run.ts'
import type { Figures } from './bench-report.ts'
import { measure } from './simulate-report.ts'

/** Issue 11's goals for the simulator's agreement with the bench. */
const COPIES_WITHIN = 0.05
const COMPLETENESS_WITHIN = 0.005

const USAGE = `npm run bench:compare -- [--viewers 50] [--seconds 60] [--link delay=25ms,loss=1%] [--bitrate 2M]
  [--seed 1] [--nodes-per-process 10] [--sim-only]
The same scenario in the simulator and on real processes, side by side, with issue 11's agreement goals.`

async function main(): Promise<void> {
  const values = scriptFlags('bench:compare', USAGE, {
    viewers: { type: 'string', default: '50' }, seconds: { type: 'string', default: '60' }, link: { type: 'string', default: 'delay=25ms,loss=1%' },
    bitrate: { type: 'string', default: '2M' }, seed: { type: 'string', default: '1' }, 'nodes-per-process': { type: 'string', default: '10' }, 'sim-only': { type: 'boolean' },
  })
  const int = (k: 'viewers' | 'seconds' | 'seed' | 'nodes-per-process', min: number, max: number): number => {
    const n = Number(values[k])
    if (!Number.isInteger(n) || n < min || n > max) throw new BenchArgError(`--${k} must be an integer from ${min} to ${max}`)
    return n
  }
  const viewers = int('viewers', 1, 500)
  const seconds = int('seconds', 10, 3600)
  const seed = int('seed', 0, 2 ** 31)
  const link = parseLink(values.link ?? '')
  const bitrateBps = parseBitrate(values.bitrate ?? '2M')
  const log = (s: string) => process.stderr.write(s + '\n')

  log(`simulating ${viewers} viewers for ${seconds} virtual s...`)
  const run = await simulate({
    viewers, seconds, bitrateBps, link, uploadCapacity: 0, uplinks: [], sourceCapacity: 0, joinSpreadMs: viewers * STAGGER_MS,
    churnPerMin: 0, bootstrapViewers: 0, handover: true, seed,
  })
  const sim = measure(run).figures
  let bench: Figures | null = null
  if (!values['sim-only']) {
    log(`bench: ${viewers} real viewers for ${seconds} s...`)
    bench = await runMode({ name: 'compare', viewers, seconds, bitrateBps, link, churnPerMin: 0, nodesPerProcess: int('nodes-per-process', 1, 100), baselineSeconds: 0, seed }, 'p2p', seconds, log)
  }
  process.stdout.write(compareTable(`${viewers} viewers, ${seconds} s, ${(bitrateBps / 1e6).toFixed(1)} Mb/s, ${link.delayMs} ms one-way, ${(link.loss * 100).toFixed(1)} % loss, seed ${seed}`, sim, bench) + '\n')
}

export function compareTable(title: string, sim: Figures, bench: Figures | null): string {
  const pct = (x: number, d = 2) => `${(x * 100).toFixed(d)} %`
  const ms = (x: number) => `${Math.round(x)} ms`
  const rows: Array<[string, (f: Figures) => string, ((a: Figures, b: Figures) => string)?]> = [
    ['source copies', (f) => f.sourceCopies.toFixed(3), (a, b) => verdict(Math.abs(a.sourceCopies - b.sourceCopies), COPIES_WITHIN, (d) => d.toFixed(3))],
    ['completeness worst', (f) => pct(f.completeness.worst), (a, b) => verdict(Math.abs(a.completeness.worst - b.completeness.worst), COMPLETENESS_WITHIN, (d) => `${(d * 100).toFixed(2)} pt`)],
    ['completeness mean', (f) => pct(f.completeness.mean), (a, b) => verdict(Math.abs(a.completeness.mean - b.completeness.mean), COMPLETENESS_WITHIN, (d) => `${(d * 100).toFixed(2)} pt`)],
    ['upload per viewer median / max', (f) => `${f.uploadPerViewerCopies.median.toFixed(2)} / ${f.uploadPerViewerCopies.max.toFixed(2)}`],
    ['chunk delay p50 / p95 / p99', (f) => `${ms(f.delayMs.p50)} / ${ms(f.delayMs.p95)} / ${ms(f.delayMs.p99)}`],
    ['duplicates / data', (f) => pct(f.duplicateShare)],
    ['control / data', (f) => pct(f.controlShare)],
    ['startup median / max', (f) => `${ms(f.startupMs.median)} / ${ms(f.startupMs.max)}${f.startupMs.neverPlayed ? ` (${f.startupMs.neverPlayed} never)` : ''}`],
    // The simulator gives every node the CPU it needs; a bench on a loaded machine does not, and
    // then it measures starvation, not the code's decisions (docs/SCHEDULER.md).
    ['CPU per viewer node, share of a core', (f) => (f === sim ? 'not modelled' : pct(f.cpuShareOfCorePerNode))],
  ]
  const out = [title, '', '| figure | simulation | bench (real processes) | difference (goal) |', '|---|---|---|---|']
  for (const [name, show, diff] of rows) out.push(`| ${name} | ${show(sim)} | ${bench ? show(bench) : 'not run'} | ${bench && diff ? diff(sim, bench) : ''} |`)
  out.push('', `load average during the run: ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${availableParallelism()} cores`)
  return out.join('\n')
}

function verdict(d: number, within: number, show: (d: number) => string): string {
  return `${show(d)} (${d <= within ? 'within' : 'OUTSIDE'} ${show(within)})`
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) exitUsage('bench:compare', err)
  process.stderr.write(`bench:compare failed: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
})
