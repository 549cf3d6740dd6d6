// Where the source puts viewers behind symmetric NATs once a birthday punch reached them, on the
// in-process network in virtual time with the shipped swarm and NAT code (test/helpers/memory-nat.ts
// models the routers). A public source, six viewers behind port-restricted cones and two behind
// symmetric routers of their own: the source introduces each symmetric viewer to a cone viewer, the
// punch meets, and from then on the cone viewers feed the symmetric ones in every stripe, the source
// only the tops of its trees (NAT lab, session 9: the move happened in one stripe of four, the one
// where the punched cone viewer was the source's own child, and the source fed the rest).
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { NatTraversal } from '../../src/mesh/nat/nat-traversal.ts'
import { STRIPES } from '../../src/mesh/messages.ts'
import { NattedTransport } from '../helpers/memory-nat.ts'
import { holes, virtualSwarm } from '../helpers/virtual-swarm.ts'

describe('the source and viewers behind symmetric NATs that a birthday punch reached', () => {
  it('moves them to the cone viewers it introduced them to, in every stripe, and uploads about one copy once they are there', async (t) => {
    const sim = await virtualSwarm(t, { link: { delayMs: 10, loss: 0 }, bitrateBps: 1_000_000 })
    const nats = [new NatTraversal({ node: sim.source.node })]
    const publicAt = new Map<number, string>()
    const join = async (kind: 'cone' | 'symmetric') => {
      const router = new NattedTransport(sim.net, kind)
      const v = await sim.join(undefined, { transport: router })
      // A cone router keeps one public address for every destination.
      if (kind === 'cone') publicAt.set(v.slot, router.publicAddressTowards(sim.source.node.address)!)
      // Side sockets for a punch sit behind a router of their own kind (the hard side's, symmetric).
      nats.push(new NatTraversal({ node: v.node, openSocket: async () => new NattedTransport(sim.net, 'symmetric') }))
      await sim.runFor(250)
      return v
    }
    // Closed before the swarm is (its teardown counts the timers left).
    try {
      nats[0].start()
      const cones = []
      for (let i = 0; i < 6; i++) cones.push(await join('cone'))
      const syms = [await join('symmetric'), await join('symmetric')]
      for (const n of nats.slice(1)) n.start()
      await sim.runFor(25_000)
      const src = sim.source.node.address
      for (const v of syms) {
        assert.equal(v.node.nat.kind, 'symmetric')
        assert.ok(v.node.sidePeers().length >= 1, 'a birthday punch met')
      }
      // Counted from here: every punch has met and settled.
      const before = sim.status(sim.source)!
      const fedBefore = Object.fromEntries(Object.entries(before.fedTo))
      await sim.runFor(15_000)
      const after = sim.status(sim.source)!
      // In every stripe that a cone viewer it punched receives, a symmetric viewer is fed by one of
      // them, not by the source. (A cone viewer of this small swarm may find no place in a stripe
      // for a while; then the source's leaf place is the symmetric viewer's right fallback.)
      let moved = 0
      for (const v of syms) {
        const punched = v.node.sidePeers()
        const parents = sim.status(v)!.parents
        for (let s = 0; s < STRIPES; s++) {
          const reach = cones.filter((c) => punched.includes(publicAt.get(c.slot)!) && sim.status(c)!.parents[s] !== null)
          if (reach.length === 0) continue
          assert.ok(parents[s] !== null && parents[s] !== src && punched.includes(parents[s]!), `stripe ${s}: fed by a punched cone viewer (${punched}), not ${parents[s]}`)
          moved++
        }
      }
      assert.ok(moved >= 2 * STRIPES - 2, `the symmetric viewers are fed by punched cone viewers in nearly every stripe (${moved} of ${2 * STRIPES})`)
      const symChildren = after.children.map((set) => set.filter((a) => sim.source.node.peers.get(a)?.nat === 'symmetric'))
      assert.ok(symChildren.flat().length <= 2 * STRIPES - moved, `the source feeds symmetric viewers only where nobody else can: ${JSON.stringify(after.children)}`)
      const copies = (after.uploadedBytes - before.uploadedBytes) / (after.producedBytes - before.producedBytes)
      // Chunks the source sent the symmetric viewers (by the address each one has at the source).
      const toSyms = Object.entries(after.fedTo).filter(([a]) => sim.source.node.peers.get(a)?.nat === 'symmetric').reduce((n, [a, c]) => n + c - (fedBefore[a] ?? 0), 0)
      process.stderr.write(`source copies over the last 15 s: ${copies.toFixed(3)}; chunks to symmetric viewers ${toSyms}\n`)
      assert.ok(copies <= 1.15, `the source uploads about one copy: ${copies.toFixed(3)}`)
      // And they play: nothing missing up to the chunks published a second ago.
      const upTo = sim.source.log.head()!.chunks - 8
      for (const v of [...cones, ...syms]) assert.deepEqual(holes(sim, v, upTo), [], `viewer ${v.slot} holds every chunk`)
    } finally {
      for (const n of nats) n.close()
    }
  })
})
