import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildFfmpegArgs, type FfmpegArgs } from '../../src/ingest/ffmpeg-args.ts'
import { resolveFfmpeg } from '../../src/ingest/ffmpeg-binary.ts'
import { FfmpegProcess } from '../../src/ingest/ffmpeg-process.ts'
import { quietLogger, waitFor } from './memory-sink.ts'

async function tempDir (t: { after (fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ingest-proc-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

function testsrcArgs (dir: string): FfmpegArgs {
  return buildFfmpegArgs({ kind: 'testsrc' }, {
    segmentSeconds: 1, format: 'ts', bitrate: '500k', loop: false, fps: 25, fontFile: null, startMs: Date.now(),
    mediaPath: join(dir, 'stream.ts'), playlistPath: join(dir, 'stream.m3u8'),
  })
}

test('runs ffmpeg; stop() sends SIGINT so ffmpeg finishes the playlist with ENDLIST', async (t) => {
  const dir = await tempDir(t)
  const { path } = await resolveFfmpeg()
  const p = new FfmpegProcess({ logger: quietLogger }, { ffmpegPath: path, args: testsrcArgs(dir) })
  t.after(() => p.close())
  const playlist = join(dir, 'stream.m3u8')
  await waitFor(() => p.pid !== null, 10_000, 'spawn')
  let text = ''
  await waitFor(() => { readFile(playlist, 'utf8').then((s) => { text = s }, () => {}); return text.includes('#EXTINF') }, 20_000, 'first segment')
  const exit = await p.stop()
  assert.equal(exit.requested, true)
  assert.equal(exit.spawnError, null)
  assert.equal(p.running, false)
  assert.match(await readFile(playlist, 'utf8'), /#EXT-X-ENDLIST/)
  assert.equal(await p.stop(), exit, 'stop is idempotent')
  assert.equal(await p.close(), exit)
})

test('a crash is reported with its signal and not as requested', async (t) => {
  const dir = await tempDir(t)
  const { path } = await resolveFfmpeg()
  const p = new FfmpegProcess({ logger: quietLogger }, { ffmpegPath: path, args: testsrcArgs(dir) })
  t.after(() => p.close())
  await waitFor(() => p.pid !== null, 10_000, 'spawn')
  p.signalProcess('SIGKILL')
  const exit = await p.wait()
  assert.equal(exit.signal, 'SIGKILL')
  assert.equal(exit.requested, false)
})

test('bad arguments: non-zero exit with the reason in the stderr tail', async () => {
  const { path } = await resolveFfmpeg()
  const args: FfmpegArgs = { inputs: [{ options: ['-hide_banner', '-f', 'lavfi'], source: 'nosuchfilter' }], output: { options: ['-f', 'null'], target: '-' }, warnings: [] }
  const exit = await new FfmpegProcess({ logger: quietLogger }, { ffmpegPath: path, args }).wait()
  assert.ok(exit.code !== null && exit.code !== 0)
  assert.match(exit.stderrTail.join('\n'), /nosuchfilter|No such filter/i)
})

test('a binary that cannot be spawned is a spawnError', async () => {
  const exit = await new FfmpegProcess({ logger: quietLogger }, { ffmpegPath: '/nonexistent/ffmpeg', args: testsrcArgs(tmpdir()) }).wait()
  assert.ok(exit.spawnError)
  assert.equal(exit.code, null)
})

test('SIGKILL after the timeout when SIGINT is ignored', async (t) => {
  const dir = await tempDir(t)
  const fake = join(dir, 'stubborn.sh')
  // It says when it ignores SIGINT: a SIGINT sent between the spawn and the trap (a loaded machine,
  // CI's run on Node 22) killed it, and the test read SIGINT.
  const ready = join(dir, 'ignoring')
  await writeFile(fake, `#!/bin/sh\ntrap '' INT\ntouch '${ready}'\nexec sleep 30\n`)
  await chmod(fake, 0o755)
  const p = new FfmpegProcess({ logger: quietLogger }, { ffmpegPath: fake, args: testsrcArgs(dir) })
  await waitFor(() => existsSync(ready), 10_000, 'the script to ignore SIGINT')
  const t0 = Date.now()
  const exit = await p.stop(300)
  assert.equal(exit.signal, 'SIGKILL')
  assert.ok(Date.now() - t0 >= 250)
})
