// A chain of viewers, each knowing only the one before (as `npm run latency` starts its relays),
// carries every stripe down the chain as pushes, even a stripe that no viewer in it is interior in
// (interiorStripe: a hash of its address). With two spare child slots a viewer fed three of its
// non-interior stripes' children and refused the fourth: that stripe had no parent below the
// first relay and every chunk of it was pulled, 0.2-0.4 s late per relay (issue #14).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { holes, publishedBefore, virtualSwarm } from '../helpers/virtual-swarm.ts'
import { interiorStripe } from '../../src/mesh/stream-policy.ts'
import { STRIPES } from '../../src/mesh/messages.ts'
import type { SwarmMember } from '../../src/sim/virtual-swarm.ts'
import type { Transport } from '../../src/mesh/transport.ts'

test('a chain of viewers all interior in the same stripe still pushes every other stripe down the chain', async (t) => {
  const sim = await virtualSwarm(t)
  await sim.runFor(3000)
  // Endpoints on addresses all interior in stripe 3; the others are left unused. Each viewer then
  // has to feed the next one in stripes 0-2 from its spare slots.
  const transports: Transport[] = []
  while (transports.length < 5) {
    const tr = sim.net.createTransport()
    if (interiorStripe(tr.address) === 3) transports.push(tr)
  }
  const chain: SwarmMember[] = []
  for (const tr of transports) {
    chain.push(await sim.join([chain.at(-1)?.node.address ?? sim.source.node.address], { transport: tr }))
    await sim.runFor(1000)
  }
  // Joining pulls a start-up buffer; after that, pulls are repairs only.
  await sim.runFor(5000)
  const served = (cause: 'pull' | 'push') => chain.reduce((sum, v) => sum + (sim.swarm(v).status().uploadedBy[cause] ?? 0), 0)
  const before = { pull: served('pull'), push: served('push') }
  await sim.runFor(25_000)
  const upTo = publishedBefore(sim, 3000)
  const interior = new Set(chain.map((v) => interiorStripe(v.node.address)))
  assert.deepEqual([...interior], [3], 'everyone in the chain is interior in stripe 3 only')
  for (const [i, v] of chain.entries()) {
    const st = sim.swarm(v).status()
    t.diagnostic(`viewer ${i}: parents ${st.parents.join(' ')}; delay p50 ${st.delayMs.p50} p95 ${st.delayMs.p95} ms; uploaded ${JSON.stringify(st.uploadedBy)}`)
    assert.deepEqual(holes(sim, v, upTo), [], `viewer ${i} has every chunk`)
    for (let s = 0; s < STRIPES; s++) assert.ok(st.parents[s] !== null, `viewer ${i} has a parent in stripe ${s}`)
  }
  // With every stripe pushed down the chain, nothing is pulled once it formed (there is no loss).
  const pulled = served('pull') - before.pull
  const pushed = served('push') - before.push
  assert.ok(pulled < pushed / 50, `the chain served ${pulled} bytes by pull against ${pushed} pushed in its last 25 s`)
})

// The same chain over a lossy link, at two seeds where it went wrong (issue #14: "relays without a
// parent in one stripe"; test/mesh/chain-source-stripe.test.ts has the same under jitter). Seed 8:
// the last relay's parent had its spare places taken and sent it to the source, whose address
// hashes interior in that stripe but which keeps one child a stripe: no parent for the whole run.
// Seed 3: one push lost made the last relay leave its parent, the only node with room, and it did
// not ask it again for FAILED_RELAY_MS: 16 of 20 samples without.
for (const seed of [3, 8]) {
  test(`a chain over a lossy link keeps a parent in every stripe (seed ${seed})`, async (t) => {
    const sim = await virtualSwarm(t, { seed, link: { delayMs: 5, loss: 0.03 } })
    await sim.runFor(3000)
    const chain: SwarmMember[] = []
    for (const skip of [1, 4, 2, 0, 3]) {
      // Addresses with gaps, for a mix of interior stripes along the chain (2, 1, 1, 2, 2).
      for (let k = 0; k < skip; k++) sim.net.createTransport()
      chain.push(await sim.join([chain.at(-1)?.node.address ?? sim.source.node.address], { transport: sim.net.createTransport() }))
      await sim.runFor(300)
    }
    await sim.runFor(10_000)
    const without = chain.map(() => new Array<number>(STRIPES).fill(0))
    const SAMPLES = 20
    for (let k = 0; k < SAMPLES; k++) {
      await sim.runFor(500)
      chain.forEach((v, i) => sim.swarm(v).status().parents.forEach((p, s) => { if (p === null) without[i][s]++ }))
    }
    t.diagnostic(`samples without a parent, per viewer per stripe: ${without.map((w) => w.join('/')).join('  ')}`)
    // A parent lost to a lost push is found again within a second or two; a stripe left for good is not.
    for (const [i, w] of without.entries()) for (let s = 0; s < STRIPES; s++) {
      assert.ok(w[s] <= SAMPLES / 4, `viewer ${i} had no parent in stripe ${s} in ${w[s]} of ${SAMPLES} samples over 10 s`)
    }
  })
}
