// `npm run bench:startup`: how long `cjp2p-stream --help` takes and how much memory it peaks at,
// against bare `node -e ''` started the same way (the goal: within 2x). Runs the built command
// (dist/, as installed); build it first with `npm run build`.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { numberFlag, orExitUsage, scriptFlags } from './script-args.ts'

const flags = scriptFlags('bench:startup', 'npm run bench:startup [-- --runs 15]   (build first: npm run build)', { runs: { type: 'string' } })
const RUNS = orExitUsage('bench:startup', () => numberFlag('runs', flags.runs, 15, 1, 1000, true))
const REPO = resolve(import.meta.dirname, '..')
if (!existsSync(join(REPO, 'dist', 'main.js'))) {
  process.stderr.write('bench:startup: dist/ is not built; run `npm run build` first\n')
  process.exit(1)
}
const TIME = '/usr/bin/time'
if (!existsSync(TIME)) {
  process.stderr.write('bench:startup: needs GNU time at /usr/bin/time (apt-get install time) for the peak RSS\n')
  process.exit(1)
}

interface Sample { ms: number; rssKb: number }

function once(args: string[]): Sample {
  const started = process.hrtime.bigint()
  const r = spawnSync(TIME, ['-f', '%M', process.execPath, ...args], { cwd: REPO, encoding: 'utf8' })
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return { ms, rssKb: Number(r.stderr.trim().split('\n').at(-1)) }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

function measure(args: string[]): { ms: number; rssMb: number } {
  once(args) // warm the file cache
  const samples = Array.from({ length: RUNS }, () => once(args))
  return { ms: median(samples.map((s) => s.ms)), rssMb: median(samples.map((s) => s.rssKb)) / 1024 }
}

const bare = measure(['-e', ''])
const help = measure([join('bin', 'cjp2p-stream'), '--help'])
const rows = [
  ['', 'median wall ms', 'median peak RSS MB'],
  ["node -e ''", bare.ms.toFixed(0), bare.rssMb.toFixed(1)],
  ['cjp2p-stream --help', help.ms.toFixed(0), help.rssMb.toFixed(1)],
  ['ratio', (help.ms / bare.ms).toFixed(2) + 'x', (help.rssMb / bare.rssMb).toFixed(2) + 'x'],
]
const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
process.stdout.write(`startup over ${RUNS} runs each (node ${process.version}, ${process.platform})\n`)
for (const r of rows) process.stdout.write(r.map((c, i) => i === 0 ? c.padEnd(w[i]) : c.padStart(w[i])).join('   ') + '\n')
