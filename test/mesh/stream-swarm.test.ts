import { test } from 'node:test'
import assert from 'node:assert/strict'
import { holes, publishedBefore, virtualSwarm } from '../helpers/virtual-swarm.ts'
import type { SwarmMember } from '../../src/sim/virtual-swarm.ts'

test('a chain of viewers on virtual time: the last is fed only by other viewers, and the source uploads about one copy', async (t) => {
  const sim = await virtualSwarm(t)
  await sim.runFor(5000)
  // Viewer i knows only viewer i-1 (the first knows the source).
  const viewers: SwarmMember[] = []
  for (let i = 0; i < 4; i++) viewers.push(await sim.join([i === 0 ? sim.source.node.address : viewers[i - 1].node.address]))
  await sim.runFor(60_000)
  const upTo = publishedBefore(sim, 3000)
  for (const v of viewers) {
    const st = sim.swarm(v).status()
    assert.ok(st.startChunk > 0, `viewer ${v.slot} joined at the live edge, not at byte 0`)
    assert.deepEqual(holes(sim, v, upTo), [], `viewer ${v.slot} has every chunk from its start`)
  }
  const last = sim.swarm(viewers[3]).status()
  assert.ok(!(sim.source.node.address in last.fedBy), 'the last viewer got nothing straight from the source')
  const s = sim.swarm(sim.source).status()
  assert.ok(s.copiesUploaded < 1.5, `source uploaded ${s.copiesUploaded.toFixed(2)} copies`)
  t.diagnostic(`source copies ${s.copiesUploaded.toFixed(3)}; delay p99 per viewer ${viewers.map((v) => sim.swarm(v).status().delayMs.p99).join(', ')} ms`)
})
