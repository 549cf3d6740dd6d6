// The sink pads each segment (or part) to a chunk boundary so its last chunk is signed at once;
// fMP4 pads with a `free` box, which every ISO BMFF reader skips inside a segment's byte range.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { StreamLog } from '../../src/store/stream-log.ts'
import { generateStreamKey } from '../../src/store/keys.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'
import { freeBox, streamLogSink } from '../../src/ingest/log-sink.ts'
import { defer, tempDir } from '../store/helpers.ts'

test('a free box of the asked size, or a chunk more when a box header would not fit', () => {
  const b = freeBox(100)
  assert.equal(b.length, 100)
  assert.equal(b.readUInt32BE(0), 100)
  assert.equal(b.toString('latin1', 4, 8), 'free')
  assert.equal(freeBox(8).length, 8)
  assert.equal(freeBox(7).length, 7 + CHUNK_SIZE)
  assert.equal(freeBox(7).readUInt32BE(0), 7 + CHUNK_SIZE)
})

test('fMP4 parts are padded with free boxes to chunk boundaries; the next part starts on one', async (t) => {
  const log = await StreamLog.createSource(await tempDir(t), generateStreamKey(), 'pad', { format: 'fmp4', targetDuration: 1 })
  defer(t, () => log.close())
  const sink = streamLogSink(log)
  await sink.setInfo({ format: 'fmp4', init: { offset: 0, length: 100 }, targetDuration: 1 })
  await sink.append(Buffer.alloc(100 + 5000, 1))
  await sink.addSegment({ offset: 100, length: 5000, duration: 0.24, pdt: 1, discontinuity: false, part: { index: 0, independent: true } })
  assert.equal(log.dataSize, CHUNK_SIZE, 'padded to the chunk boundary')
  const pad = await log.read(5100, CHUNK_SIZE - 5100)
  assert.equal(pad.readUInt32BE(0), CHUNK_SIZE - 5100)
  assert.equal(pad.toString('latin1', 4, 8), 'free')
  // The next part's bytes land after the padding; its record says so.
  await sink.append(Buffer.alloc(3000, 2))
  await sink.addSegment({ offset: 5100, length: 3000, duration: 0.24, pdt: 2, discontinuity: false, part: { index: 1, independent: false } })
  assert.deepEqual([log.segment(1)?.offset, log.segment(1)?.length, log.segment(1)?.part], [CHUNK_SIZE, 3000, { msn: 0, index: 1, independent: false }])
})
