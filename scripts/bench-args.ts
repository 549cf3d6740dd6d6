// Flags of `npm run bench` and the issue's named scenarios.
import type { LinkSpec } from './bench-ipc.ts'
import { numberFlag, scriptFlags, UsageError } from './script-args.ts'
// Copies of the bitrate a viewer on a "nothing" uplink may send: the simulator's, defined once.
import { NOTHING_COPIES } from './simulate-scenarios.ts'

export interface Scenario {
  name: string
  viewers: number
  seconds: number
  bitrateBps: number
  link: LinkSpec | null
  /** Share of the viewers replaced per minute (0.2 = 20 %/min). */
  churnPerMin: number
  nodesPerProcess: number
  baselineSeconds: number
  seed: number
  /** Uneven uplinks: these shares of the viewers (drawn per joiner, seeded) run with `--max-upload`
   * at these copies of the stream's bitrate; the rest without a cap. */
  uplinks?: Array<{ share: number; copies: number }>
}

export interface BenchOptions { scenarios: Scenario[]; json?: string; chart?: string; baseline: boolean }

export class BenchArgError extends UsageError {
  override readonly code = 'ERR_BENCH_ARGS'
}

/** `delay=25ms,loss=1%,jitter=5ms,rate=8mbit` */
export function parseLink(spec: string): LinkSpec {
  const link: LinkSpec = { delayMs: 0, loss: 0 }
  for (const part of spec.split(',').filter(Boolean)) {
    const [k, v] = part.split('=')
    const num = parseFloat(v ?? '')
    if (!Number.isFinite(num) || num < 0) throw new BenchArgError(`bad --link part "${part}"`)
    if (k === 'delay') link.delayMs = num
    else if (k === 'jitter') link.jitterMs = num
    else if (k === 'loss') link.loss = v.endsWith('%') ? num / 100 : num
    else if (k === 'rate') link.bytesPerSecond = (num * (/k/i.test(v) ? 1e3 : /m/i.test(v) ? 1e6 : 1)) / 8
    else throw new BenchArgError(`unknown --link part "${k}" (want delay, jitter, loss, rate)`)
  }
  if (link.loss >= 1) throw new BenchArgError('--link loss must be below 100 %')
  return link
}

/** `20%/min` or `0.2` */
export function parseChurn(spec: string): number {
  const m = /^([\d.]+)(%)?(\/min)?$/.exec(spec.trim())
  if (!m) throw new BenchArgError(`bad --churn "${spec}" (want e.g. 20%/min)`)
  const v = parseFloat(m[1]) / (m[2] ? 100 : 1)
  if (!(v >= 0 && v <= 5)) throw new BenchArgError('--churn must be between 0 and 500 %/min')
  return v
}

export function parseBitrate(spec: string): number {
  const m = /^([\d.]+)\s*([kKmM]?)(b\/s|bps|bit)?$/.exec(spec.trim())
  if (!m) throw new BenchArgError(`bad --bitrate "${spec}" (want e.g. 2M or 2000000)`)
  return parseFloat(m[1]) * (m[2].toLowerCase() === 'k' ? 1e3 : m[2].toLowerCase() === 'm' ? 1e6 : 1)
}

const base = (over: Partial<Scenario>): Scenario => ({
  name: 'quick', viewers: 10, seconds: 20, bitrateBps: 2e6, link: null, churnPerMin: 0, nodesPerProcess: 5, baselineSeconds: 20, seed: 1, ...over,
})


/** The benchmark's named scenarios: the first issue's three, issue 12's 3 % loss, 50 %/min churn
 * and uneven uplinks (each capped viewer runs with `--max-upload`'s pacer and child count), and
 * every viewer capped. */
export const NAMED: Record<string, Scenario> = {
  loopback: base({ name: 'loopback: 50 viewers, 2 Mb/s, 120 s', viewers: 50, seconds: 120, nodesPerProcess: 10, baselineSeconds: 30 }),
  lossy: base({ name: 'lossy: 50 viewers, 25 ms one-way, 1 % loss, 120 s', viewers: 50, seconds: 120, nodesPerProcess: 10, baselineSeconds: 30, link: { delayMs: 25, loss: 0.01 } }),
  churn: base({ name: 'churn: 50 viewers, 20 %/min churn, 120 s', viewers: 50, seconds: 120, nodesPerProcess: 10, baselineSeconds: 30, churnPerMin: 0.2 }),
  lossy3: base({ name: 'lossy3: 50 viewers, 25 ms one-way, 3 % loss, 120 s', viewers: 50, seconds: 120, nodesPerProcess: 10, baselineSeconds: 30, link: { delayMs: 25, loss: 0.03 } }),
  churn50: base({ name: 'churn50: 50 viewers, 50 %/min churn, 120 s', viewers: 50, seconds: 120, nodesPerProcess: 10, baselineSeconds: 30, churnPerMin: 0.5 }),
  uneven: base({
    name: `uneven: 50 viewers, 30 % --max-upload at half the bitrate, 10 % at ${NOTHING_COPIES}, 120 s`, viewers: 50, seconds: 120, nodesPerProcess: 10, baselineSeconds: 30,
    uplinks: [{ share: 0.3, copies: 0.5 }, { share: 0.1, copies: NOTHING_COPIES }],
  }),
  // Home uplinks: every viewer --max-upload at three copies (simulate-scenarios.ts `capped`).
  capped: base({
    name: 'capped: 50 viewers, every one --max-upload at 3 copies of the bitrate, 120 s', viewers: 50, seconds: 120, nodesPerProcess: 10, baselineSeconds: 30,
    uplinks: [{ share: 1, copies: 3 }],
  }),
}

export const BENCH_USAGE = `npm run bench -- [--scenario loopback|lossy|churn|lossy3|churn50|uneven|capped]... [--all]
  [--viewers N] [--seconds S] [--bitrate 2M] [--link delay=25ms,loss=1%,jitter=5ms,rate=8mbit]
  [--churn 20%/min] [--nodes-per-process K] [--seed N] [--baseline-seconds S] [--no-baseline]
  [--json file] [--chart file.svg]
Runs a real swarm on this machine (one source process, viewer processes of K nodes each, real UDP on
127.0.0.1), then the baseline (the same viewers pulling HLS over HTTP from one server), and prints
both side by side.`

export function parseBenchArgs(argv: string[]): BenchOptions {
  const values = scriptFlags('bench', BENCH_USAGE, {
    viewers: { type: 'string' }, seconds: { type: 'string' }, bitrate: { type: 'string' }, link: { type: 'string' },
    churn: { type: 'string' }, 'nodes-per-process': { type: 'string' }, json: { type: 'string' }, chart: { type: 'string' },
    scenario: { type: 'string', multiple: true }, all: { type: 'boolean' }, 'baseline-seconds': { type: 'string' },
    'no-baseline': { type: 'boolean' }, seed: { type: 'string' },
  }, argv)
  const int = (v: string | undefined, name: string, min: number, max: number) => v === undefined ? undefined : numberFlag(name, v, 0, min, max, true)
  const names = values.all ? Object.keys(NAMED) : values.scenario ?? []
  for (const n of names) if (!NAMED[n]) throw new BenchArgError(`unknown scenario "${n}" (known: ${Object.keys(NAMED).join(', ')})`)
  const over: Partial<Scenario> = {}
  const viewers = int(values.viewers, 'viewers', 1, 500)
  if (viewers !== undefined) over.viewers = viewers
  const seconds = int(values.seconds, 'seconds', 5, 3600)
  if (seconds !== undefined) { over.seconds = seconds; over.baselineSeconds = Math.min(seconds, 30) }
  if (values.bitrate) over.bitrateBps = parseBitrate(values.bitrate)
  if (values.link) over.link = parseLink(values.link)
  if (values.churn) over.churnPerMin = parseChurn(values.churn)
  const k = int(values['nodes-per-process'], 'nodes-per-process', 1, 100)
  if (k !== undefined) over.nodesPerProcess = k
  const bs = int(values['baseline-seconds'], 'baseline-seconds', 5, 3600)
  if (bs !== undefined) over.baselineSeconds = bs
  const seed = int(values.seed, 'seed', 0, 2 ** 31)
  if (seed !== undefined) over.seed = seed
  const scenarios = names.length
    ? names.map((n) => ({ ...NAMED[n], ...over }))
    : [base({ ...over, name: `${over.viewers ?? 10} viewers, ${((over.bitrateBps ?? 2e6) / 1e6).toFixed(1)} Mb/s${over.link ? `, ${over.link.delayMs} ms, ${(over.link.loss * 100).toFixed(1)} % loss` : ''}${over.churnPerMin ? `, ${(over.churnPerMin * 100).toFixed(0)} %/min churn` : ''}` })]
  return { scenarios, json: values.json, chart: values.chart, baseline: !values['no-baseline'] }
}
