// `npm run bench -- --viewers N --seconds S --bitrate R [--link delay=25ms,loss=1%] [--churn 20%/min]
//   [--nodes-per-process K] [--json file] [--chart file.svg] [--scenario name]... [--all]`
// Runs a real swarm on this machine (one source process, viewer processes of K nodes each, real UDP
// on 127.0.0.1), then the baseline (the same viewers pulling HLS over HTTP from one server), and
// prints both side by side. Figures come from the nodes' own counters; see bench-report.ts.
import { writeFile } from 'node:fs/promises'
import { parseBenchArgs } from './bench-args.ts'
import { exitUsage, UsageError } from './script-args.ts'
import { runMode } from './bench-run.ts'
import { table, type Figures } from './bench-report.ts'
import { chart } from './bench-chart.ts'

async function main(): Promise<void> {
  const opts = parseBenchArgs(process.argv.slice(2))
  const log = (s: string) => process.stderr.write(s + '\n')
  const results: Array<{ name: string; scenario: unknown; p2p: Figures; hls: Figures | null }> = []
  for (const sc of opts.scenarios) {
    log(`scenario ${sc.name}`)
    const p2p = await runMode(sc, 'p2p', sc.seconds, log)
    const hls = opts.baseline ? await runMode(sc, 'hls', sc.baselineSeconds, log) : null
    results.push({ name: sc.name, scenario: sc, p2p, hls })
    process.stdout.write(table(sc.name, p2p, hls) + '\n\n')
  }
  if (opts.json) {
    await writeFile(opts.json, JSON.stringify(results, null, 2) + '\n')
    log(`wrote ${opts.json}`)
  }
  if (opts.chart) {
    await writeFile(opts.chart, chart(results))
    log(`wrote ${opts.chart}`)
  }
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) exitUsage('bench', err)
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
})
