// Runs every test file under test/ with node's test runner through tsx.
// `npm test -- <substring>` runs only the files whose path contains it.
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'

const filter = process.argv.slice(2)
const files = readdirSync('test', { recursive: true, withFileTypes: true })
  .filter((d) => d.isFile() && d.name.endsWith('.test.ts'))
  .map((d) => join(d.parentPath ?? d.path, d.name))
  .filter((f) => filter.length === 0 || filter.some((s) => f.includes(s)))
  .sort()
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=240000', ...files], { stdio: 'inherit' })
process.exit(result.status ?? 1)
