// The simulator's one copy of each verified record for the whole process (src/sim/shared-records.ts):
// every node that keeps a record keeps the same frozen object, a forged record is still rejected and
// never given the shared copy, and the shipped logs keep copies of their own.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SharedRecords } from '../../src/sim/shared-records.ts'
import { SharedVerifier } from '../../src/sim/shared-verifier.ts'
import { StreamLog } from '../../src/store/stream-log.ts'
import { generateStreamKey } from '../../src/store/keys.ts'
import { memoryStorage } from '../../src/store/memory-stream-files.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'
import { virtualSwarm } from '../helpers/virtual-swarm.ts'

/** A copy as it comes off the wire: a new object, not the one the source holds. */
const received = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T

async function sourceAndReplicas(t: { after(fn: () => Promise<void>): void }, keeper: SharedRecords | undefined) {
  const storage = memoryStorage()
  const src = await StreamLog.createSource('src', generateStreamKey(), 'live', { format: 'fmp4', init: { offset: 0, length: 500 }, targetDuration: 2, storage })
  await src.append(Buffer.alloc(3 * CHUNK_SIZE, 3))
  await src.addSegment({ offset: 0, length: 1000, duration: 1, pdt: 1_700_000_000_000, discontinuity: false })
  const verifier = new SharedVerifier()
  const a = await StreamLog.openReplica('a', src.id, { storage, verifier, keeper })
  const b = await StreamLog.openReplica('b', src.id, { storage, verifier, keeper })
  t.after(async () => { await Promise.all([src.close(), a.close(), b.close()]) })
  for (const log of [a, b]) {
    assert.equal(log.putInfo(received(src.info())).result, 'accept')
    assert.equal(log.putHead(received(src.head())).result, 'accept')
    assert.equal(log.putChunkRecord({ ...received(src.chunkRecord(1)), extra: 'a key beside the record' }).result, 'accept')
    assert.equal(log.putSegment(received(src.segment(0))).result, 'accept')
  }
  return { src, a, b }
}

test('two nodes given the same records keep the same frozen objects, without the keys a peer added', async (t) => {
  const { src, a, b } = await sourceAndReplicas(t, new SharedRecords())
  const kept = [[a.chunkRecord(1), b.chunkRecord(1)], [a.segment(0), b.segment(0)], [a.head(), b.head()], [a.info(), b.info()]] as const
  for (const [x, y] of kept) {
    assert.ok(x !== null && x === y, 'one object for both nodes')
    assert.ok(Object.isFrozen(x))
    for (const v of Object.values(x)) if (typeof v === 'object' && v !== null) assert.ok(Object.isFrozen(v), 'and the objects in it')
  }
  assert.deepEqual(a.chunkRecord(1), src.chunkRecord(1))
  assert.ok(!('extra' in a.chunkRecord(1)!))
  assert.throws(() => { (a.chunkRecord(1)!.blocks as string[]).push('x') }, TypeError)
})

test('a forged record under a shared record\'s signature is rejected, and never given the shared copy', async (t) => {
  const records = new SharedRecords()
  const { src, a, b } = await sourceAndReplicas(t, records)
  const rec = src.chunkRecord(2)!
  const forged = { ...received(rec), time: rec.time + 1 }
  assert.equal(a.putChunkRecord(received(rec)).result, 'accept')
  assert.equal(b.putChunkRecord(forged).result, 'reject')
  assert.equal(b.chunkRecord(2), null)
  // Were a keeper ever handed one, it keeps a copy of its own; the shared one stays as it was.
  const own = records.chunkRecord(forged)
  assert.notEqual(own, a.chunkRecord(2))
  assert.equal(own.time, rec.time + 1)
  assert.equal(records.chunkRecord(received(rec)), a.chunkRecord(2))
  assert.equal(a.chunkRecord(2)!.time, rec.time)
})

test('the shipped log keeps a copy of its own of each record', async (t) => {
  const { a, b } = await sourceAndReplicas(t, undefined)
  assert.notEqual(a.chunkRecord(1), b.chunkRecord(1))
  assert.deepEqual(a.chunkRecord(1), b.chunkRecord(1))
  assert.ok(!Object.isFrozen(a.chunkRecord(1)))
})

test('in a simulated swarm every viewer keeps the one copy of each record', async (t) => {
  const sim = await virtualSwarm(t, { verifyOncePerProcess: true, handover: true })
  await sim.runFor(4000)
  const viewers = [await sim.join(), await sim.join(), await sim.join()]
  await sim.runFor(5000)
  const n = (sim.source.log.head()?.chunks ?? 0) - 5
  const held = viewers.map((m) => m.log.chunkRecord(n))
  assert.ok(held[0] !== null, `viewer 0 holds chunk ${n}'s record`)
  assert.ok(held.every((r) => r === held[0]), 'the same object at every viewer')
  assert.notEqual(held[0], sim.source.log.chunkRecord(n), 'a frozen copy, not the source\'s own record')
  const k = sim.source.log.segmentCount() - 2
  const seg = viewers.map((m) => m.log.segment(k))
  assert.ok(seg[0] !== null && seg.every((s) => s === seg[0]))
})
