// Every `npm run <script>` answers --help with its usage and a wrong flag with one line and exit
// code 2: run as a user runs them (node --import tsx), since the point is what reaches the terminal.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { numberFlag, readFlags, UsageError } from '../../scripts/script-args.ts'

const REPO = resolve(import.meta.dirname, '../..')
/** Scripts that start minutes of work (real swarms, namespaces, Chromium) when their flags are taken. */
const SCRIPTS = ['bench', 'bench-nat', 'bench-audience', 'bench-compare', 'bench-files', 'bench-bandwidth', 'bench-dht', 'bench-gateway',
  'bench-seal', 'bench-startup', 'bench-blake3', 'soak', 'chaos', 'latency', 'fuzz', 'simulate']

interface Ran { status: number | null; stdout: string; stderr: string }
/** The script as a user runs it. Killed after a minute: a script that no longer stops at a wrong
 * flag would otherwise start its real work (swarms, namespaces, Chromium) inside this test. */
function run(script: string, args: string[]): Promise<Ran> {
  const child = spawn(process.execPath, ['--import', 'tsx', `scripts/${script}.ts`, ...args], { cwd: REPO, timeout: 60_000, killSignal: 'SIGKILL' })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d })
  child.stderr.on('data', (d: Buffer) => { stderr += d })
  return new Promise((done) => child.once('close', (status) => done({ status, stdout, stderr })))
}

/** Each script with `args`, four at a time (each is mostly tsx start-up; all at once overloads CI). */
async function runAll(args: string[]): Promise<Ran[]> {
  const ran: Ran[] = []
  for (let i = 0; i < SCRIPTS.length; i += 4) ran.push(...await Promise.all(SCRIPTS.slice(i, i + 4).map((s) => run(s, args))))
  return ran
}

test('every script prints its usage for --help and exits 0', async () => {
  const ran = await runAll(['--help'])
  for (const [i, s] of SCRIPTS.entries()) {
    const r = ran[i]
    assert.equal(r.status, 0, `${s} --help: exit ${r.status}: ${r.stderr}`)
    assert.match(r.stdout, /^npm run /, `${s} --help printed: ${r.stdout.slice(0, 200)}`)
  }
})

test('every script refuses an unknown flag in one line with exit code 2, before starting anything', async () => {
  const ran = await runAll(['--no-such-flag'])
  for (const [i, s] of SCRIPTS.entries()) {
    const r = ran[i]
    assert.equal(r.status, 2, `${s}: exit ${r.status}: ${r.stderr.slice(0, 300)}`)
    const lines = r.stderr.trim().split('\n')
    assert.equal(lines.length, 1, `${s} printed more than one line: ${r.stderr.slice(0, 300)}`)
    assert.match(lines[0], /--no-such-flag/)
    assert.equal(r.stdout, '')
  }
})

test('a bad value is one line naming the flag', async () => {
  const [r, m] = await Promise.all([run('bench', ['--viewers', 'many']), run('bench-blake3', ['--mib', '0'])])
  assert.equal(r.status, 2)
  assert.equal(r.stderr.trim(), 'bench: --viewers must be an integer from 1 to 500 (got "many") (see npm run bench -- --help)')
  assert.equal(m.status, 2)
  assert.match(m.stderr, /^bench:blake3: --mib must be an integer from 1 to 4096 \(got "0"\)/)
})

test('readFlags and numberFlag: wrong input is a UsageError, right input its value', () => {
  assert.deepEqual({ ...readFlags({ n: { type: 'string' } }, ['--n', '3']) }, { n: '3' })
  assert.throws(() => readFlags({ n: { type: 'string' } }, ['--n']), (e: unknown) => e instanceof UsageError && /--n/.test(e.message) && !e.message.includes('\n'))
  assert.throws(() => readFlags({}, ['stray']), UsageError)
  assert.equal(numberFlag('x', undefined, 7, 0, 10), 7)
  assert.equal(numberFlag('x', '2.5', 7, 0, 10), 2.5)
  assert.throws(() => numberFlag('x', '2.5', 7, 0, 10, true), UsageError)
  assert.throws(() => numberFlag('x', '', 7, 0, 10), UsageError)
  assert.throws(() => numberFlag('x', '11', 7, 0, 10), UsageError)
})
