// The source's stripe-0 child killed: only its own children should move. Every node below it has
// heard nothing in stripe 0 since that child's last push, as long as its children have, and left
// its own parent in the same 100 ms when its silence ran out: the whole stripe-0 tree dissolved
// and re-formed (143 of 160 viewers without a stripe-0 parent, 17 levels deep after; 10 s later the
// source counted 23-106 of 160 in `simulate --audience --bitrate 500k --seed 2`). A parent that
// said its feed is late is now waited for from its word (StripeParents.onSubscribed).
// Virtual time, in-process network.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { virtualSwarm } from '../helpers/virtual-swarm.ts'
import type { SwarmMember } from '../../src/sim/virtual-swarm.ts'

test("the source's stripe-0 child killed, the nodes below its children keep their stripe-0 parents", async (t) => {
  const sim = await virtualSwarm(t, { seed: 1, bitrateBps: 500_000, link: { delayMs: 25, loss: 0 } })
  const viewers: SwarmMember[] = []
  for (let i = 0; i < 40; i++) {
    viewers.push(await sim.join())
    await sim.runFor(100)
  }
  await sim.runFor(20_000)
  const parent = (m: SwarmMember): string | null => sim.swarm(m).status().parents[0]
  const src = sim.source.node.address
  const byAddr = new Map(viewers.map((m) => [m.node.address, m]))
  /** The viewers whose chain of stripe-0 parents passes through `a` (its children excluded). */
  const deeper = (a: string): SwarmMember[] => viewers.filter((m) => {
    let at = parent(m)
    if (at === a) return false
    for (let hops = 0; hops <= viewers.length && at !== null && at !== src; hops++) {
      if (at === a) return true
      const up = byAddr.get(at)
      at = up ? parent(up) : null
    }
    return false
  })
  // The source's stripe-0 child carrying the most below it.
  const top = viewers.filter((m) => parent(m) === src).sort((x, y) => deeper(y.node.address).length - deeper(x.node.address).length)[0]
  const grandchildren = deeper(top.node.address)
  assert.ok(grandchildren.length >= 5, `only ${grandchildren.length} viewers below the top relay's children`)
  const before = new Map(grandchildren.map((m) => [m, parent(m)]))
  void sim.leave(top, 'kill')
  const moved = new Set<SwarmMember>()
  for (let ms = 0; ms < 8000; ms += 50) {
    await sim.runFor(50)
    for (const [m, p] of before) if (parent(m) !== p) moved.add(m)
  }
  t.diagnostic(`${moved.size} of ${grandchildren.length} viewers below the killed relay's children moved in stripe 0`)
  assert.ok(moved.size <= grandchildren.length / 4, `${moved.size} of ${grandchildren.length} viewers below the killed relay's children left their stripe-0 parent`)
})
