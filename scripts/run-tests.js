// Builds dist/, then runs every test file under test/ with node's test runner through tsx, two files
// at a time.
// `npm test -- <substring>` runs only the files whose path contains it; `--unit` leaves out
// test/e2e/ (what CI also runs on the other supported Node versions).
//
// Longest first (scripts/test-seconds.json, from a CI run): the suite is two lanes of files, and
// in path order a long file could start late and run alone at the end while the other core idled.
// A file the table does not know counts as a typical one of its folder (an e2e file runs real
// processes for tens of seconds, others a second or two). `node --test <files>` sorts the files by
// path, so scripts/run-test-files.js runs them in this order through node:test's run().
import { readFileSync, readdirSync } from 'node:fs'
import { join, sep } from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** What an unknown file is assumed to take: enough to put a new e2e file among the long ones. */
const UNKNOWN_E2E_SECONDS = 20
const UNKNOWN_SECONDS = 1

const args = process.argv.slice(2)
const unit = args.includes('--unit')
const filter = args.filter((a) => a !== '--unit')
const e2e = join('test', 'e2e') + sep
const files = readdirSync('test', { recursive: true, withFileTypes: true })
  .filter((d) => d.isFile() && d.name.endsWith('.test.ts'))
  .map((d) => join(d.parentPath ?? d.path, d.name))
  .filter((f) => !unit || !f.startsWith(e2e))
  .filter((f) => filter.length === 0 || filter.some((s) => f.includes(s)))
  .sort()
if (files.length === 0) {
  process.stderr.write(`no test file under test/ matches ${filter.join(' or ')}\n`)
  process.exit(1)
}
const known = JSON.parse(readFileSync(new URL('test-seconds.json', import.meta.url), 'utf8')).seconds
const seconds = (f) => known[f.split(sep).join('/')] ?? (f.startsWith(e2e) ? UNKNOWN_E2E_SECONDS : UNKNOWN_SECONDS)
// A stable sort: equal estimates keep their path order.
const ordered = files.map((f) => [f, seconds(f)]).sort((a, b) => b[1] - a[1]).map(([f]) => f)
// dist/ from the sources as they are now, so the tests that start the command run bin/ (see
// test/helpers/cli-process.ts), and the NAT lab's processes, which always do, run this code too.
const build = spawnSync(process.execPath, [fileURLToPath(new URL('build.js', import.meta.url))], { stdio: 'inherit' })
if (build.status !== 0) process.exit(build.status ?? 1)
const env = { ...process.env, CJP2P_TEST_CLI: 'dist' }
const result = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('run-test-files.js', import.meta.url)), ...ordered], { stdio: 'inherit', env })
process.exit(result.status ?? 1)
