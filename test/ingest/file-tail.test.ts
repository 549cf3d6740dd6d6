import { test } from 'node:test'
import assert from 'node:assert/strict'
import { appendFile, mkdtemp, rename, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileTail } from '../../src/ingest/file-tail.ts'
import { IngestError } from '../../src/ingest/ingest-error.ts'
import { PlaylistFollower, UNREADABLE_WARN_MS, type PlaylistUpdate } from '../../src/ingest/playlist-follower.ts'
import type { IngestLogger } from '../../src/ingest/ingest-components.ts'
import { quietLogger, waitFor } from './memory-sink.ts'

async function tempDir (t: { after (fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ingest-tail-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

test('follows a file that does not exist yet and grows, in order, one consumer call at a time', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'media.ts')
  const got: Buffer[] = []
  let inFlight = 0
  let maxInFlight = 0
  const tail = new FileTail({ logger: quietLogger }, { path, pollMs: 30, readSize: 1000 }, async (b) => {
    inFlight++
    maxInFlight = Math.max(maxInFlight, inFlight)
    await new Promise((resolve) => setTimeout(resolve, 5)) // a slow consumer
    got.push(b)
    inFlight--
  })
  t.after(() => tail.close())
  tail.start()
  const expected: Buffer[] = []
  for (let i = 0; i < 20; i++) {
    const b = Buffer.alloc(700 + i * 37, i)
    expected.push(b)
    if (i === 0) await writeFile(path, b)
    else await appendFile(path, b)
    if (i % 5 === 0) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const total = Buffer.concat(expected)
  await waitFor(() => tail.position === total.length && inFlight === 0, 10_000, 'all bytes')
  assert.deepEqual(Buffer.concat(got), total)
  assert.equal(maxInFlight, 1, 'backpressure: the next read waits for the consumer')
  assert.ok(got.every((b) => b.length <= 1000))
})

test('drain() delivers everything written so far; close() is idempotent and stops reading', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'media.ts')
  await writeFile(path, Buffer.alloc(5000, 1))
  let n = 0
  const tail = new FileTail({ logger: quietLogger }, { path, pollMs: 10_000 }, async (b) => { n += b.length })
  tail.start()
  await appendFile(path, Buffer.alloc(3000, 2))
  await tail.drain()
  assert.equal(n, 8000)
  await tail.close()
  await tail.close()
  await appendFile(path, Buffer.alloc(10, 3))
  await tail.drain()
  assert.equal(n, 8000)
})

test('a file that shrinks is ERR_FILE_TRUNCATED', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'media.ts')
  await writeFile(path, Buffer.alloc(4000))
  const tail = new FileTail({ logger: quietLogger }, { path, pollMs: 20 }, async () => {})
  t.after(() => tail.close())
  const failed = new Promise<Error>((resolve) => tail.once('error', resolve))
  tail.start()
  await waitFor(() => tail.position === 4000, 5000)
  await truncate(path, 100)
  const err = await failed
  assert.ok(err instanceof IngestError && err.code === 'ERR_FILE_TRUNCATED')
})

test('a consumer rejection stops the tail and is reported', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'media.ts')
  await writeFile(path, Buffer.alloc(10))
  const tail = new FileTail({ logger: quietLogger }, { path, pollMs: 20 }, async () => { throw new Error('disk full') })
  t.after(() => tail.close())
  const failed = new Promise<Error>((resolve) => tail.once('error', resolve))
  tail.start()
  assert.equal((await failed).message, 'disk full')
  await assert.rejects(tail.drain(), /disk full/)
})

const HEAD = '#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:EVENT\n'
const seg = (i: number) => `#EXTINF:1.000000,\n#EXT-X-BYTERANGE:100@${i * 100}\n#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:00:0${i}.000+0000\nstream.ts\n`

/** Writes like ffmpeg: a temp file renamed over the playlist. */
async function writeAtomic (path: string, text: string): Promise<void> {
  await writeFile(path + '.tmp', text)
  await rename(path + '.tmp', path)
}

test('playlist follower: header once, each segment once, across atomic rewrites, then ENDLIST', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'stream.m3u8')
  const updates: PlaylistUpdate[] = []
  const f = new PlaylistFollower({ logger: quietLogger }, { path, pollMs: 30 }, async (u) => { updates.push(u) })
  t.after(() => f.close())
  f.start()
  let text = HEAD
  for (let i = 0; i < 6; i++) {
    text += seg(i)
    await writeAtomic(path, text)
    await waitFor(() => f.segmentCount === i + 1, 5000, `segment ${i}`)
  }
  // A half-written line (non-atomic writers) is ignored until complete.
  await writeFile(path, text + '#EXTINF:1.0,\n#EXT-X-BYTERANGE:100@6')
  await f.drain()
  assert.equal(f.segmentCount, 6)
  await writeAtomic(path, text + seg(6) + '#EXT-X-ENDLIST\n')
  await waitFor(() => f.hasEnded, 5000, 'ENDLIST')
  const segs = updates.flatMap((u) => u.segments)
  assert.deepEqual(segs.map((s) => s.index), [0, 1, 2, 3, 4, 5, 6])
  assert.deepEqual(segs.map((s) => s.offset), [0, 100, 200, 300, 400, 500, 600])
  assert.equal(updates.filter((u) => u.ended).length, 1)
  assert.ok(updates.every((u) => u.header.targetDuration === 1))
})

test('playlist follower: a changed header forces a full re-parse', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'stream.m3u8')
  const seen: number[] = []
  const f = new PlaylistFollower({ logger: quietLogger }, { path, pollMs: 30 }, async (u) => { seen.push(...u.segments.map((s) => s.index)) })
  t.after(() => f.close())
  await writeAtomic(path, HEAD + seg(0) + seg(1))
  f.start()
  await waitFor(() => f.segmentCount === 2, 5000)
  await writeAtomic(path, HEAD.replace('TARGETDURATION:1', 'TARGETDURATION:2') + seg(0) + seg(1) + seg(2))
  await waitFor(() => f.segmentCount === 3, 5000)
  assert.deepEqual(seen, [0, 1, 2])
})

/** A logger that keeps warnings and errors, to assert on what a user would see. */
function recordingLogger (): { warnings: string[]; logger: IngestLogger } {
  const warnings: string[] = []
  return { warnings, logger: { ...quietLogger, warn: (m: string) => { warnings.push(m) }, error: (m: string) => { warnings.push(m) } } }
}

test('playlist follower: in-place rewrites (empty, cut, shorter) and a sliding window are never fatal, each segment once', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'stream.m3u8')
  const offsets: number[] = []
  let now = 0
  const { warnings, logger } = recordingLogger()
  const f = new PlaylistFollower({ logger, now: () => now }, { path, pollMs: 30 }, async (u) => { offsets.push(...u.segments.map((s) => s.offset)) })
  t.after(() => f.close())
  let failed: Error | null = null
  f.on('error', (e: Error) => { failed = e })
  const window = (from: number, to: number) => HEAD + Array.from({ length: to - from }, (_, k) => seg(from + k)).join('')
  await writeFile(path, window(0, 4))
  f.start()
  await waitFor(() => f.segmentCount === 4, 5000)
  // What a reader catches while ffmpeg rewrites in place: nothing, a cut, fewer segments.
  for (const text of ['', '#EXTM3U\n#EXT-X-VERS', window(0, 2), HEAD, window(1, 3)]) {
    await writeFile(path, text)
    await f.drain()
  }
  // The sliding window moves on: old segments drop off its head (the old code counted them and died:
  // "now lists 3 segments, 4 were already ingested").
  await writeFile(path, window(2, 5))
  await f.drain()
  await writeFile(path, window(3, 6))
  await f.drain()
  assert.deepEqual(offsets, [0, 100, 200, 300, 400, 500])
  assert.equal(failed, null)
  assert.deepEqual(warnings, [], 'a rewrite in progress is not worth a warning')
  // A playlist that stays unreadable past UNREADABLE_WARN_MS is: once, then "readable again".
  await writeFile(path, 'garbage\n')
  await f.drain()
  now += UNREADABLE_WARN_MS
  await writeFile(path, 'garbage!\n')
  await f.drain()
  await writeFile(path, 'garbage!!\n')
  await f.drain()
  assert.equal(warnings.length, 1)
  assert.match(warnings[0], /unreadable for 5 s: missing #EXTM3U/)
  await writeFile(path, window(4, 7))
  await f.drain()
  assert.deepEqual(offsets, [0, 100, 200, 300, 400, 500, 600])
  assert.equal(failed, null)
})

test('playlist follower: segments that left the window unread are a warning, not a failure', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'stream.m3u8')
  const offsets: number[] = []
  const { warnings, logger } = recordingLogger()
  const f = new PlaylistFollower({ logger }, { path, pollMs: 30 }, async (u) => { offsets.push(...u.segments.map((s) => s.offset)) })
  t.after(() => f.close())
  await writeFile(path, HEAD + seg(0) + seg(1))
  f.start()
  await waitFor(() => f.segmentCount === 2, 5000)
  await writeFile(path, HEAD + seg(5) + seg(6))
  await f.drain()
  assert.deepEqual(offsets, [0, 100, 500, 600])
  assert.equal(warnings.length, 1)
  assert.match(warnings[0], /over 300 bytes left the writer's window/)
})
