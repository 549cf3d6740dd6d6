// The chunk tracker's declared states: a chunk is missing, then repairing (a pull open, which owns
// its retries), arriving (blocks here), complete; a failed store makes it missing again, and
// everything below the live window is forgotten. Real stream logs (in memory), real records.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { ChunkTracker } from '../../src/mesh/stream/chunk-tracker.ts'
import { REFUSED_RETRY_MS } from '../../src/mesh/stream-policy.ts'
import type { SwarmContext } from '../../src/mesh/stream/swarm-context.ts'
import { generateStreamKey } from '../../src/store/keys.ts'
import { memoryStorage } from '../../src/store/memory-stream-files.ts'
import { StreamLog } from '../../src/store/stream-log.ts'
import { BLOCK_SIZE, CHUNK_SIZE } from '../../src/store/stream-types.ts'

async function setup(): Promise<{ tracker: ChunkTracker; source: StreamLog; replica: StreamLog }> {
  const storage = memoryStorage()
  const source = await StreamLog.createSource('src', generateStreamKey(), 'tracker', { format: 'ts', targetDuration: 1, storage })
  await source.append(randomBytes(3 * CHUNK_SIZE))
  const replica = await StreamLog.openReplica('replica', source.id, { storage })
  for (let n = 0; n < 3; n++) assert.equal(replica.putChunkRecord(source.chunkRecord(n)).result, 'accept')
  // The tracker reads only the node's role and the stream's log.
  const context = { id: source.id, isSource: false, log: replica } as unknown as SwarmContext
  return { tracker: new ChunkTracker({ context }), source, replica }
}

test('a chunk goes missing -> repairing -> arriving -> complete, its request retrying elsewhere on a refusal', async () => {
  const { tracker, source, replica } = await setup()
  assert.equal(tracker.heard(0, 100), 100)
  assert.equal(tracker.heard(0, 200), 100, 'known since the first time we heard of it')
  assert.equal(tracker.phase(0), 'missing')

  tracker.asked(0, 'p1', 150)
  assert.equal(tracker.phase(0), 'repairing')
  const req = tracker.requests().get(0)
  assert.deepEqual({ peer: req?.peer, at: req?.at, tries: req?.tries }, { peer: 'p1', at: 150, tries: 1 })
  tracker.refusedBy('p2', 250)
  assert.equal(req?.retryAt, undefined, 'another peer\'s hint changes nothing')
  tracker.refusedBy('p1', 250)
  assert.equal(req?.retryAt, 250 + REFUSED_RETRY_MS, 'a hint from the asked peer: retried elsewhere shortly, not after its timeout')
  tracker.asked(0, 'p2', 300)
  assert.deepEqual({ peer: req?.peer, at: req?.at, tries: req?.tries, retryAt: req?.retryAt }, { peer: 'p2', at: 300, tries: 2, retryAt: undefined })

  // A forwarded repair's first block: the chunk is arriving, and goes on to our children as a repair.
  const rec = replica.chunkRecord(0) ?? assert.fail('record')
  const bytes = await source.read(0, rec.length)
  tracker.blockCame(0, true)
  assert.equal(tracker.assembly.add(0, 0, bytes.subarray(0, BLOCK_SIZE), 'p2', 2, rec, 310).kind, 'incomplete')
  tracker.assembling(0)
  assert.equal(tracker.phase(0), 'arriving')
  tracker.storing(0, true)
  assert.equal(tracker.takeForwarding(0), 'repair')
  tracker.settled(0, true, 3)
  assert.equal(tracker.phase(0), 'complete')
  assert.equal(tracker.requests().size, 0, 'no request outlives its chunk')
  assert.equal(tracker.hops(0), 3)
})

test('a chunk from the stripe parent goes on as a push; a failed store makes it missing again; the window forgets', async () => {
  const { tracker } = await setup()
  tracker.heard(1, 0)
  tracker.asked(1, 'p1', 10)
  tracker.storing(1, true)
  assert.equal(tracker.takeForwarding(1), 'push')
  assert.equal(tracker.takeForwarding(1), 'repair', 'taken once: a second look knows nothing of a push')
  tracker.settled(1, false)
  assert.equal(tracker.phase(1), 'missing')
  assert.equal(tracker.requests().size, 0, 'asked for afresh')
  assert.equal(tracker.heard(1, 500), 0, 'still known since the first time')

  tracker.asked(2, 'p1', 20)
  tracker.dropBelow(3)
  assert.equal(tracker.phase(1), undefined)
  assert.equal(tracker.phase(2), undefined)
  assert.equal(tracker.requests().size, 0, 'requests below the window go with their chunks')
})
