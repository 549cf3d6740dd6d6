// `npm run simulate -- --viewers 10000 [--seconds S] [--delay ms] [--jitter ms] [--loss p]
//   [--upload-capacity copies] [--source-capacity copies] [--bitrate bps] [--join-spread ms] [--json file]`
// Runs the swarm's own scheduling decisions (src/mesh/stream-policy.ts) on a virtual clock over a
// simulated network, at 100, 1,000 and the requested number of viewers (or only that number with
// --only), and prints source copies, delay percentiles and completeness for each.
import { writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { simulate, type SimFigures, type SimOptions } from '../src/sim/simulation.ts'

function main(): void {
  const { values } = parseArgs({
    options: {
      viewers: { type: 'string', default: '10000' }, seconds: { type: 'string', default: '60' }, delay: { type: 'string', default: '25' },
      jitter: { type: 'string', default: '5' }, loss: { type: 'string', default: '0.01' }, 'upload-capacity': { type: 'string', default: '3' },
      'source-capacity': { type: 'string', default: '3' }, bitrate: { type: 'string', default: '2000000' }, 'join-spread': { type: 'string' },
      seed: { type: 'string', default: '1' }, only: { type: 'boolean' }, json: { type: 'string' },
    },
  })
  const num = (k: keyof typeof values, min: number, max: number): number => {
    const v = Number(values[k])
    if (!Number.isFinite(v) || v < min || v > max) { process.stderr.write(`simulate: --${k} must be a number from ${min} to ${max}\n`); process.exit(2) }
    return v
  }
  const top = Math.round(num('viewers', 1, 100_000))
  const sizes = values.only ? [top] : [...new Set([100, 1000, top].filter((n) => n <= top))]
  const loss = String(values.loss).endsWith('%') ? parseFloat(String(values.loss)) / 100 : num('loss', 0, 0.5)
  const results: Array<{ options: SimOptions; figures: SimFigures }> = []
  for (const viewers of sizes) {
    const options: SimOptions = {
      viewers, seconds: num('seconds', 10, 3600), bitrateBps: num('bitrate', 1e4, 1e8), delayMs: num('delay', 0, 1000), jitterMs: num('jitter', 0, 1000),
      loss, uploadCapacity: num('upload-capacity', 0.1, 100), sourceCapacity: num('source-capacity', 0.1, 100),
      joinSpreadMs: values['join-spread'] ? num('join-spread', 0, 600_000) : Math.min(10_000, viewers * 100), seed: num('seed', 0, 2 ** 31),
    }
    process.stderr.write(`simulating ${viewers} viewers, ${options.seconds} s...\n`)
    results.push({ options, figures: simulate(options) })
  }
  const o = results[0].options
  const lines = [
    `simulation: ${o.seconds} s at ${(o.bitrateBps / 1e6).toFixed(1)} Mb/s, ${o.delayMs} ms one-way (+${o.jitterMs} ms jitter), ${(o.loss * 100).toFixed(1)} % loss, upload capacity ${o.uploadCapacity} copies (source ${o.sourceCapacity})`,
    '',
    '| viewers | source copies | upload/viewer median / p99 | delay p50 | p95 | p99 | max | completeness worst / mean | duplicates | startup median / max | run time |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...results.map(({ figures: f }) => `| ${f.viewers} | ${f.sourceCopies.toFixed(3)} | ${f.uploadPerViewerCopies.median.toFixed(2)} / ${f.uploadPerViewerCopies.p99.toFixed(2)} | ${Math.round(f.delayMs.p50)} ms | ${Math.round(f.delayMs.p95)} ms | ${Math.round(f.delayMs.p99)} ms | ${Math.round(f.delayMs.max)} ms | ${(f.completeness.worst * 100).toFixed(2)} % / ${(f.completeness.mean * 100).toFixed(3)} % | ${(f.duplicateShare * 100).toFixed(2)} % | ${Math.round(f.startupMs.median)} / ${Math.round(f.startupMs.max)} ms | ${(f.wallMs / 1000).toFixed(1)} s |`),
  ]
  process.stdout.write(lines.join('\n') + '\n')
  if (values.json) void writeFile(values.json, JSON.stringify(results, null, 2) + '\n')
}

main()
