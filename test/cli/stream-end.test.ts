// Ctrl-C on `ingest` with a viewer watching: the viewer's playlist must end with ENDLIST. The
// source used to close its socket right after signing the end, so the last chunks and the ended
// head never reached anyone and every viewer's playlist stayed live forever (the 60-minute soak's
// "no ENDLIST at viewer1..3"). Now the source drains: it stays up until its viewers stop asking.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { startCli, tempDir, loopbackFlags } from '../helpers/cli-process.ts'

const FFMPEG = '/usr/bin/ffmpeg'
const noFfmpeg = existsSync(FFMPEG) ? false : `SKIPPED LOUDLY: ${FFMPEG} is missing (apt-get install ffmpeg)`

async function playlist(http: string, id: string): Promise<string> {
  const res = await fetch(`${http}/streams/${id}/index.m3u8`, { signal: AbortSignal.timeout(10_000) })
  return res.ok ? res.text() : ''
}

test('Ctrl-C on ingest: a watching viewer gets the end of the stream and ENDLIST', { timeout: 180_000, skip: noFfmpeg }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-end-')
  const source = startCli(t, ['ingest', 'testsrc', '--name', 'end', '--json', '--ffmpeg', FFMPEG, ...loopbackFlags(join(dir, 'src'))])
  const src = await source.firstJson<{ id: string; udp: string }>(90_000)
  const viewer = startCli(t, ['watch', src.id, '--peer', src.udp, '--json', ...loopbackFlags(join(dir, 'v'))])
  const v = await viewer.firstJson<{ http: string }>(60_000)
  // Watching for real: a few segments listed before the end.
  const deadline = Date.now() + 60_000
  while ((await playlist(v.http, src.id)).split('#EXTINF').length < 3) {
    assert.ok(Date.now() < deadline, 'the viewer listed no segments within 60 s')
    await new Promise((r) => setTimeout(r, 500))
  }
  source.proc.kill('SIGINT')
  const exit = await source.exited
  assert.equal(exit.code, 0, source.stderr)
  assert.match(source.stderr, /letting viewers fetch the end of the stream/)
  // The source is gone now: whatever the viewer has, it got before the source exited.
  let text = ''
  for (let i = 0; i < 20 && !text.includes('#EXT-X-ENDLIST'); i++) {
    text = await playlist(v.http, src.id)
    await new Promise((r) => setTimeout(r, 250))
  }
  assert.match(text, /#EXT-X-ENDLIST/, `the viewer's playlist after the source left:\n${text}`)
  assert.equal(viewer.exit, null, 'the viewer keeps serving the ended stream')
})
