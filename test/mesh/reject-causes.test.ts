// A reject is charged by what was wrong: a record whose fields are insane is not a forged
// signature, and a junk block is neither. On virtual time, with the shipped swarm: a viewer is
// handed each kind of bad input as if a fellow viewer had sent it, and the charge it makes against
// that sender names the cause.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { virtualSwarm } from '../helpers/virtual-swarm.ts'
import type { Ctx } from '../../src/mesh/node.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'

test('rejects are charged by cause: bad field, bad signature, junk block', async (t) => {
  const sim = await virtualSwarm(t)
  await sim.runFor(3000)
  const viewer = await sim.join()
  const sender = await sim.join()
  await sim.runFor(10_000)
  const swarm = sim.swarm(viewer)
  assert.ok(swarm.status().verifiedChunks > 10, 'the viewer receives')
  const peer = viewer.node.peers.get(sender.node.address)
  assert.ok(peer, 'the viewer knows the sender')
  const ctx: Ctx = { from: sender.node.address, peer, verified: true, reply: () => {}, room: () => Infinity, asksEcho: false, echo: () => {} }
  const charges: string[] = []
  viewer.node.on('penalised', (addr: string, reason: string) => { if (addr === sender.node.address) charges.push(reason) })
  const take = (): string[] => charges.splice(0)

  // A chunk the viewer does not hold yet (published, not yet sent on): its record is real.
  const head = sim.source.log.head()!
  const rec = sim.source.log.chunkRecord(head.chunks - 1)!
  const id = sim.source.log.id

  swarm.onChunkHashes({ type: 'HereAreChunkHashes', id, chunks: [{ ...rec, length: 0 }] }, ctx)
  assert.deepEqual(take(), ['bad_field'], 'an insane field')
  swarm.onChunkHashes({ type: 'HereAreChunkHashes', id, chunks: [{ ...rec, time: rec.time + 1 }] }, ctx)
  assert.deepEqual(take(), ['bad_signature'], 'a record altered after signing')
  swarm.onContent({ type: 'Content', id, offset: rec.n * CHUNK_SIZE + 100, data: Buffer.alloc(4096, 1), hops: 1 }, ctx)
  assert.deepEqual(take(), ['bad_field'], 'a block at no block\'s place')
  swarm.onChunkHashes({ type: 'HereAreChunkHashes', id, chunks: [rec] }, ctx)
  swarm.onContent({ type: 'Content', id, offset: rec.n * CHUNK_SIZE, data: Buffer.alloc(4096, 1), hops: 1 }, ctx)
  assert.deepEqual(take(), ['bad_chunk'], 'a junk block under a real record')
})
