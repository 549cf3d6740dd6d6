// A stripe join greets a candidate it never talked to (a hello: the cookie round trip) before it
// asks to be taken; a hello is one datagram, and a lost one must not keep the stripe from that
// parent for long. The node refills a stranger's hello allowance after 1 s, then 2 s, 4 s ... 10 s
// (node.ts allowanceFor); counted one step late, the first retry came after 2 s, and the joins
// asked into a spent allowance meanwhile. Virtual time, in-process network.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runUntil, virtualSwarm } from '../../helpers/virtual-swarm.ts'
import type { Transport } from '../../../src/mesh/transport.ts'

/** How long the burst lasts: the hellos of every stripe, and anything else to the same peer. */
const LOST_MS = 100

/** Loses what this viewer sends `peer` for LOST_MS from its first hello (PleaseReturnThisMessage)
 * on: one lost burst, as a lossy link drops a few datagrams in a row. All of it, not the hellos
 * alone: every datagram to an unproven peer carries our cookie request, and another stripe's
 * hello, or a pull, would otherwise prove the address in its place. */
class LoseFirstHellos implements Transport {
  lostAt: number | undefined
  peer: string | undefined
  constructor(private readonly inner: Transport, private readonly now: () => number) {}
  get address(): string { return this.inner.address }
  send(buf: Buffer, to: string): void {
    if (to === this.peer && this.lostAt === undefined && buf.includes('PleaseReturnThisMessage')) this.lostAt = this.now()
    if (to === this.peer && this.lostAt !== undefined && this.now() - this.lostAt <= LOST_MS) return
    this.inner.send(buf, to)
  }
  onDatagram(fn: (buf: Buffer, from: string) => void): void { this.inner.onDatagram(fn) }
  close(): Promise<void> { return this.inner.close() }
}

test('a stripe whose hello to a new parent is lost takes that parent about a second later', async (t) => {
  const sim = await virtualSwarm(t, { seed: 1, bitrateBps: 1_000_000 })
  await sim.runFor(2000)
  const first = await sim.join()
  await runUntil(sim, () => sim.swarm(first).status().parents.every((p) => p !== null), 5000, 'first viewer takes the source as parent')
  // The second viewer is a leaf (a weak uplink): the source points it to the first viewer in
  // every stripe. With room, it would take the first viewer's place in one, and the first
  // viewer's own greeting to its new parent would prove the address both ways.
  let lossy: LoseFirstHellos | undefined
  const second = await sim.join(undefined, { uploadCapacity: 0.2, wrap: (inner) => (lossy = new LoseFirstHellos(inner, () => sim.timers.now())) })
  lossy!.peer = first.node.address
  await runUntil(sim, () => sim.swarm(second).status().parents.every((p) => p === first.node.address), 10_000, 'second viewer under the first in every stripe', 10)
  assert.notEqual(lossy!.lostAt, undefined, 'the second viewer greeted the first (and lost it)')
  const took = sim.timers.now() - lossy!.lostAt!
  t.diagnostic(`subscribed in every stripe ${took.toFixed(0)} ms after the hellos were lost`)
  assert.ok(took <= 1500, `subscribed ${took.toFixed(0)} ms after the hellos were lost`)
})
