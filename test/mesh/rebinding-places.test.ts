// A relay behind a cone NAT that moves it to a new port (a rebinding) keeps its places and what
// the source fed it, so the source's one place per stripe still goes by the usual rules: on virtual
// time with the shipped nodes, the first viewer (behind the cone) is the source's child in every
// stripe, its router rebinds, then a newcomer interior in another stripe joins. It pushes the
// moved relay down in its own stripe only, and the relay, moved with its catch-up start
// (Children.moved re-keys fedFrom), hands the newcomer its catch-up: the source sends none. Before,
// the single report of a moved port made the relay take itself for symmetric, the source counted
// it apart from the tree's places, and the newcomer took all four with a catch-up from the source.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { NatTraversal } from '../../src/mesh/nat/nat-traversal.ts'
import { generateStreamKey } from '../../src/store/keys.ts'
import { CATCHUP_CHUNKS, interiorStripe } from '../../src/mesh/stream-policy.ts'
import { STRIPES } from '../../src/mesh/messages.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'
import { Withholding } from '../helpers/withholding-transport.ts'
import { NattedTransport } from '../helpers/memory-nat.ts'
import { virtualSwarm } from '../helpers/virtual-swarm.ts'

test('a relay whose NAT rebound keeps its places at the source, and hands a newcomer that pushes it down its catch-up', async (t) => {
  const sim = await virtualSwarm(t, { seed: 1, link: { delayMs: 10, loss: 0 } })
  const home = new NattedTransport(sim.net, 'cone')
  await sim.runFor(4000)
  const relay = await sim.join(undefined, { transport: home })
  const nats = [sim.source.node, relay.node].map((node) => new NatTraversal({ node, key: generateStreamKey() }))
  try {
    for (const n of nats) n.start()
    await sim.runFor(4000)
    const src = sim.source.node.address
    const status = () => sim.status(sim.source)!
    const before = home.publicAddressTowards(src)!
    assert.deepEqual(status().children, [[before], [before], [before], [before]], 'the first viewer is the source\'s child in every stripe')
    assert.equal(relay.node.nat.kind, 'cone')
    home.rebind()
    await sim.runFor(3000)
    const after = home.publicAddressTowards(src)!
    assert.notEqual(after, before, 'the router moved the relay to a new port')
    assert.equal(nats[0].keys?.counters.moved, 1, 'the source saw the relay\'s key at its new address')
    assert.equal(relay.node.nat.kind, 'cone', 'a cone that moved the mapping is still a cone')
    assert.deepEqual(status().children, [[after], [after], [after], [after]], 'its places moved with it')

    const newcomer = await sim.join()
    nats.push(new NatTraversal({ node: newcomer.node, key: generateStreamKey() }))
    nats[2].start()
    const stripe = interiorStripe(newcomer.node.address)
    assert.notEqual(stripe, interiorStripe(after), 'the seed gives a newcomer interior in another stripe than the moved relay')
    const catchUpBefore = status().uploadedBy.catchup ?? 0
    await sim.runFor(3000)
    const expected = [0, 1, 2, 3].map((s) => [s === stripe ? newcomer.node.address : after])
    assert.deepEqual(status().children, expected, 'the newcomer took the source\'s place in its own interior stripe, no other')
    const sent = (status().uploadedBy.catchup ?? 0) - catchUpBefore
    assert.equal(sent, 0, `the source sent the newcomer ${sent} bytes of catch-up itself`)
    assert.ok((sim.status(relay)!.uploadedBy.catchup ?? 0) > 0, 'the moved relay pushed the newcomer its catch-up')
  } finally {
    for (const n of nats) n.close()
  }
})

test('a newcomer whose NAT rebinds right after the source handed its catch-up over still gets it from the source when the giver withholds it', async (t) => {
  const sim = await virtualSwarm(t, { seed: 3, link: { delayMs: 10, loss: 0 } })
  await sim.runFor(4000)
  let withholding: Withholding | undefined
  const relay = await sim.join(undefined, { wrap: (inner) => (withholding = new Withholding(inner)) })
  await sim.runFor(2000)
  const status = () => sim.status(sim.source)!
  const home = new NattedTransport(sim.net, 'cone')
  const nats = [new NatTraversal({ node: sim.source.node, key: generateStreamKey() })]
  try {
    nats[0].start()
    const catchUpBefore = status().uploadedBy.catchup ?? 0
    const newcomer = await sim.join(undefined, { transport: home })
    nats.push(new NatTraversal({ node: newcomer.node, key: generateStreamKey() }))
    nats[1].start()
    const src = sim.source.node.address
    const at = () => home.publicAddressTowards(src)
    const stripe = interiorStripe(at() ?? '')
    Object.assign(withholding!, { to: at(), stripe })
    assert.notEqual(stripe, interiorStripe(relay.node.address), 'the seed gives a newcomer interior in another stripe than the relay')
    // The source's yes, which hands the catch-up over to the relay, then at once the rebinding.
    for (let i = 0; i < 100 && !status().children[stripe].includes(at()!); i++) await sim.runFor(10)
    assert.deepEqual(status().children[stripe], [at()], 'the newcomer took the source\'s place in its interior stripe')
    const before = at()
    home.rebind()
    await sim.runFor(4000)
    assert.notEqual(at(), before, 'the router moved the newcomer to a new port')
    assert.equal(nats[0].keys?.counters.moved, 1, 'the source saw the newcomer\'s key at its new address')
    const sent = (status().uploadedBy.catchup ?? 0) - catchUpBefore
    t.diagnostic(`the source sent the newcomer ${sent / CHUNK_SIZE} catch-up chunks`)
    // What the source owed it (Children.owed) moved with it: asked again from its new port, the
    // source sends the catch-up the relay withheld, once.
    assert.ok(sent > 0, 'the catch-up the relay withheld came from the source')
    assert.ok(sent <= (CATCHUP_CHUNKS / STRIPES) * CHUNK_SIZE, `the source sent ${sent / CHUNK_SIZE} chunks, more than one catch-up`)
  } finally {
    for (const n of nats) n.close()
  }
})
