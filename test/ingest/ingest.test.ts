// Real ffmpeg end to end (~25 s): testsrc into an in-memory sink, a crash and restart, giving up,
// no ffmpeg at all, --tail of another ffmpeg's output, and a file input that ends by itself.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { buildFfmpegArgs, toArgv } from '../../src/ingest/ffmpeg-args.ts'
import { resolveFfmpeg, resolveFfprobe } from '../../src/ingest/ffmpeg-binary.ts'
import { Ingest, State, type IngestInit } from '../../src/ingest/ingest.ts'
import { IngestError } from '../../src/ingest/ingest-error.ts'
import { parsePlaylist } from '../../src/ingest/playlist-parser.ts'
import { MemorySink, quietLogger, waitFor } from './memory-sink.ts'

const run = promisify(execFile)

async function tempDir (t: { after (fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ingest-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

function start (t: { after (fn: () => Promise<void>): void }, sink: MemorySink, init: IngestInit): Ingest {
  const ingest = new Ingest({ sink, logger: quietLogger }, init)
  t.after(() => ingest.close())
  return ingest
}

/** The bytes a player would fetch: init (fMP4) then every segment's range. */
function playable (sink: MemorySink): Buffer {
  const log = sink.bytes()
  const parts = sink.info?.init ? [log.subarray(sink.info.init.offset, sink.info.init.offset + sink.info.init.length)] : []
  for (const s of sink.segments) parts.push(log.subarray(s.offset, s.offset + s.length))
  return Buffer.concat(parts)
}

/** ffprobe sees H.264 + AAC and ffmpeg decodes it all without an error. */
async function assertPlayable (bytes: Buffer, dir: string, ext: string): Promise<void> {
  const file = join(dir, `probe.${ext}`)
  await writeFile(file, bytes)
  const ffprobe = await resolveFfprobe()
  const { stdout } = await run(ffprobe.path, ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'json', file])
  const codecs = (JSON.parse(stdout) as { streams: Array<{ codec_name: string }> }).streams.map((s) => s.codec_name).sort()
  assert.deepEqual(codecs, ['aac', 'h264'])
  const ffmpeg = await resolveFfmpeg()
  const { stderr } = await run(ffmpeg.path, ['-v', 'error', '-i', file, '-f', 'null', '-'])
  assert.equal(stderr.trim(), '', 'decodes cleanly')
}

function assertSegmentsSane (sink: MemorySink, segmentSeconds: number): void {
  assert.deepEqual(sink.violations, [])
  assert.equal(sink.ended, true)
  const segs = sink.segments
  for (const [i, s] of segs.entries()) {
    assert.ok(s.offset + s.length <= sink.length)
    if (i < segs.length - 1) assert.ok(Math.abs(s.duration - segmentSeconds) < 0.15, `segment ${i} lasts ${s.duration} s`)
    if (i > 0) assert.ok(s.pdt > segs[i - 1].pdt, 'pdt increases')
    assert.ok(Math.abs(s.pdt - Date.now()) < 120_000)
  }
}

test('testsrc (ts and fmp4) into a sink: ordered bytes, segments within them, playable H.264 + AAC', async (t) => {
  const dir = await tempDir(t)
  const formats = ['ts', 'fmp4'] as const
  await Promise.all(formats.map(async (format) => {
    const sink = new MemorySink(1)
    const workDir = join(dir, format)
    const ingest = start(t, sink, { input: 'testsrc', name: format, format, workDir, bitrate: '600k', pollMs: 50 })
    const states: string[] = []
    ingest.on('state', (s: string) => states.push(s))
    let bytesEvents = 0
    ingest.on('bytes', (n: number) => { bytesEvents += n })
    await ingest.start()
    assert.equal(ingest.state, State.Running)
    await waitFor(() => sink.segments.length >= 3, 30_000, `${format}: 3 segments`)
    await ingest.stop()
    assert.equal(await ingest.whenDone(), null)
    assert.deepEqual(states, [State.Starting, State.Running, State.Stopping, State.Ended])
    assertSegmentsSane(sink, 1)
    assert.equal(bytesEvents, sink.length)
    assert.equal(ingest.bytesAppended, sink.length)
    assert.equal(sink.info?.format, format)
    assert.equal(sink.info?.targetDuration, 1)
    if (format === 'fmp4') {
      assert.equal(sink.info?.init?.offset, 0)
      assert.equal(sink.segments[0].offset, sink.info?.init?.length)
    } else {
      assert.equal(sink.info?.init, null)
      assert.equal(sink.segments[0].offset, 0)
    }
    const last = sink.segments.at(-1)!
    assert.equal(last.offset + last.length, sink.length, 'SIGINT: the last segment ends the log')
    assert.deepEqual(await readdir(workDir), [], 'finished run directories are removed')
    await assertPlayable(playable(sink), dir, format === 'ts' ? 'ts' : 'mp4')
  }))
})

test('kill -9 of ffmpeg: restart with backoff, the next segment is a discontinuity, the stream goes on', async (t) => {
  const dir = await tempDir(t)
  const sink = new MemorySink()
  const ingest = start(t, sink, {
    input: 'testsrc', name: 'crash', workDir: dir, bitrate: '600k', pollMs: 50,
    restartPolicy: { initialDelayMs: 200, maxDelayMs: 1000, fastFailureMs: 60_000, maxFastFailures: 3 },
  })
  const reasons: string[] = []
  ingest.on('restart', (r: string) => reasons.push(r))
  await ingest.start()
  await waitFor(() => sink.segments.length >= 2, 30_000, '2 segments')
  const firstPid = ingest.pid!
  process.kill(firstPid, 'SIGKILL')
  await waitFor(() => reasons.length === 1, 10_000, 'restart')
  assert.match(reasons[0], /SIGKILL/)
  await waitFor(() => sink.segments.filter((s) => s.discontinuity).length === 1 && !sink.segments.at(-1)!.discontinuity, 30_000, 'segments after the restart')
  assert.notEqual(ingest.pid, firstPid)
  assert.equal(ingest.restarts, 1)
  await ingest.stop()
  assertSegmentsSane(sink, 1)
  const d = sink.segments.findIndex((s) => s.discontinuity)
  assert.ok(d >= 2)
  assert.ok(sink.segments[d].offset >= sink.segments[d - 1].offset + sink.segments[d - 1].length)
  await assertPlayable(playable(sink).subarray(sink.segments[d].offset), dir, 'ts')
})

test('ffmpeg failing before its first segment is fatal at once, with ffmpeg\'s last stderr line; no restart', async (t) => {
  const dir = await tempDir(t)
  const sink = new MemorySink()
  const ingest = start(t, sink, {
    input: join(dir, 'no-such-file.mp4'), name: 'bad', workDir: dir,
    restartPolicy: { initialDelayMs: 20, maxDelayMs: 50, fastFailureMs: 60_000, maxFastFailures: 3 },
  })
  let restarts = 0
  ingest.on('restart', () => restarts++)
  const errors: Error[] = []
  ingest.on('error', (e: Error) => errors.push(e))
  const first = ingest.firstSegment()
  first.catch(() => {})
  await ingest.start()
  const err = await ingest.whenDone()
  assert.ok(err instanceof IngestError && err.code === 'ERR_FFMPEG_FAILED', String(err))
  assert.match(err.message, /^ffmpeg failed before its first segment: .*no-such-file\.mp4: No such file or directory$/)
  await assert.rejects(first, (e) => e === err)
  assert.equal(restarts, 0)
  assert.equal(errors[0], err)
  assert.equal(ingest.state, State.Failed)
  assert.equal(sink.length, 0)
  assert.deepEqual(sink.violations, [])
})

test('ffmpeg\'s own playlist stays a small sliding window; every segment still reaches the sink, contiguous', async (t) => {
  const dir = await tempDir(t)
  const sink = new MemorySink()
  const ingest = start(t, sink, { input: 'testsrc', name: 'win', workDir: dir, bitrate: '300k', segmentSeconds: 0.5, pollMs: 50,
    ffmpegWindowSegments: 3, keepRunFiles: true })
  await ingest.start()
  await ingest.firstSegment()
  await waitFor(() => sink.segments.length >= 12, 60_000, '12 segments')
  await ingest.stop()
  assertSegmentsSane(sink, 0.5)
  for (let i = 1; i < sink.segments.length; i++) {
    const prev = sink.segments[i - 1]
    assert.equal(sink.segments[i].offset, prev.offset + prev.length, `segment ${i} follows ${i - 1} with no gap`)
  }
  const [runDir] = await readdir(dir)
  const listed = parsePlaylist(await readFile(join(dir, runDir, 'stream.m3u8'), 'utf8'))
  assert.ok(listed.ok)
  assert.ok(listed.playlist.segments.length <= 3, `ffmpeg lists ${listed.playlist.segments.length} segments`)
  assert.ok(sink.segments.length > listed.playlist.segments.length + 8)
})

test('the running ffmpeg file gives back what reached the log: sparse on disk, every byte still in the sink', async (t) => {
  const dir = await tempDir(t)
  const sink = new MemorySink()
  const ingest = start(t, sink, { input: 'testsrc', name: 'punch', workDir: dir, bitrate: '600k', pollMs: 50, punchEveryBytes: 64 * 1024 })
  await ingest.start()
  await waitFor(() => ingest.freedBytes >= 128 * 1024, 60_000, '128 KiB freed')
  const [runDir] = await readdir(dir)
  const st = await stat(join(dir, runDir, 'stream.ts'))
  assert.ok(st.blocks * 512 < st.size - 64 * 1024, `allocated ${st.blocks * 512} of ${st.size} bytes`)
  await ingest.stop()
  assertSegmentsSane(sink, 1)
  await assertPlayable(playable(sink), dir, 'ts')
})

test('a missing ffmpeg is ERR_NO_FFMPEG saying how to install it', async (t) => {
  const dir = await tempDir(t)
  const ingest = start(t, new MemorySink(), { input: 'testsrc', name: 'x', workDir: dir, ffmpegPath: join(dir, 'ffmpeg') })
  await assert.rejects(ingest.start(), (e: Error) => e instanceof IngestError && e.code === 'ERR_NO_FFMPEG' && /install/i.test(e.message))
  assert.equal(ingest.state, State.Failed)
  assert.equal((await ingest.whenDone() as IngestError).code, 'ERR_NO_FFMPEG')
})

test('--tail follows another ffmpeg\'s growing file (given as media or .m3u8) and ends at ENDLIST', async (t) => {
  const dir = await tempDir(t)
  const ffmpeg = await resolveFfmpeg()
  const mediaPath = join(dir, 'live.ts')
  const playlistPath = join(dir, 'live.m3u8')
  const args = buildFfmpegArgs({ kind: 'testsrc' }, { segmentSeconds: 1, format: 'ts', bitrate: '600k', loop: false, fps: 25, fontFile: null, startMs: Date.now(), mediaPath, playlistPath })
  const child = spawn(ffmpeg.path, toArgv(args), { stdio: 'ignore' })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  t.after(() => { child.kill('SIGKILL') })
  const sinks = [new MemorySink(), new MemorySink()]
  const ingests = [mediaPath, playlistPath].map((tail, i) => start(t, sinks[i], { input: '', name: `tail${i}`, workDir: dir, tail, pollMs: 50 }))
  for (const i of ingests) await i.start()
  await waitFor(() => sinks.every((s) => s.segments.length >= 2), 30_000, 'segments via tail')
  child.kill('SIGINT')
  await exited
  for (const i of ingests) assert.equal(await i.whenDone(), null)
  const media = await readFile(mediaPath)
  const listed = parsePlaylist(await readFile(playlistPath, 'utf8'))
  assert.ok(listed.ok && listed.playlist.ended)
  for (const sink of sinks) {
    assertSegmentsSane(sink, 1)
    assert.ok(sink.bytes().equals(media), 'the log is the media file, byte for byte')
    assert.deepEqual(sink.segments.map((s) => [s.offset, s.length]), listed.ok ? listed.playlist.segments.map((s) => [s.offset, s.length]) : [])
  }
  assert.ok(ingests.every((i) => i.state === State.Ended))
  // The same file as an ffmpeg input without --loop: ffmpeg ends by itself (exit 0) and so does the stream.
  const sink = new MemorySink()
  const fromFile = start(t, sink, { input: mediaPath, name: 'file', workDir: join(dir, 'work'), pollMs: 50 })
  await fromFile.start()
  assert.equal(await fromFile.whenDone(), null)
  assertSegmentsSane(sink, 1)
  assert.ok(sink.segments.length >= 2)
  assert.equal(fromFile.restarts, 0)
})
