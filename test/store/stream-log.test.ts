import { test } from 'node:test'
import assert from 'node:assert/strict'
import { appendFile, readFile, truncate, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { StreamLog, streamDir } from '../../src/store/stream-log.ts'
import { generateStreamKey } from '../../src/store/keys.ts'
import { isStoreError } from '../../src/store/errors.ts'
import { signChunk } from '../../src/store/verify.ts'
import { makeStreamId } from '../../src/store/stream-id.ts'
import { CHUNK_SIZE, type SegmentRecord, type StreamHead } from '../../src/store/stream-types.ts'
import { bytesOf, defer, fakeClock, recordingLogger, tempDir } from './helpers.ts'

const seg = (offset: number, length: number) => ({ offset, length, duration: 1, pdt: 1_700_000_000_000 + offset, discontinuity: false })

test('source: append cuts signed chunks, buffers the partial one, end flushes it', async (t) => {
  const dir = await tempDir(t)
  const clock = fakeClock()
  const key = generateStreamKey()
  const log = await StreamLog.createSource(dir, key, 'cam', { format: 'ts', targetDuration: 1, clock: clock.now })
  defer(t, () => log.close())
  assert.equal(log.id, makeStreamId(key.publicKeyHex, 'cam'))
  assert.equal(log.info()?.format, 'ts')
  assert.equal(log.head()?.chunks, 0)
  const chunks: number[] = []
  const heads: StreamHead[] = []
  log.on('chunk', (n) => chunks.push(n))
  log.on('head', (h) => heads.push(h))

  const data = bytesOf(2 * CHUNK_SIZE + 7000)
  assert.deepEqual(await log.append(data.subarray(0, 100)), [])
  clock.advance(10)
  const recs = await log.append(data.subarray(100))
  assert.deepEqual(recs.map((r) => r.n), [0, 1])
  assert.equal(recs[0].time, clock.now())
  assert.deepEqual(chunks, [0, 1])
  assert.equal(log.head()?.chunks, 2)
  assert.equal(heads.at(-1)?.length, 2 * CHUNK_SIZE)
  assert.deepEqual(await log.read(10, 2 * CHUNK_SIZE - 10), data.subarray(10, 2 * CHUNK_SIZE))
  await assert.rejects(log.read(2 * CHUNK_SIZE, 1), (e) => isStoreError(e, 'ERR_NOT_VERIFIED'))
  assert.equal(log.hasRange(0, 2 * CHUNK_SIZE + 1), false)

  const s0 = await log.addSegment(seg(0, 20000))
  const s1 = await log.addSegment(seg(20000, 5000))
  assert.deepEqual([s0.n, s1.n, s0.discontinuity], [0, 1, false])
  assert.equal(log.segmentCount(), 2)
  assert.equal(log.head()?.segments, 2)

  let ended = false
  log.on('end', () => { ended = true })
  const head = await log.end()
  assert.equal(head.ended, true)
  assert.equal(head.chunks, 3)
  assert.equal(head.length, data.length)
  assert.ok(ended)
  assert.equal(log.chunkRecord(2)?.length, 7000)
  assert.deepEqual(await log.read(0, data.length), data)
  await assert.rejects(log.append(Buffer.from('x')), (e) => isStoreError(e, 'ERR_ENDED'))
  assert.ok(heads.every((h, i) => i === 0 || h.time >= heads[i - 1].time), 'head times never go back')
})

/** A source with `chunks` full chunks, 2 segments, and its records/bytes for replicas. */
async function makeSource(t: Parameters<typeof tempDir>[0], chunks = 3) {
  const dir = await tempDir(t)
  const key = generateStreamKey()
  const src = await StreamLog.createSource(dir, key, 'live', { format: 'fmp4', init: { offset: 0, length: 500 }, targetDuration: 2 })
  defer(t, () => src.close())
  const data = bytesOf(chunks * CHUNK_SIZE, 7)
  await src.append(data)
  await src.addSegment(seg(0, 1000))
  await src.addSegment(seg(1000, 3000))
  return { key, src, data }
}

test('replica: puts are verified; bad bytes rejected and never stored', async (t) => {
  const { key, src, data } = await makeSource(t)
  const dir = await tempDir(t)
  const rep = await StreamLog.openReplica(dir, src.id)
  defer(t, () => rep.close())
  assert.equal(rep.head(), null)

  assert.equal(rep.putInfo(src.info()).result, 'accept')
  assert.equal(rep.putInfo(src.info()).result, 'ignore')
  assert.equal(rep.putHead(src.head()).result, 'accept')
  assert.equal(rep.putHead(src.head()).result, 'ignore')
  assert.equal(rep.putHead({ ...src.head(), chunks: 9 }).result, 'reject')

  assert.equal((await rep.putChunk(1, data.subarray(CHUNK_SIZE, 2 * CHUNK_SIZE))).result, 'ignore', 'no record yet')
  assert.equal(rep.putChunkRecord(src.chunkRecord(1)).result, 'accept')
  assert.equal(rep.putChunkRecord(src.chunkRecord(1)).result, 'ignore')
  const other = generateStreamKey()
  const forged = signChunk(other, makeStreamId(other.publicKeyHex, 'live'), 2, Buffer.alloc(CHUNK_SIZE), 1)
  assert.equal(rep.putChunkRecord(forged).result, 'reject', 'record signed by another key')
  assert.equal(rep.putChunkRecord({ garbage: true }).result, 'reject')

  const bad = Buffer.from(data.subarray(CHUNK_SIZE, 2 * CHUNK_SIZE))
  bad[5] ^= 1
  assert.equal((await rep.putChunk(1, bad)).result, 'reject')
  assert.equal(rep.hasChunk(1), false)
  await assert.rejects(rep.read(CHUNK_SIZE, 10), (e) => isStoreError(e, 'ERR_NOT_VERIFIED'))
  const seen: number[] = []
  rep.on('chunk', (n) => seen.push(n))
  // 'verified' comes with the bytes before they are written (the mesh relays them from memory),
  // and once: a duplicate put neither emits nor writes again. Bad bytes (above) never emit it.
  const early: Array<{ n: number; stored: boolean; same: boolean }> = []
  rep.on('verified', (n: number, bytes: Buffer) => early.push({ n, stored: rep.hasChunk(n), same: bytes.equals(data.subarray(CHUNK_SIZE, 2 * CHUNK_SIZE)) }))
  assert.equal((await rep.putChunk(1, data.subarray(CHUNK_SIZE, 2 * CHUNK_SIZE))).result, 'accept')
  assert.equal((await rep.putChunk(1, data.subarray(CHUNK_SIZE, 2 * CHUNK_SIZE))).result, 'ignore')
  assert.deepEqual(seen, [1])
  assert.deepEqual(early, [{ n: 1, stored: false, same: true }])
  assert.ok(rep.hasChunk(1) && !rep.hasChunk(0))
  assert.deepEqual(rep.missingChunks(0, 3), [0, 2])
  assert.deepEqual(await rep.read(CHUNK_SIZE + 5, 100), data.subarray(CHUNK_SIZE + 5, CHUNK_SIZE + 105))

  const segs: SegmentRecord[] = []
  rep.on('segment', (s) => segs.push(s))
  assert.equal(rep.putSegment(src.segment(1)).result, 'accept')
  assert.equal(rep.putSegment({ ...src.segment(1), n: 0 }).result, 'reject')
  assert.equal(rep.segmentCount(), 2)
  assert.equal(rep.segment(0), null)
  assert.equal(segs.length, 1)
  assert.equal(key.publicKeyHex, src.id.split('/')[1])
})

test('replica survives close and reopen with records, head and verified chunks', async (t) => {
  const { src, data } = await makeSource(t, 4)
  const dir = await tempDir(t)
  let rep = await StreamLog.openReplica(dir, src.id)
  rep.putInfo(src.info())
  rep.putHead(src.head())
  for (let n = 0; n < 4; n++) rep.putChunkRecord(src.chunkRecord(n))
  for (const n of [0, 2, 3]) assert.equal((await rep.putChunk(n, data.subarray(n * CHUNK_SIZE, (n + 1) * CHUNK_SIZE))).result, 'accept')
  rep.putSegment(src.segment(0))
  await rep.close()
  await rep.close()
  await assert.rejects(rep.read(0, 1), (e) => isStoreError(e, 'ERR_CLOSED'))
  assert.equal(rep.putHead(src.head()).result, 'ignore')

  rep = await StreamLog.openReplica(dir, src.id)
  defer(t, () => rep.close())
  assert.deepEqual(rep.info(), src.info())
  assert.equal(rep.head()?.chunks, 4)
  assert.deepEqual(rep.missingChunks(0, 4), [1])
  assert.deepEqual(await rep.read(2 * CHUNK_SIZE, 2 * CHUNK_SIZE), data.subarray(2 * CHUNK_SIZE))
  assert.ok(rep.segment(0))
  assert.equal((await rep.putChunk(1, data.subarray(CHUNK_SIZE, 2 * CHUNK_SIZE))).result, 'accept')
})

test('reopen distrusts marks whose bytes are missing and re-hashes unmarked chunks', async (t) => {
  const { src, data } = await makeSource(t, 3)
  const dir = await tempDir(t)
  let rep = await StreamLog.openReplica(dir, src.id)
  for (let n = 0; n < 3; n++) {
    rep.putChunkRecord(src.chunkRecord(n))
    await rep.putChunk(n, data.subarray(n * CHUNK_SIZE, (n + 1) * CHUNK_SIZE))
  }
  await rep.close()
  const path = streamDir(dir, src.id)
  // As after a crash before the marks were written: bytes on disk, no marks; chunk 1 corrupted.
  await unlink(join(path, 'verified'))
  const onDisk = await readFile(join(path, 'data'))
  onDisk[CHUNK_SIZE + 3] ^= 0xff
  await writeFile(join(path, 'data'), onDisk)
  rep = await StreamLog.openReplica(dir, src.id)
  assert.deepEqual(rep.missingChunks(0, 3), [1])
  await rep.close()
  // Marks present but the data file lost its tail (power loss): those marks are not trusted.
  await truncate(join(path, 'data'), CHUNK_SIZE + 10)
  rep = await StreamLog.openReplica(dir, src.id)
  defer(t, () => rep.close())
  assert.deepEqual(rep.missingChunks(0, 3), [1, 2])
  assert.ok(rep.hasChunk(0))
})

test('a torn or corrupt records.jsonl line is dropped with a warning, and appends continue', async (t) => {
  const { src, data } = await makeSource(t, 2)
  const dir = await tempDir(t)
  let rep = await StreamLog.openReplica(dir, src.id)
  rep.putChunkRecord(src.chunkRecord(0))
  await rep.putChunk(0, data.subarray(0, CHUNK_SIZE))
  await rep.close()
  const journal = join(streamDir(dir, src.id), 'records.jsonl')
  const rec1 = JSON.stringify({ t: 'chunk', r: src.chunkRecord(1) })
  const tamperedLine = JSON.stringify({ t: 'chunk', r: { ...src.chunkRecord(1), n: 5 } })
  await appendFile(journal, `${tamperedLine}\nnot json\n${rec1.slice(0, rec1.length - 3)}`)

  const logger = recordingLogger()
  rep = await StreamLog.openReplica(dir, src.id, { logger })
  assert.ok(rep.hasChunk(0))
  assert.equal(rep.chunkRecord(1), null, 'torn line never trusted')
  assert.equal(rep.chunkRecord(5), null, 'tampered line never trusted')
  assert.ok(logger.warnings.some((w) => w.includes('torn')))
  assert.ok(logger.warnings.some((w) => w.includes('corrupt')))
  assert.equal(rep.putChunkRecord(src.chunkRecord(1)).result, 'accept')
  assert.equal((await rep.putChunk(1, data.subarray(CHUNK_SIZE))).result, 'accept')
  await rep.close()
  rep = await StreamLog.openReplica(dir, src.id)
  defer(t, () => rep.close())
  assert.deepEqual(rep.missingChunks(0, 2), [])
})

test('source reopen continues the log: same id, numbering, partial chunk, discontinuity', async (t) => {
  const dir = await tempDir(t)
  const key = generateStreamKey()
  const opts = { format: 'ts' as const, targetDuration: 1 }
  let log = await StreamLog.createSource(dir, key, 'cam', opts)
  const data = bytesOf(3 * CHUNK_SIZE + 1234, 3)
  await log.append(data.subarray(0, CHUNK_SIZE + 100))
  await log.addSegment(seg(0, CHUNK_SIZE))
  const firstInfo = log.info()
  await log.close()

  log = await StreamLog.createSource(dir, key, 'cam', opts)
  defer(t, () => log.close())
  assert.deepEqual(log.info(), firstInfo, 'unchanged info is not re-signed')
  assert.equal(log.head()?.chunks, 1)
  assert.equal(log.head()?.segments, 1)
  const recs = await log.append(data.subarray(CHUNK_SIZE + 100))
  assert.deepEqual(recs.map((r) => r.n), [1, 2])
  const s = await log.addSegment(seg(CHUNK_SIZE, 1000))
  assert.equal(s.n, 1)
  assert.equal(s.discontinuity, true)
  assert.equal((await log.addSegment(seg(CHUNK_SIZE + 1000, 1000))).discontinuity, false)
  await log.end()
  assert.deepEqual(await log.read(0, data.length), data)
  await log.close()
  await assert.rejects(StreamLog.createSource(dir, key, 'cam', opts), (e) => isStoreError(e, 'ERR_ENDED'))
})

test('source reopen chunks bytes that were written but never signed (crash mid-append)', async (t) => {
  const dir = await tempDir(t)
  const key = generateStreamKey()
  const opts = { format: 'ts' as const, targetDuration: 1 }
  let log = await StreamLog.createSource(dir, key, 'cam', opts)
  await log.append(bytesOf(CHUNK_SIZE, 1))
  await log.close()
  const extra = bytesOf(CHUNK_SIZE + 50, 2)
  await appendFile(join(streamDir(dir, log.id), 'data'), extra)
  log = await StreamLog.createSource(dir, key, 'cam', opts)
  defer(t, () => log.close())
  assert.equal(log.head()?.chunks, 2)
  assert.deepEqual(await log.read(CHUNK_SIZE, CHUNK_SIZE), extra.subarray(0, CHUNK_SIZE))
  await log.end()
  assert.deepEqual(await log.read(2 * CHUNK_SIZE, 50), extra.subarray(CHUNK_SIZE))
})

test('record window bounds memory: old records drop out, verified bytes stay readable', async (t) => {
  const dir = await tempDir(t)
  const key = generateStreamKey()
  const log = await StreamLog.createSource(dir, key, 'w', { format: 'ts', targetDuration: 1, recordWindow: 4 })
  defer(t, () => log.close())
  const data = bytesOf(20 * CHUNK_SIZE, 9)
  const recs = await log.append(data)
  assert.equal(recs.length, 20)
  assert.equal(log.chunkRecord(0), null)
  assert.ok(log.chunkRecord(19))
  assert.ok(log.hasChunk(0))
  assert.deepEqual(await log.read(0, 100), data.subarray(0, 100))

  const rep = await StreamLog.openReplica(await tempDir(t), log.id, { recordWindow: 4 })
  defer(t, () => rep.close())
  assert.equal(rep.putChunkRecord(recs[19]).result, 'accept')
  const old = rep.putChunkRecord(recs[2])
  assert.equal(old.result === 'ignore' && old.reason, 'outside window')
})

test('replica accepts an info that adds the init range, not a conflicting one', async (t) => {
  const dir = await tempDir(t)
  const key = generateStreamKey()
  const src = await StreamLog.createSource(dir, key, 'f', { format: 'fmp4', targetDuration: 1 })
  defer(t, () => src.close())
  const rep = await StreamLog.openReplica(await tempDir(t), src.id)
  defer(t, () => rep.close())
  const first = src.info()
  assert.equal(first?.init, null)
  assert.equal(rep.putInfo(first).result, 'accept')
  const second = await src.setInit({ offset: 0, length: 1360 })
  assert.equal(rep.putInfo(second).result, 'accept')
  assert.deepEqual(rep.info()?.init, { offset: 0, length: 1360 })
  assert.equal(rep.putInfo(first).result, 'ignore')
  assert.equal(src.putHead(src.head()).result, 'ignore')
  await assert.rejects(rep.append(Buffer.from('x')), (e) => isStoreError(e, 'ERR_BAD_ID'))
})
