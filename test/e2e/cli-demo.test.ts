// The demo through a real process: it runs and serves its URLs, and when its stream dies (ffmpeg
// keeps failing, as an unplugged camera would) it says so and exits 1 instead of running on silently.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { chmod, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startCli, tempDir } from '../helpers/cli-process.ts'

const FFMPEG = '/usr/bin/ffmpeg'
const skip = existsSync(FFMPEG) ? false : `SKIPPED LOUDLY: ${FFMPEG} is missing (apt-get install ffmpeg)`

test('the demo exits 1 when its stream dies', { timeout: 180_000, skip }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-demo-dies-')
  // A real ffmpeg that streams for 3 s, after which every start fails at once. Only the stream's runs
  // count: fluent-ffmpeg's own queries (-version, -formats, -encoders) go through. Counting those
  // made the stream fail before its first segment and the demo exit before the page was fetched.
  const wrapper = join(dir, 'ffmpeg')
  await writeFile(wrapper, `#!/bin/sh
case "$*" in *.m3u8*) ;; *) exec ${FFMPEG} "$@";; esac
if [ -e "${dir}/ran" ]; then echo "camera unplugged" >&2; exit 1; fi
touch "${dir}/ran"
exec timeout 3 ${FFMPEG} "$@"
`)
  await chmod(wrapper, 0o755)
  const demo = startCli(t, ['demo', '--viewers', '1', '--http-port', '0', '--json'], { env: { FFMPEG_PATH: wrapper } })
  const info = await demo.firstJson<{ player: string }>(60_000)
  // A player retries a refused connection; so does this, three times, and says why it gave up (the
  // cause was lost before: once on a loaded CI machine a bare "fetch failed" was all it said).
  let answer: Response | undefined
  const errors: string[] = []
  for (let i = 0; i < 3 && !answer; i++) {
    answer = await fetch(info.player).catch((err: unknown) => {
      errors.push(`${String(err)}: ${String((err as { cause?: unknown }).cause)}`)
      return undefined
    })
    if (!answer) await new Promise((r) => setTimeout(r, 1000))
  }
  assert.ok(answer, `the demo's player page did not answer: ${errors.join('; ')}\n${demo.stderr.slice(-1000)}`)
  assert.equal(answer.status, 200)
  // The restart policy gives up after 5 quick failures (1 + 2 + 4 + 8 s of backoff).
  // unref: the file's run should not wait out this bound once the demo has exited.
  const e = await Promise.race([demo.exited, new Promise<null>((r) => setTimeout(() => r(null), 90_000).unref())])
  assert.ok(e, `the demo still runs 90 s after its stream died: ${demo.stderr.slice(-1000)}`)
  assert.equal(e.code, 1, demo.stderr)
  assert.match(demo.stderr.trim().split('\n').at(-1)!, /^cjp2p-stream: the demo's stream died: .*\(ERR_STREAM_ENDED\)$/)
  assert.doesNotMatch(demo.stderr, /failed before its first segment/, 'the stream ran, then died')
})
