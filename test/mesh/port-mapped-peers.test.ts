// A node whose router forwards its port (a port mapping) says so, and its peers count it as
// reachable by anyone; the source then sends a viewer behind a symmetric NAT to such a viewer
// instead of feeding it from a leaf place of its own. In virtual time on the in-memory NAT lab;
// the real gateway and swarm are in test/e2e/port-mapping.test.ts and test/e2e/nat-port-mapped.test.ts.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { CAME_BACK_MS, CAME_BACK_TIMES, SentToReachable, reachableAs } from '../../src/mesh/nat/reachability.ts'
import { STRIPES, decodeDatagram } from '../../src/mesh/messages.ts'
import { decideChild, type ParentState } from '../../src/mesh/stream-policy.ts'
import type { NatKind } from '../../src/mesh/messages.ts'
import { NattedTransport, memoryNatLab } from '../helpers/memory-nat.ts'

describe('a mapped node announces its mapping', () => {
  it('peers learn it at the address they know it by, forget it when the mapping goes, and ignore another address', async (t) => {
    const l = memoryNatLab()
    t.after(l.close)
    const p1 = await l.add(l.net.createTransport())
    const p2 = await l.add(l.net.createTransport())
    const coneT = new NattedTransport(l.net, 'cone')
    const cone = await l.add(coneT, [p1.node.address, p2.node.address])
    await l.timers.runFor(9000)
    assert.equal(cone.node.nat.kind, 'cone')
    const at = coneT.publicAddressTowards(p1.node.address)!
    const seen = () => p1.node.peers.get(at)
    assert.equal(seen()?.nat, 'cone')
    assert.equal(reachableAs(seen()), 'cone', 'the control: a cone without a mapping needs a hole punch')

    cone.nat!.setMapped(at)
    await l.timers.runFor(100)
    assert.equal(seen()?.mapped, true)
    assert.equal(reachableAs(seen()), 'none', 'mapped: reachable by anyone, like a node without a NAT')
    assert.equal(seen()?.nat, 'cone', 'what it told of its NAT is kept')

    cone.nat!.setMapped(null)
    await l.timers.runFor(100)
    assert.equal(reachableAs(seen()), 'cone', 'the mapping lost: a cone again')

    // A router that forwards another port than the one its NAT gives the node's traffic: not where
    // we know the node, so not reachable there by our reckoning.
    const port = Number(at.slice(at.lastIndexOf(':') + 1))
    cone.nat!.setMapped(`${at.slice(0, at.lastIndexOf(':'))}:${port === 65535 ? 1 : port + 1}`)
    await l.timers.runFor(100)
    assert.equal(reachableAs(seen()), 'cone')
  })

  it('the wire field is an address or nothing', () => {
    const decode = (body: object) => decodeDatagram(Buffer.from(JSON.stringify([{ IAmBehind: body }])))
    assert.deepEqual(decode({ nat: 'cone', mapped: '10.213.64.101:4000' }), { ok: true, messages: [{ type: 'IAmBehind', nat: 'cone', mapped: '10.213.64.101:4000' }], skipped: { unknown: 0, bad: 0 } })
    assert.deepEqual(decode({ nat: 'cone', mapped: 'not an address' }), { ok: true, messages: [{ type: 'IAmBehind', nat: 'cone' }], skipped: { unknown: 0, bad: 0 } })
  })
})

describe('the source and viewers behind symmetric NATs', () => {
  const sets = () => Array.from({ length: STRIPES }, () => new Set<string>())
  const sym = '10.213.70.11:4000'
  const mapped = '10.213.64.101:4001'
  const cone = '10.213.64.102:4002'
  const source = (nat: Record<string, NatKind>): ParentState => ({ isSource: true, self: 'S', children: sets(), receiving: () => true, natOf: (a) => nat[a] })

  it('sends a newcomer to a viewer anyone can reach, when it knows one', () => {
    const d = decideChild(source({ [sym]: 'symmetric', [mapped]: 'none', [cone]: 'cone' }), { from: sym, stripe: 0 }, [cone, mapped])
    assert.ok(!d.accept && d.tryInstead[0] === mapped, JSON.stringify(d))
  })

  it('control: knowing only cones, the source feeds it from a leaf place', () => {
    assert.deepEqual(decideChild(source({ [sym]: 'symmetric', [mapped]: 'cone', [cone]: 'cone' }), { from: sym, stripe: 0 }, [cone, mapped]), { accept: true })
  })

  it('moves a symmetric child it already feeds to a viewer that can reach it (at its renewal), and the mapped viewer takes it as a leaf child', () => {
    const st = source({ [sym]: 'symmetric', [mapped]: 'none' })
    ;(st.children[0] as Set<string>).add(sym)
    // The source's leaf place is the last resort, also for a child it took before the mapped
    // viewer came along (or before a birthday punch reached it: src/mesh/nat/reachability.ts).
    assert.deepEqual(decideChild(st, { from: sym, stripe: 0 }, [mapped]), { accept: false, tryInstead: [mapped] })
    const alone = source({ [sym]: 'symmetric' })
    ;(alone.children[0] as Set<string>).add(sym)
    assert.deepEqual(decideChild(alone, { from: sym, stripe: 0 }, []), { accept: true }, 'control: with nobody that reaches it, it stays')
    const viewer: ParentState = { isSource: false, self: mapped, children: sets(), receiving: () => true, natOf: (a) => (a === sym ? 'symmetric' : undefined) }
    assert.deepEqual(decideChild(viewer, { from: sym, stripe: 0 }, []), { accept: true })
  })

  /** The source, knowing one mapped viewer, asked by the symmetric viewer for stripe 0 at `now`. */
  const sourceAsked = () => {
    const peers = new Map<string, { nat: NatKind; mapped?: boolean }>([[sym, { nat: 'symmetric' }], [mapped, { nat: 'cone', mapped: true }]])
    const peer = (a: string) => peers.get(a)
    const sent = new SentToReachable()
    return (now: number) => {
      const natOf = sent.natOf(peer, sym, 0, now)
      const d = decideChild({ isSource: true, self: 'S', children: sets(), receiving: () => true, natOf }, { from: sym, stripe: 0 }, [mapped])
      if (!d.accept) sent.note(sym, 0, d.tryInstead, natOf, now)
      return d
    }
  }

  it('a viewer that comes back from the reachable viewers it was sent to gets a leaf place at the source', () => {
    const ask = sourceAsked()
    for (let i = 0; i < CAME_BACK_TIMES; i++) {
      const d = ask(1000 + i * 3000)
      assert.ok(!d.accept && d.tryInstead[0] === mapped, `round ${i + 1}: sent to the mapped viewer`)
    }
    const lastAsk = 1000 + (CAME_BACK_TIMES - 1) * 3000
    assert.deepEqual(ask(1000 + CAME_BACK_TIMES * 3000), { accept: true }, 'back again within the window: fed by the source')
    assert.ok(!ask(lastAsk + CAME_BACK_MS + 1).accept, 'long after its last return: sent to the mapped viewer again')
  })

  it('slow rounds still come back: each return within CAME_BACK_MS of the one before counts', () => {
    const ask = sourceAsked()
    // Rounds of 20 s: three of them span more than CAME_BACK_MS from the first.
    const round = (2 * CAME_BACK_MS) / 3
    for (let i = 0; i < CAME_BACK_TIMES; i++) assert.ok(!ask(1000 + i * round).accept, `round ${i + 1}: sent to the mapped viewer`)
    assert.deepEqual(ask(1000 + CAME_BACK_TIMES * round), { accept: true }, 'its fourth ask, 20 s after the third: fed by the source')
  })
})
