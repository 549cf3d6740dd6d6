// The README's two-folder flow on one machine, verbatim: `ingest testsrc --name sky` with default
// flags in one folder, then the `watch` command it printed, as printed, in another. The second node
// must not die on the first one's ports, and every URL either prints must answer.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { startCli, tempDir, until } from '../helpers/cli-process.ts'

const skip = existsSync('/usr/bin/ffmpeg') ? false : 'SKIPPED LOUDLY: /usr/bin/ffmpeg is missing (apt-get install ffmpeg)'

test('README flow: ingest in one folder, the printed watch command verbatim in another', { timeout: 180_000, skip }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-readme-')
  const [a, b] = [join(dir, 'a'), join(dir, 'b')]
  await mkdir(a)
  await mkdir(b)
  // Nothing from the environment: default ports (or free ones if another node on this machine has them).
  const env = { XDG_DATA_HOME: join(dir, 'xdg'), FFMPEG_PATH: '/usr/bin/ffmpeg', CJP2P_PORT: undefined, CJP2P_HTTP_PORT: undefined, CJP2P_DIR: undefined, CJP2P_PEERS: undefined, CJP2P_HOST: undefined }
  const source = startCli(t, ['ingest', 'testsrc', '--name', 'sky'], { cwd: a, env })
  const printed = await until('ingest to print the watch command', 60_000, () => /^viewers run: (cjp2p-stream watch .*)$/m.exec(source.stdout)?.[1] ?? (source.exit ? 'exited' : null))
  assert.notEqual(printed, 'exited', source.stderr)
  const [cmd, ...args] = printed.split(' ')
  assert.equal(cmd, 'cjp2p-stream')
  assert.match(printed, /--peer 127\.0\.0\.1:\d+$/, 'a reachable address, not 0.0.0.0')
  const sourceUrls = [...source.stdout.matchAll(/^(?:player|playlist|dashboard): (\S+)$/gm)].map((m) => m[1])
  assert.equal(sourceUrls.length, 3, source.stdout)

  const viewer = startCli(t, args, { cwd: b, env })
  const playlist = await until('watch to print its playlist URL', 60_000, () => /^playlist \(VLC, mpv, ffplay\): (\S+)$/m.exec(viewer.stdout)?.[1] ?? (viewer.exit ? 'exited' : null))
  assert.notEqual(playlist, 'exited', `watch died: ${viewer.stderr}`)
  const player = /^player: (\S+)$/m.exec(viewer.stdout)![1]
  await until('the viewer to list segments it received', 60_000, async () => {
    const text = await (await fetch(playlist)).text()
    return (text.match(/#EXTINF/g) ?? []).length >= 3
  }, 500)
  for (const url of [...sourceUrls, player]) {
    const res = await fetch(url)
    assert.equal(res.status, 200, url)
    await res.arrayBuffer()
  }
  assert.ok(existsSync(join(dir, 'xdg', 'cjp2p-stream', 'keys', 'sky.key')))
  assert.ok(!existsSync(join(a, 'keys')), 'no private key in the working folder')
  for (const p of [viewer, source]) {
    p.proc.kill('SIGINT')
    assert.equal((await p.exited).code, 0, p.stderr)
  }
})
