// Fan-out regression on virtual time: many real nodes in one process watch a 2 Mb/s synthetic
// stream for 40 s of virtual time (seconds of wall time), and invariants are asserted over
// every node at the end: every viewer holds every chunk from its start point, the source uploads
// about one copy, and closing every node leaves no timer behind (the helper's teardown).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { holes, publishedBefore, virtualSwarm } from '../helpers/virtual-swarm.ts'
import { PLAYOUT_DELAY_MS } from '../../src/mesh/stream/stream-swarm.ts'

async function wave(sim: Awaited<ReturnType<typeof virtualSwarm>>, viewers: number, gapMs: number) {
  const members = []
  for (let i = 0; i < viewers; i++) { members.push(await sim.join()); await sim.runFor(gapMs) }
  return members
}

/** Share of the chunks published after the viewer joined (and due by now) it verified in time. */
function onTime(sim: Awaited<ReturnType<typeof virtualSwarm>>, m: Awaited<ReturnType<typeof sim.join>>): number {
  const src = sim.source.log
  const at = new Map(m.recorder.verified)
  let due = 0
  let ok = 0
  for (let n = 0; n < (src.head()?.chunks ?? 0); n++) {
    const t = src.chunkRecord(n)!.time
    if (t < m.joinAt || t + PLAYOUT_DELAY_MS > sim.timers.now()) continue
    due++
    const got = at.get(n)
    if (got !== undefined && got - t <= PLAYOUT_DELAY_MS) ok++
  }
  return due ? ok / due : 0
}

test('24 viewers for 40 s: the source uploads about one copy and every viewer gets every chunk in time', async (t) => {
  const sim = await virtualSwarm(t, { seed: 7 })
  await sim.runFor(4000)
  const members = await wave(sim, 24, 100)
  await sim.runFor(40_000)
  const upTo = publishedBefore(sim, PLAYOUT_DELAY_MS)
  for (const m of members) {
    assert.deepEqual(holes(sim, m, upTo), [], `viewer ${m.slot} has every chunk from its start`)
    assert.equal(onTime(sim, m), 1, `viewer ${m.slot} got every chunk within ${PLAYOUT_DELAY_MS} ms`)
  }
  const s = sim.swarm(sim.source).status()
  t.diagnostic(`source copies ${s.copiesUploaded.toFixed(3)}`)
  assert.ok(s.copiesUploaded <= 1.5, `source uploaded ${s.copiesUploaded.toFixed(2)} copies`)
})

test('20 viewers, 25 ms one-way and 1 % loss for 40 s: holes are repaired and the source stays within its budget', async (t) => {
  const sim = await virtualSwarm(t, { seed: 3, link: { delayMs: 25, loss: 0.01 } })
  await sim.runFor(4000)
  const members = await wave(sim, 20, 100)
  await sim.runFor(40_000)
  // Chunks old enough that every repair had its chance: none may be missing anywhere.
  const upTo = publishedBefore(sim, 10_000)
  for (const m of members) assert.deepEqual(holes(sim, m, upTo), [], `viewer ${m.slot} has every chunk from its start`)
  const worst = Math.min(...members.map((m) => onTime(sim, m)))
  const s = sim.swarm(sim.source).status()
  t.diagnostic(`source copies ${s.copiesUploaded.toFixed(3)}; worst on-time ${(worst * 100).toFixed(2)} %`)
  assert.ok(worst >= 0.95, `worst viewer had ${(worst * 100).toFixed(2)} % of its chunks in time`)
  assert.ok(s.copiesUploaded <= 3, `source uploaded ${s.copiesUploaded.toFixed(2)} copies`)
})
