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
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=240000', ...files], { stdio: 'inherit' })
process.exit(result.status ?? 1)
