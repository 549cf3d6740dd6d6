// Issue 17 item 3, on real UDP: verified peers whose addresses hash into a stripe take the source's
// only child slot there through push-down, accept every child that asks, and feed nothing. Children
// judge their parent (a stripe that misses pushes while the others flow is failing), tell the
// grandparent, and the grandparent drops the child that does not relay and takes the complainer in
// its place: the stripe is re-fed within a round trip, and no viewer's player runs dry.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createNodes, until } from '../helpers/swarm.ts'
import { SyntheticSource, tempDir } from '../helpers/stream-fixture.ts'
import { SegmentGaps } from '../../scripts/segment-gaps.ts'
import { Squatter } from '../../scripts/hostile-peers.ts'
import { StreamRegistry } from '../../src/mesh/stream-registry.ts'
import { StreamLog } from '../../src/store/stream-log.ts'
import { STRIPES } from '../../src/mesh/messages.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'

const SEGMENT_MS = 1000
/** Three segments buffered, as the viewer starts: the player stalls after this long without a new one. */
const PLAYER_BUFFER_MS = 3 * SEGMENT_MS

test('squatters holding the source\'s stripe slots and feeding nothing do not stall any viewer', async (t) => {
  const src = await SyntheticSource.create(t, { bitrateBps: 1_000_000, segmentMs: SEGMENT_MS })
  const id = src.log.id
  const nodes = await createNodes(t, 5)
  const [source, ...viewers] = nodes
  for (const n of nodes) await n.start()
  const regs = new Map(nodes.map((n) => [n, new StreamRegistry(n)]))
  t.after(() => Promise.all([...regs.values()].map((r) => r.close())))
  const sourceSwarm = regs.get(source)!.add(src.log)
  src.start()
  await until(() => (src.log.head()?.segments ?? 0) >= 3, 10_000, 'source has segments')

  // Two squatters per stripe, each interior in its stripe, there before any viewer: they hold the
  // source's only slot in every stripe when the viewers come (the worst case: no honest node near
  // the source at all), and push-down favours them over any leaf later.
  const squatters: Squatter[] = []
  for (let s = 0; s < STRIPES; s++) for (let k = 0; k < 2; k++) squatters.push(await Squatter.open(id, s, source.address))
  t.after(() => { for (const q of squatters) q.close() })
  for (const q of squatters) q.start()
  await until(() => sourceSwarm.status().children.every((kids) => kids.length > 0), 10_000, 'squatters hold every stripe')
  const squatterAddrs = new Set(squatters.map((q) => q.address))
  assert.ok(sourceSwarm.status().children.flat().every((k) => squatterAddrs.has(k)))

  const logs: StreamLog[] = []
  for (const n of viewers) {
    const log = await StreamLog.openReplica(await tempDir(t), id)
    t.after(() => log.close())
    logs.push(log)
    n.peers.touch(source.address, 'configured')
    n.probe()
    regs.get(n)!.add(log, { bootstrap: [source.address] })
  }
  const swarms = viewers.map((n) => regs.get(n)!.get(id)!)
  const gaps = viewers.map((_, i) => new SegmentGaps(logs[i], () => swarms[i].status().startChunk))
  t.after(() => { for (const g of gaps) g.stop() })
  const uploadBefore = sourceSwarm.status().uploadedBytes
  const producedBefore = sourceSwarm.status().producedBytes
  // How often the source's child in a stripe is a squatter (sampled).
  let samples = 0
  let squatted = 0
  const sampler = setInterval(() => {
    for (const kids of sourceSwarm.status().children) { samples++; if (kids.some((k) => squatterAddrs.has(k))) squatted++ }
  }, 50)
  t.after(() => clearInterval(sampler))
  await new Promise((r) => setTimeout(r, 12_000))
  clearInterval(sampler)
  for (const q of squatters) q.close()
  src.stop()
  for (const g of gaps) g.stop()

  const st = sourceSwarm.status()
  const copies = (st.uploadedBytes - uploadBefore) / Math.max(1, st.producedBytes - producedBefore)
  t.diagnostic(`longest segment gap per viewer: ${gaps.map((g) => g.maxGapMs).join(', ')} ms (startup ${gaps.map((g) => g.startupMs).join(', ')} ms) over ${gaps.map((g) => g.segments).join(', ')} segments; ` +
    `squatters held a source slot in ${(100 * squatted / Math.max(1, samples)).toFixed(1)} % of samples; squatters ever accepted by the source: ${squatters.filter((q) => q.accepted.size > 0).length}/${squatters.length}; ` +
    `children the squatters lured: ${squatters.reduce((n, q) => n + q.children.size, 0)}; source copies during the attack ${copies.toFixed(2)}`)
  const head = src.log.head()!
  for (const [i, log] of logs.entries()) {
    const start = swarms[i].status().startChunk
    await until(() => log.missingChunks(start, head.chunks).length === 0, 15_000, `viewer ${i} complete`)
    const c = head.chunks - 1
    assert.deepEqual(await log.read(c * CHUNK_SIZE, src.log.chunkRecord(c)!.length), await src.log.read(c * CHUNK_SIZE, src.log.chunkRecord(c)!.length))
  }
  for (const [i, g] of gaps.entries()) assert.ok(g.maxGapMs < PLAYER_BUFFER_MS, `viewer ${i} waited ${g.maxGapMs} ms for a segment (buffer ${PLAYER_BUFFER_MS} ms)`)
  assert.ok(squatted / samples < 0.25, `squatters held the source's slots ${(100 * squatted / samples).toFixed(1)} % of the time`)
  assert.ok(copies < 2, `the source uploaded ${copies.toFixed(2)} copies during the attack`)
})
