// A relay whose stripe parent is the source, and whose stripe comes late from it: the source's own
// pace or its uplink's queue (after 20 of 100 viewers were killed, its queue held up its stripe-0
// pushes). Nobody can feed that stripe sooner: every other node has it from the source, later. Left
// for its lateness, the source's only stripe-0 child had no parent for 850 ms; every node below it
// fell silent and left its own parent in the same tick, and 59 of 80 viewers had no stripe-0 parent
// when the source read its audience (simulator, 100 viewers, 2 Mb/s, seed 3, on the path a change
// to the telemetry's grants took). The source is now held as a parent that said its feed is late, by
// the same rule (PUSHES_PER_HOLD pushes a hold). Fails without it: the relay leaves the source.
// Virtual time, in-process network.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runUntil, virtualSwarm } from '../../helpers/virtual-swarm.ts'
import type { Transport } from '../../../src/mesh/transport.ts'
import { CHUNK_SIZE } from '../../../src/store/stream-types.ts'
import { STRIPES } from '../../../src/mesh/messages.ts'

/** How long the source's stripe-0 chunks wait in its uplink's queue before they all go at once:
 * some fourteen chunks at 2 Mb/s, past the lateness that fails a relay (lateParentFails), within
 * one hold (HOLD_MS). */
const QUEUED_MS = 900

/** Holds what `from` sends us of stripe 0 (its Content datagrams) while `queued`, then lets it all
 * through in order: a queue at the sender that drains. */
class QueuedStripe implements Transport {
  from: string | undefined
  private held: Array<[Buffer, string]> = []
  private fn: ((buf: Buffer, from: string) => void) | undefined
  constructor(private readonly inner: Transport) {
    inner.onDatagram((buf, from) => {
      const offset = /"offset":(\d+)/.exec(buf.toString('latin1'))
      const stripe0 = offset !== null && Math.floor(Number(offset[1]) / CHUNK_SIZE) % STRIPES === 0
      if (from === this.from && stripe0) this.held.push([buf, from])
      else this.fn?.(buf, from)
    })
  }
  drain(): void {
    this.from = undefined
    for (const [buf, from] of this.held.splice(0)) this.fn?.(buf, from)
  }
  get address(): string { return this.inner.address }
  send(buf: Buffer, to: string): void { this.inner.send(buf, to) }
  onDatagram(fn: (buf: Buffer, from: string) => void): void { this.fn = fn }
  close(): Promise<void> { return this.inner.close() }
}

test('a relay keeps the source as its stripe parent while the source is late, and its child keeps it', async (t) => {
  const sim = await virtualSwarm(t, { seed: 1, bitrateBps: 2_000_000 })
  await sim.runFor(2000)
  let queue: QueuedStripe | undefined
  const relay = await sim.join(undefined, { wrap: (inner) => (queue = new QueuedStripe(inner)) })
  const source = sim.source.node.address
  await runUntil(sim, () => sim.swarm(relay).status().parents.every((p) => p === source), 5000, 'the relay takes the source in every stripe')
  // A leaf (a weak uplink): the source points it to the relay in every stripe.
  const leaf = await sim.join(undefined, { uploadCapacity: 0.2 })
  await runUntil(sim, () => sim.swarm(leaf).status().parents[0] === relay.node.address, 10_000, 'the leaf under the relay in stripe 0')
  // Settled: the relay has had the source's pushes for a while.
  await sim.runFor(3000)
  queue!.from = source
  let relayLeft = 0
  let leafLeft = 0
  for (let ms = 0; ms < 5000; ms += 50) {
    if (ms === QUEUED_MS) queue!.drain()
    await sim.runFor(50)
    if (sim.swarm(relay).status().parents[0] !== source) relayLeft++
    if (sim.swarm(leaf).status().parents[0] !== relay.node.address) leafLeft++
  }
  t.diagnostic(`of 100 readings: the relay away from the source ${relayLeft}, the leaf away from the relay ${leafLeft}`)
  assert.equal(relayLeft, 0, `the relay left the source in stripe 0 (${relayLeft} of 100 readings)`)
  assert.equal(leafLeft, 0, `the leaf left the relay in stripe 0 (${leafLeft} of 100 readings)`)
  // And the stripe still comes: late, not lost.
  const before = sim.swarm(leaf).status().receivedBytes
  await sim.runFor(2000)
  assert.ok(sim.swarm(leaf).status().receivedBytes > before, 'the leaf still receives')
})
