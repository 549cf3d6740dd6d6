// Runs every test file under test/ with node's test runner through tsx.
// `npm test -- <substring>` runs only the files whose path contains it; `--unit` leaves out
// test/e2e/ (what CI also runs on the other supported Node versions).
import { readdirSync } from 'node:fs'
import { join, sep } from 'node:path'
import { spawnSync } from 'node:child_process'

const args = process.argv.slice(2)
const unit = args.includes('--unit')
const filter = args.filter((a) => a !== '--unit')
const files = readdirSync('test', { recursive: true, withFileTypes: true })
  .filter((d) => d.isFile() && d.name.endsWith('.test.ts'))
  .map((d) => join(d.parentPath ?? d.path, d.name))
  .filter((f) => !unit || !f.startsWith(join('test', 'e2e') + sep))
  .filter((f) => filter.length === 0 || filter.some((s) => f.includes(s)))
  .sort()
// A file's whole run may take 10 minutes: the virtual-time swarm files (test/sim/audience.test.ts,
// some 4 minutes alone) ran past 4 on a busy 2-core machine, though every test in them passed.
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=600000', ...files], { stdio: 'inherit' })
process.exit(result.status ?? 1)
