// Retention: a log with a `keep` window deletes what falls out of it (records, verified bits and
// whole data pieces), never serves, lists or accepts it again, keeps the fMP4 init, and keeps all
// of that across a restart.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { StreamLog, streamDir } from '../../src/store/stream-log.ts'
import { generateStreamKey } from '../../src/store/keys.ts'
import { isStoreError } from '../../src/store/errors.ts'
import { keepFrom, parseKeep, pieceChunksFor, type KeepPolicy } from '../../src/store/retention.ts'
import { CHUNK_SIZE, type SegmentRecord } from '../../src/store/stream-types.ts'
import { bytesOf, defer, fakeClock, tempDir } from './helpers.ts'

const T0 = 1_700_000_000_000

test('parseKeep: all, durations and sizes; garbage and tiny windows are one-line errors', () => {
  assert.deepEqual(parseKeep('all'), { policy: { kind: 'all' } })
  assert.deepEqual(parseKeep('30m'), { policy: { kind: 'time', ms: 30 * 60_000 } })
  assert.deepEqual(parseKeep('2h'), { policy: { kind: 'time', ms: 2 * 3_600_000 } })
  assert.deepEqual(parseKeep('90s'), { policy: { kind: 'time', ms: 90_000 } })
  assert.deepEqual(parseKeep('500MB'), { policy: { kind: 'bytes', bytes: 500e6 } })
  assert.deepEqual(parseKeep('2GiB'), { policy: { kind: 'bytes', bytes: 2 * 2 ** 30 } })
  for (const bad of ['', 'lots', '30', '-5m', '1s', '1kb', '5 parsecs']) {
    const r = parseKeep(bad)
    assert.ok('error' in r && !r.error.includes('\n'), bad)
  }
  assert.equal(pieceChunksFor({ kind: 'all' }), null, 'keeping everything: one data file, as before')
  assert.equal(pieceChunksFor({ kind: 'time', ms: 30 * 60_000 }), 1024)
  assert.equal(pieceChunksFor({ kind: 'time', ms: 10_000 }), 19)
  assert.equal(pieceChunksFor({ kind: 'bytes', bytes: 2 * 2 ** 20 }), 16)
})

const segment = (n: number, offset: number, length: number, pdt: number): SegmentRecord =>
  ({ n, offset, length, duration: 1, pdt, discontinuity: false, sig: '' })

test('keepFrom: cuts at the oldest segment inside the window, only once something is outside it', () => {
  const segs = Array.from({ length: 10 }, (_, i) => segment(i, i * 1000, 1000, T0 + i * 1000)).reverse()
  assert.equal(keepFrom({ kind: 'all' }, segs), null)
  assert.equal(keepFrom({ kind: 'time', ms: 4000 }, segs), 6000, 'segments 6..9 cover the last 4 s')
  assert.equal(keepFrom({ kind: 'bytes', bytes: 3000 }, segs), 7000)
  assert.equal(keepFrom({ kind: 'time', ms: 60_000 }, segs), null, 'all inside: nothing to cut')
  assert.equal(keepFrom({ kind: 'time', ms: 4000 }, segs.slice(0, 3)), null, 'a short index cuts nothing')
})

const settle = async (log: StreamLog) => { await log.flush(); await new Promise((r) => setTimeout(r, 20)); await log.flush() }

interface Fed { log: StreamLog; dir: string; segments: SegmentRecord[] }

/** A source log with `keep`, fed `count` one-second segments of `perSegment` chunks each. */
async function feedSource(t: Parameters<typeof tempDir>[0], keep: KeepPolicy, count: number, opts: { init?: boolean; dir?: string; key?: ReturnType<typeof generateStreamKey>; recordWindow?: number; compactBytes?: number; settleEvery?: number } = {}): Promise<Fed & { key: ReturnType<typeof generateStreamKey> }> {
  const dir = opts.dir ?? await tempDir(t)
  const clock = fakeClock(T0)
  const key = opts.key ?? generateStreamKey()
  const log = await StreamLog.createSource(dir, key, 'cam', {
    format: opts.init ? 'fmp4' : 'ts', init: opts.init ? { offset: 0, length: 1000 } : null, targetDuration: 1,
    clock: clock.now, keep, pieceChunks: 4, recordWindow: opts.recordWindow, compactBytes: opts.compactBytes,
  })
  defer(t, () => log.close())
  const segments: SegmentRecord[] = []
  for (let i = 0; i < count; i++) {
    segments.push(await addSegment(log, clock))
    // A live source adds one segment a second, so the background trim keeps up; a test feeding
    // hundreds at once lets it catch up now and then like that.
    if (opts.settleEvery && (i + 1) % opts.settleEvery === 0) await settle(log)
  }
  return { log, dir, segments, key }
}

/** Two chunks of bytes and one segment over them, a second later on the clock. */
async function addSegment(log: StreamLog, clock: { now: () => number; advance: (ms: number) => void }): Promise<SegmentRecord> {
  const offset = log.dataSize
  await log.append(bytesOf(2 * CHUNK_SIZE, offset / CHUNK_SIZE + 1))
  clock.advance(1000)
  return log.addSegment({ offset, length: 2 * CHUNK_SIZE, duration: 1, pdt: clock.now(), discontinuity: false })
}


test('a source with a 10 s window deletes older chunks, records and data pieces, and serves none of it', async (t) => {
  const { log, dir } = await feedSource(t, { kind: 'time', ms: 10_000 }, 40)
  await settle(log)
  // 40 segments of 2 chunks; the newest 10 s are segments 30..39 (plus the one ending at the cut).
  const floor = log.floor
  assert.ok(floor >= 58 && floor <= 62, `floor ${floor}`)
  for (const n of [0, 10, floor - 1]) {
    assert.equal(log.hasChunk(n), false, `chunk ${n}`)
    assert.equal(log.chunkRecord(n), null)
  }
  assert.equal(log.hasChunk(79), true)
  assert.deepEqual(await log.read(79 * CHUNK_SIZE, 10), bytesOf(2 * CHUNK_SIZE, 79).subarray(CHUNK_SIZE, CHUNK_SIZE + 10))
  await assert.rejects(log.read(0, 10), (e) => isStoreError(e, 'ERR_NOT_VERIFIED'))
  assert.equal(log.segment(0), null)
  assert.equal(log.segment(39)?.n, 39)
  assert.ok(log.segment(Math.ceil(floor / 2)), 'the segments at the floor are still listed')
  assert.equal(log.missingChunks(0, 80)[0] ?? null, null, 'nothing below the floor is asked for')
  // Whole pieces (4 chunks each) below the floor are gone from disk; at most one lingers.
  const pieces = (await readdir(streamDir(dir, log.id))).filter((f) => /^data\.\d+$/.test(f)).map((f) => Number(f.slice(5))).sort((a, b) => a - b)
  assert.ok(pieces[0] >= Math.floor(floor / 4), `first piece ${pieces[0]} for floor ${floor}`)
  assert.equal(pieces.at(-1), 19)
})

test('a replica refuses what retention deleted: records, segments and bytes below its floor', async (t) => {
  const { log: src, segments } = await feedSource(t, { kind: 'all' }, 30)
  const dir = await tempDir(t)
  const rep = await StreamLog.openReplica(dir, src.id, { keep: { kind: 'bytes', bytes: 20 * CHUNK_SIZE }, pieceChunks: 4 })
  defer(t, () => rep.close())
  rep.putInfo(src.info())
  for (let n = 0; n < 60; n++) {
    assert.equal(rep.putChunkRecord(src.chunkRecord(n)).result, 'accept')
    assert.equal((await rep.putChunk(n, await src.read(n * CHUNK_SIZE, CHUNK_SIZE))).result, 'accept')
  }
  for (const s of segments) rep.putSegment(s)
  await settle(rep)
  const floor = rep.floor
  assert.ok(floor >= 38 && floor <= 40, `floor ${floor}`)
  assert.deepEqual(rep.putChunkRecord(src.chunkRecord(2)), { result: 'ignore', reason: 'deleted by retention' })
  assert.deepEqual(await rep.putChunk(2, await src.read(2 * CHUNK_SIZE, CHUNK_SIZE)), { result: 'ignore', reason: 'deleted by retention' })
  assert.deepEqual(rep.putSegment(segments[1]), { result: 'ignore', reason: 'deleted by retention' })
  assert.equal(rep.hasChunk(2), false)
  assert.equal(rep.hasRange(0, CHUNK_SIZE), false)
})

test('restart keeps the window: deleted stays deleted, kept stays verified, appends go on and trim again', async (t) => {
  const first = await feedSource(t, { kind: 'time', ms: 10_000 }, 30)
  await settle(first.log)
  const floor = first.log.floor
  assert.ok(floor > 0)
  await first.log.close()
  const again = await feedSource(t, { kind: 'time', ms: 10_000 }, 0, { dir: first.dir, key: first.key })
  assert.equal(again.log.floor, floor)
  assert.equal(again.log.hasChunk(floor - 1), false)
  assert.equal(again.log.chunkRecord(floor - 1), null)
  assert.equal(again.log.hasChunk(59), true)
  assert.deepEqual(await again.log.read(59 * CHUNK_SIZE, 5), bytesOf(2 * CHUNK_SIZE, 59).subarray(CHUNK_SIZE, CHUNK_SIZE + 5))
  // The source goes on; retention follows the segments' PROGRAM-DATE-TIME.
  for (let i = 0; i < 10; i++) {
    const offset = again.log.dataSize
    await again.log.append(bytesOf(2 * CHUNK_SIZE, offset / CHUNK_SIZE + 1))
    await again.log.addSegment({ offset, length: 2 * CHUNK_SIZE, duration: 1, pdt: T0 + (31 + i) * 1000, discontinuity: false })
  }
  await settle(again.log)
  assert.ok(again.log.floor > floor, `the floor moved on from ${floor} to ${again.log.floor}`)
})

test('records.jsonl is compacted to the window: bounded over a long run, and a restart loads what is kept', async (t) => {
  // 300 one-second segments write about 400 KB of records; a 10 s window keeps about 15 KB of them.
  const first = await feedSource(t, { kind: 'time', ms: 10_000 }, 300, { compactBytes: 16 * 1024, settleEvery: 5 })
  await settle(first.log)
  const journal = join(streamDir(first.dir, first.log.id), 'records.jsonl')
  const size = (await stat(journal)).size
  assert.ok(size < 64 * 1024, `records.jsonl is ${size} bytes after 300 segments`)
  const floor = first.log.floor
  const lines = (await readFile(journal, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { t: string; r: { n: number; offset: number } })
  assert.ok(lines.some((e) => e.t === 'chunk' && e.r.n === 599), 'the newest chunk record is there')
  // Deleted since the last rewrite may linger until the next one (rewrites wait for the file to double).
  assert.ok(floor > 500, `floor ${floor}`)
  assert.equal(lines.filter((e) => e.t === 'chunk' && e.r.n < 500).length, 0, 'no record of chunks deleted long ago')
  assert.equal(lines.filter((e) => e.t === 'segment' && e.r.offset < 500 * CHUNK_SIZE).length, 0, 'no record of segments deleted long ago')
  assert.ok(lines.filter((e) => e.t === 'head').length < 100, 'not a head for every second of the run')
  const head = first.log.head()
  await first.log.close()

  const again = await feedSource(t, { kind: 'time', ms: 10_000 }, 0, { dir: first.dir, key: first.key })
  assert.equal(again.log.floor, floor)
  assert.equal(again.log.head()?.chunks, head?.chunks, 'the newest head survived the rewrite')
  assert.equal(again.log.segmentCount(), 300)
  for (let n = floor; n < 600; n++) assert.equal(again.log.hasChunk(n), true, `kept chunk ${n} is still verified`)
  assert.deepEqual(await again.log.read(599 * CHUNK_SIZE, 5), bytesOf(2 * CHUNK_SIZE, 599).subarray(CHUNK_SIZE, CHUNK_SIZE + 5))
})

test('the fMP4 init is kept whatever the window (every segment needs it)', async (t) => {
  const { log, dir } = await feedSource(t, { kind: 'time', ms: 10_000 }, 30, { init: true })
  await settle(log)
  assert.ok(log.floor > 20)
  assert.equal(log.hasRange(0, 1000), true)
  assert.deepEqual(await log.read(0, 1000), bytesOf(2 * CHUNK_SIZE, 1).subarray(0, 1000))
  assert.equal(log.hasChunk(1), false, 'only the init\'s chunks are kept below the floor')
  const pieces = (await readdir(streamDir(dir, log.id))).filter((f) => /^data\.\d+$/.test(f))
  assert.ok(pieces.includes('data.0'))
  assert.ok(!pieces.includes('data.1'))
})

test('a window longer than the segment records held in memory still trims (at the oldest record held)', async (t) => {
  const { log } = await feedSource(t, { kind: 'time', ms: 3_600_000 }, 40, { recordWindow: 16 })
  await settle(log)
  assert.ok(log.floor >= 2 * (40 - 17), `floor ${log.floor}: the records of segments below it are gone from memory`)
  assert.equal(log.hasChunk(0), false)
  assert.equal(log.hasChunk(79), true)
})
