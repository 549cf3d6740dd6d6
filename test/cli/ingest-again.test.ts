// `ingest testsrc --name sky`, Ctrl-C, and the same command again: the second run must stream too.
// The first stream's end was signed, so the second is a new stream under the same key, `sky.2`
// (see src/store/stream-epochs.ts), and says so; both reach a first segment (the JSON line with the
// id is printed only then).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { startCli, tempDir, loopbackFlags } from '../helpers/cli-process.ts'

const FFMPEG = '/usr/bin/ffmpeg'
const noFfmpeg = existsSync(FFMPEG) ? false : `SKIPPED LOUDLY: ${FFMPEG} is missing (apt-get install ffmpeg)`

test('ingest, Ctrl-C, the same ingest again: a new stream under the same name and key', { timeout: 180_000, skip: noFfmpeg }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-again-')
  const args = ['ingest', 'testsrc', '--name', 'sky', '--json', '--ffmpeg', FFMPEG, ...loopbackFlags(join(dir, 'src'))]
  const env = { XDG_DATA_HOME: join(dir, 'xdg') }

  const first = startCli(t, args, { env })
  const a = await first.firstJson<{ id: string }>(90_000)
  assert.match(a.id, /^stream\/[0-9a-f]{64}\/sky$/)
  first.proc.kill('SIGINT')
  const ea = await first.exited
  assert.equal(ea.code, 0, first.stderr)

  const second = startCli(t, args, { env })
  const b = await second.firstJson<{ id: string }>(90_000)
  assert.equal(b.id, `${a.id}.2`, 'same key, the next name')
  assert.match(second.stderr, /has ended .*starting a new stream, stream\/[0-9a-f]{64}\/sky\.2/)
  assert.equal(second.exit, null, 'still streaming')
  second.proc.kill('SIGINT')
  assert.equal((await second.exited).code, 0, second.stderr)

  // A third run finds the newest one ended too and goes on counting.
  const third = startCli(t, args, { env })
  const c = await third.firstJson<{ id: string }>(90_000)
  assert.equal(c.id, `${a.id}.3`)
})
