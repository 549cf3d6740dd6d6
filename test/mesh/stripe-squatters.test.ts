// Issue 17 item 3, on virtual time with the shipped nodes and swarms: verified peers whose
// addresses hash into a stripe take the source's only child slot there through push-down, accept
// every child that asks, and feed nothing. Children judge their parent (a stripe that misses
// pushes while the others flow is failing), tell the grandparent, and the grandparent drops the
// child that does not relay and takes the complainer in its place: the stripe is re-fed within a
// round trip, and no viewer's player runs dry.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { hostileIo, runUntil, virtualSwarm } from '../helpers/virtual-swarm.ts'
import { SegmentGaps } from '../../scripts/segment-gaps.ts'
import { Squatter } from '../../scripts/hostile-peers.ts'
import { STRIPES } from '../../src/mesh/messages.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'

const SEGMENT_MS = 1000
/** Three segments buffered, as the viewer starts: the player stalls after this long without a new one. */
const PLAYER_BUFFER_MS = 3 * SEGMENT_MS

test('squatters holding the source\'s stripe slots and feeding nothing do not stall any viewer', async (t) => {
  const sim = await virtualSwarm(t, { bitrateBps: 1_000_000, link: { delayMs: 1, jitterMs: 1, loss: 0 } })
  const src = sim.source
  const id = sim.id
  const sourceSwarm = sim.swarm(src)
  await runUntil(sim, () => (src.log.head()?.segments ?? 0) >= 3, 10_000, 'source has segments')

  // Two squatters per stripe, each interior in its stripe, there before any viewer: they hold the
  // source's only slot in every stripe when the viewers come (the worst case: no honest node near
  // the source at all), and push-down favours them over any leaf later.
  const squatters: Squatter[] = []
  for (let s = 0; s < STRIPES; s++) for (let k = 0; k < 2; k++) squatters.push(await Squatter.open(id, s, src.node.address, hostileIo(sim)))
  for (const q of squatters) q.start()
  await runUntil(sim, () => sourceSwarm.status().children.every((kids) => kids.length > 0), 10_000, 'squatters hold every stripe')
  const squatterAddrs = new Set(squatters.map((q) => q.address))
  assert.ok(sourceSwarm.status().children.flat().every((k) => squatterAddrs.has(k)))

  const viewers = []
  for (let i = 0; i < 4; i++) viewers.push(await sim.join())
  const swarms = viewers.map((m) => sim.swarm(m))
  const gaps = viewers.map((m, i) => new SegmentGaps(m.log, () => swarms[i].status().startChunk, 20, sim.timers))
  const uploadBefore = sourceSwarm.status().uploadedBytes
  const producedBefore = sourceSwarm.status().producedBytes
  // How often the source's child in a stripe is a squatter (sampled).
  let samples = 0
  let squatted = 0
  const sampler = sim.timers.setInterval(() => {
    for (const kids of sourceSwarm.status().children) { samples++; if (kids.some((k) => squatterAddrs.has(k))) squatted++ }
  }, 50)
  await sim.runFor(12_000)
  sim.timers.clear(sampler)
  for (const q of squatters) q.close()
  src.feed.stop()
  for (const g of gaps) g.stop()

  const st = sourceSwarm.status()
  const copies = (st.uploadedBytes - uploadBefore) / Math.max(1, st.producedBytes - producedBefore)
  t.diagnostic(`longest segment gap per viewer: ${gaps.map((g) => g.maxGapMs).join(', ')} ms (startup ${gaps.map((g) => g.startupMs).join(', ')} ms) over ${gaps.map((g) => g.segments).join(', ')} segments; ` +
    `squatters held a source slot in ${(100 * squatted / Math.max(1, samples)).toFixed(1)} % of samples; squatters ever accepted by the source: ${squatters.filter((q) => q.accepted.size > 0).length}/${squatters.length}; ` +
    `children the squatters lured: ${squatters.reduce((n, q) => n + q.children.size, 0)}; source copies during the attack ${copies.toFixed(2)}`)
  const head = src.log.head()!
  for (const [i, m] of viewers.entries()) {
    const start = swarms[i].status().startChunk
    await runUntil(sim, () => m.log.missingChunks(start, head.chunks).length === 0, 15_000, `viewer ${i} complete`)
    const c = head.chunks - 1
    assert.deepEqual(await m.log.read(c * CHUNK_SIZE, src.log.chunkRecord(c)!.length), await src.log.read(c * CHUNK_SIZE, src.log.chunkRecord(c)!.length))
  }
  assert.ok(squatters.reduce((n, q) => n + q.children.size, 0) > 0, 'the squatters lured children (else nothing was defended)')
  for (const [i, g] of gaps.entries()) assert.ok(g.segments > 6 && g.maxGapMs < PLAYER_BUFFER_MS, `viewer ${i} waited ${g.maxGapMs} ms for a segment (buffer ${PLAYER_BUFFER_MS} ms) over ${g.segments} segments`)
  assert.ok(squatted / samples < 0.25, `squatters held the source's slots ${(100 * squatted / samples).toFixed(1)} % of the time`)
  assert.ok(copies < 2, `the source uploaded ${copies.toFixed(2)} copies during the attack`)
})
