// Room told is room claimed (PleaseKeepSendingMe.room/below): a parent only orders its redirects by
// it. A liar claiming huge room draws newcomers that it then refuses (they go on down the list), and
// can make nobody upload more: the source still takes one child a stripe and serves pulls within
// its own budget. On virtual time with the shipped nodes: weak viewers that claim every place
// there is, in every subscription, against the same swarm without them.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { virtualSwarm } from '../helpers/virtual-swarm.ts'
import { MAX_ROOM, STRIPES, decodeDatagram, encodeDatagram } from '../../src/mesh/messages.ts'
import type { Message } from '../../src/mesh/messages.ts'
import type { Transport } from '../../src/mesh/transport.ts'
import { decideChild, interiorStripe } from '../../src/mesh/stream-policy.ts'
import type { SwarmMember, VirtualSwarm } from '../../src/sim/virtual-swarm.ts'

/** Every subscription it sends claims all the room there is, and no `leaf`. */
class ClaimingTransport implements Transport {
  constructor(private inner: Transport) {}
  get address(): string { return this.inner.address }
  onDatagram(fn: (buf: Buffer, from: string) => void): void { this.inner.onDatagram(fn) }
  close(): Promise<void> { return this.inner.close() }
  send(buf: Buffer, to: string): void {
    const d = decodeDatagram(buf)
    if (!d.ok || !d.messages.some((m) => m.type === 'PleaseKeepSendingMe')) return this.inner.send(buf, to)
    const out = d.messages.map((m): Message => {
      if (m.type !== 'PleaseKeepSendingMe') return m
      const { leaf: _leaf, ...rest } = m
      return { ...rest, room: MAX_ROOM, below: MAX_ROOM }
    })
    this.inner.send(encodeDatagram(out), to)
  }
}

function addrIn(stripe: number, skip = 0): string {
  for (let p = 1000; ; p++) {
    const a = `127.0.0.1:${p}`
    if (interiorStripe(a) === stripe && skip-- === 0) return a
  }
}

test('the source takes one child a stripe whatever its child claims; the claim only orders its redirects', () => {
  const liar = addrIn(1, 0)
  const honest = addrIn(0, 1)
  const children = Array.from({ length: STRIPES }, (_, i) => new Set(i === 0 ? [liar] : []))
  const d = decideChild({ isSource: true, self: 'S', children, receiving: () => true, roomOf: (a) => (a === liar ? { room: MAX_ROOM, below: MAX_ROOM } : undefined) },
    { from: addrIn(2, 2), stripe: 0, leaf: true }, [honest])
  assert.equal(d.accept, false, 'no second child at the source')
  assert.deepEqual(!d.accept && d.tryInstead, [liar, honest], 'the claimed room puts the liar first in the redirect, and that is all')
})

async function run(t: TestContext, liars: number): Promise<{ copies: number; honest: SwarmMember[]; liarMembers: SwarmMember[]; sim: VirtualSwarm }> {
  const sim = await virtualSwarm(t, { seed: 4, link: { delayMs: 10, loss: 0 } })
  await sim.runFor(4000)
  const honest: SwarmMember[] = []
  const liarMembers: SwarmMember[] = []
  for (let i = 0; i < 30; i++) {
    // Liars join early, so that the source's and the first relays' redirects have them to list.
    if (i % 7 === 1 && liarMembers.length < liars) liarMembers.push(await sim.join(undefined, { uploadCapacity: 0.05, wrap: (inner) => new ClaimingTransport(inner) }))
    else honest.push(await sim.join())
    await sim.runFor(150)
  }
  await sim.runFor(20_000)
  t.diagnostic(`${liars} liars: honest without a parent ${honest.map((m) => sim.status(m)!.parents.filter((p) => p === null).length).join('')}`)
  return { copies: sim.status(sim.source)!.copiesUploaded, honest, liarMembers, sim }
}

test('on virtual time: viewers that claim all the room there is make the source upload no more, and take no children', async (t) => {
  const clean = await run(t, 0)
  const lied = await run(t, 4)
  t.diagnostic(`source copies: ${clean.copies.toFixed(3)} without liars, ${lied.copies.toFixed(3)} with 4 claiming ${MAX_ROOM} places`)
  assert.equal(lied.liarMembers.length, 4)
  assert.ok(lied.copies <= clean.copies + 0.3, `the source uploaded ${lied.copies.toFixed(3)} copies with the liars, ${clean.copies.toFixed(3)} without`)
  for (const m of lied.liarMembers) assert.equal(lied.sim.status(m)!.children.flat().length, 0, 'a liar carries only what its cap carries: nobody')
  for (const m of lied.honest) {
    const st = lied.sim.status(m)!
    assert.ok(st.parents.every((p) => p !== null), `honest viewer ${m.slot} has a parent in every stripe`)
    assert.ok(st.verifiedChunks > 100, `honest viewer ${m.slot} plays (${st.verifiedChunks} chunks)`)
  }
})
