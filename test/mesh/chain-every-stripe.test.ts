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
