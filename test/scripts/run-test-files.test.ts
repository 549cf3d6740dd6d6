// scripts/run-test-files.js names the tests that had not finished in a file that timed out, not only
// the file: a hung file in CI's log must say which test hung. A fixture file with one test that
// never ends, run through the runner with a 1.5 s file timeout. On Node 24, which times out the test
// itself, not its file, the file's process then lived on (the test's interval): the runner ends it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { tempDir } from '../helpers/stream-fixture.ts'

const RUNNER = resolve(import.meta.dirname, '../../scripts/run-test-files.js')

const FIXTURE = `import { test, describe, it } from 'node:test'
test('finishes', () => {})
describe('a group', () => {
  it('ends', () => {})
  it('never ends', () => new Promise(() => { setInterval(() => {}, 1000) }))
})
test('after the group', () => {})
`

test('a file that times out: the runner names its tests that had not finished', async (t) => {
  const dir = await tempDir(t, 'cjp2p-runner-')
  const file = join(dir, 'hang.test.mjs')
  await writeFile(file, FIXTURE)
  // Without NODE_TEST_CONTEXT: this file's own runner sets it, and the nested run() would report to it.
  const env = { ...process.env, CJP2P_TEST_FILE_TIMEOUT_MS: '1500', NODE_TEST_CONTEXT: undefined }
  const child = spawn(process.execPath, [RUNNER, file], { env, timeout: 60_000, killSignal: 'SIGKILL' })
  let out = ''
  child.stdout.on('data', (b: Buffer) => { out += b.toString() })
  child.stderr.on('data', (b: Buffer) => { out += b.toString() })
  const code = await new Promise<number | null>((r) => child.on('close', r))
  assert.equal(code, 1, out)
  assert.match(out, /timed out after 1500 ?ms/)
  const named = /its tests not finished then:\n((?: {2}- .*\n)+)/.exec(out)
  assert.ok(named, `the unfinished tests are named:\n${out}`)
  assert.deepEqual(named[1].trim().split('\n').map((l) => l.replace(/^\s*- /, '')), ['a group > never ends'])
})
