// A relay pushed down keeps its subtree: if it is redirected to a node of that subtree, the stripe
// closes into a loop that no chunk enters, and every node in it (and below) is fed only by pulls.
// Seen in CI (a 6-viewer swarm: the source's stripe-0 tree held 1 viewer after 120 s) and in the
// audience simulation at seed 1 (1 of 100 viewers attached). On virtual time with the shipped
// nodes: the source pushes its child A down under A's own child B, as a complaint or a hand-over
// does; B must refuse its ancestor, and A must find its way back to a parent above it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runUntil, virtualSwarm } from '../helpers/virtual-swarm.ts'
import type { SwarmMember, VirtualSwarm } from '../../src/sim/virtual-swarm.ts'

/** Whether every member's chain of parents in stripe `s` reaches the source. */
function rooted(sim: VirtualSwarm, members: SwarmMember[], s: number): boolean {
  const parentOf = new Map(members.map((m) => [m.node.address, sim.swarm(m).status().parents[s]]))
  return members.every((m) => {
    let at: string | null | undefined = m.node.address
    for (let hops = 0; hops <= members.length && at; hops++) {
      at = parentOf.get(at)
      if (at === sim.source.node.address) return true
    }
    return false
  })
}

test('a relay pushed down under its own child does not close a loop: the child refuses it and the stripe stays rooted', async (t) => {
  const sim = await virtualSwarm(t, { bitrateBps: 1_000_000 })
  const src = sim.source
  await runUntil(sim, () => (src.log.head()?.segments ?? 0) >= 2, 10_000, 'the source has segments')
  const a = await sim.join([src.node.address])
  await runUntil(sim, () => sim.swarm(a).status().parents.every((p) => p === src.node.address), 10_000, 'A under the source in every stripe')
  // B knows only A, so A is its parent wherever A has room.
  const b = await sim.join([a.node.address], { heardOnly: true })
  let s = -1
  await runUntil(sim, () => (s = sim.swarm(b).status().parents.indexOf(a.node.address)) >= 0, 10_000, 'B under A in some stripe')

  // The source gives A's place away and sends it under B, as it does when B complains of A.
  src.node.send(a.node.address, [{ type: 'AskThemInstead', id: sim.id, stripe: s, peers: [b.node.address] }])
  let looped = 0
  const timer = sim.timers.setInterval(() => {
    if (sim.swarm(a).status().parents[s] === b.node.address && sim.swarm(b).status().parents[s] === a.node.address) looped++
  }, 50)
  await sim.runFor(5000)
  sim.timers.clear(timer)
  assert.equal(looped, 0, `A and B fed each other in stripe ${s} for ${looped * 50} ms`)
  await runUntil(sim, () => rooted(sim, [a, b], s), 10_000, `stripe ${s} rooted at the source again`)
  // And the chunks of that stripe reach both by pushes again.
  const at = b.log.verifiedCount()
  await runUntil(sim, () => b.log.verifiedCount() > at + 8, 10_000, 'B keeps receiving')
})
