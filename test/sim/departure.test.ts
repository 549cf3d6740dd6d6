// The simulator's two departures (VirtualSwarm.leave): a killed viewer says nothing, and its
// parents hold it until it is silent long enough; one that leaves cleanly tells each of its parents
// StopSendingMe before its endpoint closes, as Runtime.close() orders it, and they drop it at once.
// The audience run measures both (`npm run simulate -- --audience --departure kill|goodbye|both`).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { VirtualSwarm, type Departure, type SwarmMember } from '../../src/sim/virtual-swarm.ts'

for (const how of ['goodbye', 'kill'] satisfies Departure[]) {
  test(`a viewer that leaves by ${how} is ${how === 'goodbye' ? 'dropped at once' : 'still held'} by its parents 300 ms later`, async (t) => {
    const sim = await VirtualSwarm.create({ seed: 1, bitrateBps: 1_000_000, link: { delayMs: 10, loss: 0 }, handover: true })
    t.after(() => sim.close())
    const viewers: SwarmMember[] = []
    for (let i = 0; i < 4; i++) viewers.push(await sim.join())
    await sim.runFor(8_000)
    const leaving = viewers[3]
    const parents = sim.swarm(leaving).status().parents
    assert.ok(parents.every((p) => p), `a stripe without a parent: ${JSON.stringify(parents)}`)
    const held = () => parents.filter((p, s) => {
      const holder = [sim.source, ...viewers].find((m) => m.node.address === p)!
      return sim.swarm(holder).status().children[s].includes(leaving.node.address)
    }).length
    assert.equal(held(), parents.length)
    await sim.leave(leaving, how)
    await sim.runFor(300)
    assert.equal(held(), how === 'goodbye' ? 0 : parents.length)
  })
}
