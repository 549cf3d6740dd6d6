// A viewer killed and restarted on its folder: the records it had not yet journaled (they go out in
// batches, about once a second) are gone from its store. Started again at the live edge, those
// fell behind its start and stayed a hole for good (the fault test's "viewer kill -9" row lost a
// whole segment that way on a loaded machine). It now starts where its store ends, when that is
// near the edge.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runUntil, virtualSwarm } from '../helpers/virtual-swarm.ts'
import { memoryStorage } from '../../src/store/memory-stream-files.ts'
import type { StreamLog } from '../../src/store/stream-log.ts'
import type { StreamStorage } from '../../src/store/stream-log-load.ts'
import { CHUNK_SIZE, type ChunkRecord, type SegmentRecord } from '../../src/store/stream-types.ts'
import { parseKeep } from '../../src/store/retention.ts'

/** What a crash leaves of `log` on disk, as a storage to reopen it from: its records and verified
 * chunks, less the segment records `lost` names. */
async function leftByCrash(log: StreamLog, published: number, lost: (n: number) => boolean): Promise<StreamStorage> {
  const info = log.info()
  const head = log.head()
  const chunks: { rec: ChunkRecord; bytes: Buffer }[] = []
  // Up to what the source published: a viewer holds pushed chunks before the head that names them.
  for (let n = 0; n < published; n++) {
    const rec = log.chunkRecord(n)
    if (rec && log.hasChunk(n)) chunks.push({ rec, bytes: await log.read(n * CHUNK_SIZE, rec.length) })
  }
  const segments: SegmentRecord[] = []
  for (let n = 0; n < log.segmentCount(); n++) {
    const s = log.segment(n)
    if (s && !lost(n)) segments.push(s)
  }
  return async (path, id, opts) => {
    const files = await memoryStorage()(path, id, opts)
    files.records.info = info
    files.records.head = head
    for (const { rec, bytes } of chunks) {
      files.records.chunks.set(rec.n, rec)
      await files.data.write(bytes, rec.n * CHUNK_SIZE, 'a chunk the crash left')
      files.verified.add(rec.n)
    }
    for (const s of segments) files.records.segments.set(s.n, s)
    files.dataSize = files.data.size
    return files
  }
}

test('a viewer restarted after a crash fetches the segment record the crash took, though it is behind the live edge by then', async (t) => {
  const sim = await virtualSwarm(t)
  const viewer = await sim.join()
  await sim.runFor(12_000)
  const lost = viewer.log.segmentCount() - 1
  const seg = viewer.log.segment(lost)!
  assert.ok(seg && viewer.log.hasRange(seg.offset, seg.length), 'the viewer held the newest segment before the crash')
  const store = await leftByCrash(viewer.log, sim.source.log.head()!.chunks, (n) => n === lost)
  await sim.leave(viewer)
  // Back 6 s later: the lost segment is 6 segments behind the newest, past a live start's 3.
  await sim.runFor(6_000)
  const back = await sim.join(undefined, { storage: store })
  assert.equal(back.log.segment(lost), null, 'the reopened store lacks the record')
  await runUntil(sim, () => back.log.segment(lost) !== null, 10_000, `the restarted viewer fetches segment ${lost}'s record`)
  assert.ok(back.log.hasRange(seg.offset, seg.length), 'and serves the segment whole')
  const held = (n: number) => { const s = back.log.segment(n); return s !== null && back.log.hasRange(s.offset, s.length) }
  await sim.runFor(5_000)
  const top = sim.source.log.segmentCount() - 2
  const gaps = Array.from({ length: top - lost + 1 }, (_, i) => lost + i).filter((n) => !held(n))
  assert.deepEqual(gaps, [], 'every segment from the lost one to the edge is held')
})

test('a viewer restarted long after its store ends starts at the live edge, not where its store ends', async (t) => {
  const sim = await virtualSwarm(t)
  const viewer = await sim.join()
  await sim.runFor(8_000)
  const store = await leftByCrash(viewer.log, sim.source.log.head()!.chunks, () => false)
  const ended = viewer.log.segmentCount()
  await sim.leave(viewer)
  await sim.runFor(25_000)
  const back = await sim.join(undefined, { storage: store })
  await runUntil(sim, () => sim.swarm(back).startChunk >= 0, 5_000, 'the restarted viewer joins')
  const start = sim.swarm(back).startChunk
  const newest = sim.source.log.segmentCount()
  const startSegment = sim.source.log.segment(newest - 1 - 3)
  assert.ok(newest - ended > 20, `the store ended ${newest - ended} segments back`)
  assert.ok(startSegment && start * CHUNK_SIZE >= startSegment.offset - 2 * CHUNK_SIZE, `it starts near the edge (chunk ${start}), not at its old end`)
})

test('a viewer with a short --keep restarted after its window passed still joins (its own retention deletes the record it would resume at)', async (t) => {
  const parsed = parseKeep('10s')
  assert.ok('policy' in parsed)
  const sim = await virtualSwarm(t)
  const viewer = await sim.join(undefined, { keep: parsed.policy })
  await sim.runFor(15_000)
  const store = await leftByCrash(viewer.log, sim.source.log.head()!.chunks, () => false)
  await sim.leave(viewer)
  // Back 11 s later: its store ends 11-12 segments back, within a resume's reach, but its 10 s
  // window deletes that record as soon as the newest segments come in. It joins as fast as a
  // newcomer does (well within 2 s), not once the record falls out of a resume's reach (5 s).
  await sim.runFor(11_000)
  const back = await sim.join(undefined, { storage: store, keep: parsed.policy })
  await runUntil(sim, () => sim.swarm(back).startChunk >= 0, 2_000, 'the restarted viewer joins')
  await sim.runFor(5_000)
  const newest = sim.source.log.segmentCount() - 2
  const s = back.log.segment(newest)
  assert.ok(s && back.log.hasRange(s.offset, s.length), 'and holds the stream at the edge')
})
