// NAT traversal on the in-process network behind in-memory routers (test/helpers/memory-nat.ts),
// in virtual time: observed-address reports and the NAT kind they give, introductions that punch
// a hole between two port-restricted cones (and the control without them, where the hello dies),
// symmetric peers kept out of the addresses we hand out, and keepalives.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ObservedAddresses, REPORT_TTL_MS, classify } from '../../src/mesh/nat/observed-address.ts'
import { reachableFirst } from '../../src/mesh/nat/reachable-first.ts'
import { KEEPALIVE_AFTER_MS } from '../../src/mesh/nat/keepalive.ts'
import { decodeDatagram } from '../../src/mesh/messages.ts'
import { NattedTransport, memoryNatLab } from '../helpers/memory-nat.ts'

const lab = memoryNatLab

describe('observed addresses and the NAT kind', () => {
  it('classifies from reports: own address, agreeing mappings, differing ones, a single report by its port', () => {
    const self = (a: string) => a === '10.0.0.2:4000'
    assert.equal(classify([], self, 4000).kind, 'unknown')
    assert.equal(classify(['10.0.0.2:4000'], self, 4000).kind, 'none')
    assert.deepEqual(classify(['198.51.100.7:4000', '198.51.100.7:4000'], self, 4000), { kind: 'cone', publicAddress: '198.51.100.7:4000', observers: 2 })
    assert.equal(classify(['198.51.100.7:4000', '198.51.100.7:4001'], self, 4000).kind, 'symmetric')
    assert.equal(classify(['198.51.100.7:4000'], self, 4000).kind, 'cone')
    assert.equal(classify(['198.51.100.7:61234'], self, 4000).kind, 'symmetric')
    // A peer on our own LAN sees our private address; the outside decides.
    assert.equal(classify(['10.0.0.2:4000', '198.51.100.7:4000', '198.51.100.7:4000'], self, 4000).kind, 'cone')
  })

  it('a cone that moved our mapping (a rebinding) stays a cone: the moved peer\'s report drops the old address\'s', () => {
    const clock = { now: () => 0 }
    const seen = (observers: string[]) => {
      const o = new ObservedAddresses({ clock, isSelf: (a) => a === '10.0.0.2:4000', localAddress: () => '10.0.0.2:4000' })
      for (const p of observers) o.report(p, '198.51.100.7:4000')
      return o
    }
    // One observer: its report of a new port (not our socket's) was taken for a symmetric NAT.
    const one = seen(['203.0.113.1:1'])
    assert.equal(one.view().kind, 'cone')
    assert.deepEqual(one.report('203.0.113.1:1', '198.51.100.7:61000'), { kind: 'cone', publicAddress: '198.51.100.7:61000', observers: 1 })
    // Three: the two that have not written since still saw the old address, for REPORT_TTL_MS.
    const three = seen(['203.0.113.1:1', '203.0.113.2:1', '203.0.113.3:1'])
    assert.equal(three.report('203.0.113.1:1', '198.51.100.7:61000').kind, 'cone')
    assert.equal(three.report('203.0.113.2:1', '198.51.100.7:61000').kind, 'cone')
    // A symmetric NAT still shows as one: each peer sees its own mapping, and one of them moving
    // leaves the others' apart.
    const sym = new ObservedAddresses({ clock, isSelf: () => false, localAddress: () => '10.0.0.2:4000' })
    sym.report('203.0.113.1:1', '198.51.100.7:5001')
    sym.report('203.0.113.2:1', '198.51.100.7:5002')
    assert.equal(sym.report('203.0.113.1:1', '198.51.100.7:5003').kind, 'symmetric')
    // And a single report of a moved port from a NAT never taken for a cone still reads symmetric.
    const fresh = new ObservedAddresses({ clock, isSelf: () => false, localAddress: () => '10.0.0.2:4000' })
    assert.equal(fresh.report('203.0.113.1:1', '198.51.100.7:61000').kind, 'symmetric')
    assert.equal(fresh.report('203.0.113.1:1', '198.51.100.7:61001').kind, 'symmetric')
  })

  it('a liar cannot erase a symmetric NAT\'s disagreement, and a rebinding\'s allowance lapses with the reports', () => {
    let now = 0
    const clock = { now: () => now }
    // Two honest peers see a symmetric NAT's two mappings; a liar names the first one's address,
    // then the second's: its "move" must not erase the first peer's report (the review of the
    // rebinding fix read a cone here).
    const sym = new ObservedAddresses({ clock, isSelf: () => false, localAddress: () => '10.0.0.2:4000' })
    sym.report('203.0.113.1:1', '198.51.100.7:5001')
    sym.report('203.0.113.2:1', '198.51.100.7:5002')
    sym.report('203.0.113.66:1', '198.51.100.7:5001')
    assert.equal(sym.report('203.0.113.66:1', '198.51.100.7:5002').kind, 'symmetric')
    // A cone that rebound reads a lone moved port as a cone only while the move is recent: once
    // every report has lapsed and been renewed, a node that now sits behind a symmetric NAT (one
    // observer, a port not its socket's) reads symmetric again.
    const moved = new ObservedAddresses({ clock, isSelf: () => false, localAddress: () => '10.0.0.2:4000' })
    moved.report('203.0.113.1:1', '198.51.100.7:4000')
    assert.equal(moved.report('203.0.113.1:1', '198.51.100.7:61000').kind, 'cone')
    now += REPORT_TTL_MS + 1
    assert.equal(moved.report('203.0.113.9:1', '198.51.100.9:62000').kind, 'symmetric')
  })

  it('two public peers tell a public node, a cone node and a symmetric node what they are', async (t) => {
    const l = lab()
    t.after(l.close)
    const p1 = await l.add(l.net.createTransport())
    const p2 = await l.add(l.net.createTransport())
    const coneT = new NattedTransport(l.net, 'cone')
    const symT = new NattedTransport(l.net, 'symmetric')
    const cone = await l.add(coneT, [p1.node.address, p2.node.address])
    const sym = await l.add(symT, [p1.node.address, p2.node.address])
    // p1 hears of p2 through the others' peer lists only after a probe; introduce them directly.
    p1.node.send(p2.node.address, [{ type: 'PleaseReturnThisMessage', value: 0 }])
    await l.timers.runFor(3000)
    await l.timers.runFor(6000)
    assert.equal(cone.node.nat.kind, 'cone')
    assert.equal(cone.node.nat.publicAddress, coneT.publicAddressTowards(p1.node.address))
    assert.equal(cone.nat!.status().observers, 2)
    assert.equal(sym.node.nat.kind, 'symmetric')
    assert.notEqual(symT.publicAddressTowards(p1.node.address), symT.publicAddressTowards(p2.node.address))
    assert.equal(p1.node.nat.kind, 'none')
    // The cone's public mapping is now one of its own addresses (never greeted, never hinted).
    assert.ok(cone.node.isSelf(coneT.publicAddressTowards(p1.node.address)!))
    // Peers learned the kinds they were told.
    assert.equal(p1.node.peers.get(symT.publicAddressTowards(p1.node.address)!)?.nat, 'symmetric')
    assert.equal(p1.node.peers.get(coneT.publicAddressTowards(p1.node.address)!)?.nat, 'cone')
    // Behind the symmetric NAT, peers that proved their address (so a path exists) are asked first.
    const stranger = '127.0.0.1:9'
    assert.deepEqual(reachableFirst(sym.node, [stranger, p2.node.address]), [p2.node.address, stranger])
    assert.deepEqual(reachableFirst(cone.node, [stranger, p2.node.address]), [stranger, p2.node.address])
  })
})

describe('introductions', () => {
  async function twoCones(traversal: boolean) {
    const l = lab({ traversal })
    const intro = await l.add(l.net.createTransport())
    const bT = new NattedTransport(l.net, 'cone')
    const b = await l.add(bT, [intro.node.address])
    await l.timers.runFor(2000)
    // A starts later: the introducer's peer list names B to A (B is never told of A).
    const aT = new NattedTransport(l.net, 'cone')
    const a = await l.add(aT, [intro.node.address])
    await l.timers.runFor(2000)
    const bPublic = bT.publicAddressTowards(intro.node.address)!
    const aPublic = aT.publicAddressTowards(intro.node.address)!
    assert.ok(a.node.peers.get(bPublic), 'the introducer told A about B')
    // A greets B, as a stream join does with a parent candidate it has never talked to.
    a.node.send(bPublic, [{ type: 'PleaseReturnThisMessage', value: l.timers.now() }])
    await l.timers.runFor(3000)
    return { l, a, b, aT, bT, intro, aPublic, bPublic }
  }

  it('a peer both talk to introduces two port-restricted cones: both prove each other within a round trip or two', async (t) => {
    const { l, a, b, aPublic, bPublic, intro } = await twoCones(true)
    t.after(l.close)
    assert.equal(a.node.peers.get(bPublic)?.verified, true, 'A proved B')
    assert.equal(b.node.peers.get(aPublic)?.verified, true, 'B proved A')
    assert.equal(a.nat!.introductions.counters.asked, 1)
    assert.equal(intro.nat!.introductions.counters.introduced, 1)
    assert.equal(b.nat!.introductions.counters.hellos, 1)
  })

  it('control: without introductions A\'s hello dies in B\'s NAT and neither proves the other', async (t) => {
    const { l, a, b, bT, aPublic, bPublic } = await twoCones(false)
    t.after(l.close)
    assert.notEqual(a.node.peers.get(bPublic)?.verified, true)
    assert.equal(b.node.peers.get(aPublic), undefined, 'B never heard A')
    assert.ok(bT.filtered >= 1, 'B\'s router dropped A\'s hello')
  })

  it('refuses to introduce an asker that has not proven its address', async (t) => {
    const l = lab()
    t.after(l.close)
    const intro = await l.add(l.net.createTransport())
    const b = await l.add(new NattedTransport(l.net, 'cone'), [intro.node.address])
    await l.timers.runFor(2000)
    const stranger = l.net.createTransport()
    const bPublic = [...intro.node.peers.all()].find((p) => p.verified)!.addr
    stranger.send(Buffer.from(JSON.stringify([{ PleaseIntroduceMe: { to: bPublic } }])), intro.node.address)
    await l.timers.runFor(1000)
    assert.equal(intro.nat!.introductions.counters.introduced, 0)
    assert.equal(intro.nat!.introductions.counters.refused, 1)
    assert.equal(b.nat!.introductions.counters.hellos, 0)
    void stranger.close()
  })
})

describe('symmetric peers and keepalives', () => {
  it('a peer that says it is behind a symmetric NAT is left out of every address list we hand out', async (t) => {
    const l = lab()
    t.after(l.close)
    const pub = await l.add(l.net.createTransport())
    const symT = new NattedTransport(l.net, 'symmetric')
    await l.add(symT, [pub.node.address])
    const cone = await l.add(new NattedTransport(l.net, 'cone'), [pub.node.address])
    await l.timers.runFor(3000)
    const symAddr = symT.publicAddressTowards(pub.node.address)!
    assert.equal(pub.node.peers.get(symAddr)?.nat, 'symmetric')
    // The cone asks for peers: it hears of nobody it could not reach.
    const heard: string[][] = []
    const raw = l.net.createTransport()
    raw.onDatagram((buf) => { const d = decodeDatagram(buf); if (d.ok) for (const m of d.messages) if (m.type === 'Peers') heard.push(m.peers) })
    pub.node.peers.touch(raw.address, 'heard').verified = true
    pub.node.send(raw.address, [{ type: 'Peers', peers: [symAddr, cone.node.address] }])
    await l.timers.runFor(100)
    assert.deepEqual(heard, [[cone.node.address]])
    void raw.close()
  })

  it('behind a NAT an idle proven peer gets a keepalive well inside 30 s; a public node sends none', async (t) => {
    const l = lab()
    t.after(l.close)
    const pub = await l.add(l.net.createTransport())
    const coneT = new NattedTransport(l.net, 'cone')
    const cone = await l.add(coneT, [pub.node.address])
    await l.timers.runFor(3000)
    assert.equal(cone.node.nat.kind, 'cone')
    const pubSide = pub.node.peers.get(coneT.publicAddressTowards(pub.node.address)!)!
    const heardAt = pubSide.lastHeard
    await l.timers.runFor(KEEPALIVE_AFTER_MS + 6000)
    assert.ok(cone.nat!.status().keepalives >= 1)
    assert.ok(pubSide.lastHeard > heardAt, 'the public peer heard the NATed one again before 30 s')
    assert.equal(pub.nat!.status().keepalives, 0)
  })
})

describe('LAN-mates', () => {
  it('two viewers behind one public host but on different LANs (a carrier-grade NAT) are not each other\'s LAN-mates', async (t) => {
    // Every in-process mapping is an endpoint of one host (127.0.0.1), each router's LAN its own
    // /24 (10.0.x.2): what a carrier-grade NAT in front of two homes looks like. A symmetric viewer
    // handed to such a "mate" for a stripe (stream-policy.ts decideChild) asked a LAN address it
    // cannot reach.
    const l = lab()
    t.after(l.close)
    const pub = await l.add(l.net.createTransport())
    const a = new NattedTransport(l.net, 'cone')
    const b = new NattedTransport(l.net, 'cone')
    await l.add(a, [pub.node.address])
    await l.add(b, [pub.node.address])
    await l.timers.runFor(10_000)
    const atA = a.publicAddressTowards(pub.node.address)!
    const atB = b.publicAddressTowards(pub.node.address)!
    assert.equal(atA.split(':')[0], atB.split(':')[0], 'one public host')
    assert.ok(pub.node.peers.get(atA)?.local !== undefined && pub.node.peers.get(atB)?.local !== undefined, 'both told their LAN address')
    assert.deepEqual(pub.node.lanMates(atA), [])
    assert.deepEqual(pub.node.lanMates(atB), [])
    // Control: had b told a LAN address on a's /24, they would be mates (the memory NAT gives each
    // router a LAN of its own, so b's entry is moved there by hand).
    const onALan = pub.node.peers.get(atA)!.local!.replace(/\.2:/, '.3:')
    pub.node.peers.get(atB)!.local = onALan
    assert.deepEqual(pub.node.lanMates(atA), [{ at: atB, local: onALan }])
  })
})
