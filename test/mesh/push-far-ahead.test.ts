// A stripe parent (or anyone claiming to be one) pushing a chunk number near 2^53 must cost the
// child nothing: the push record once filled one entry per skipped chunk, ~1e11 of them, before
// trimming, and the parent's pushed-up-to mark jumped past every real chunk, so its silence could
// never be noticed again. Virtual time, the shipped nodes and swarms.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runUntil, virtualSwarm } from '../helpers/virtual-swarm.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'

test('a push far beyond the known edge is dropped and leaves the parent\'s record alone', async (t) => {
  const sim = await virtualSwarm(t, { bitrateBps: 1_000_000, link: { delayMs: 1, jitterMs: 1, loss: 0 } })
  const src = sim.source
  await runUntil(sim, () => (src.log.head()?.segments ?? 0) >= 2, 10_000, 'source has segments')
  const viewer = await sim.join()
  const swarm = sim.swarm(viewer)
  await runUntil(sim, () => swarm.status().parents.every((p) => p === src.node.address) && swarm.status().verifiedChunks > 8, 15_000, 'the source is every stripe\'s parent')
  const before = swarm.status().verifiedChunks
  // From the parent's own address, as a parent gone bad (or its address forged) would send it.
  const far = Math.floor(2 ** 52 / CHUNK_SIZE) * CHUNK_SIZE
  src.node.send(viewer.node.address, [{ type: 'Content', id: sim.id, offset: far, data: Buffer.alloc(4096), hops: 0 }])
  await sim.runFor(3000)
  const st = swarm.status()
  assert.ok(st.verifiedChunks > before + 20, `the stream goes on (${before} -> ${st.verifiedChunks} chunks)`)
  assert.ok(st.parents.every((p) => p === src.node.address), `the source is still every stripe's parent: ${JSON.stringify(st.parents)}`)
})
