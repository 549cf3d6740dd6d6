// Issue 12, session 10: the source's catch-ups. A newcomer that takes the source's one place in a
// stripe from a child the source fed (a push-down) used to get the stripe's recent chunks from the
// source (CATCHUP_CHUNKS / STRIPES of them): in the simulator's join waves half the source's
// catch-ups, every chunk of them held by the child pushed down. That child now pushes the newcomer
// its catch-up, and the source sends nothing; should it not (gone, or lying), the newcomer asks
// the source again and gets what the source would have sent at once, no more. On virtual time with
// the shipped nodes: the first viewer takes every stripe, the second, interior elsewhere, pushes
// it down in its own stripe.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { holes, virtualSwarm } from '../helpers/virtual-swarm.ts'
import { Withholding } from '../helpers/withholding-transport.ts'
import { decodeDatagram, encodeDatagram, STRIPES, type Message } from '../../src/mesh/messages.ts'
import { CjNode } from '../../src/mesh/node.ts'
import type { Transport } from '../../src/mesh/transport.ts'
import { CATCHUP_CHUNKS, RESUBSCRIBE_MS, interiorStripe } from '../../src/mesh/stream-policy.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'
import type { SwarmMember, VirtualSwarm } from '../../src/sim/virtual-swarm.ts'

interface Run { sim: VirtualSwarm; relay: SwarmMember; newcomer: SwarmMember; stripe: number; catchUpBefore: number; asked: number[] }

/** The first viewer (`gives`: whether it gives the newcomer its catch-up, nothing of the stripe,
 * or the first block of each chunk), then one interior in another stripe. */
async function pushDown(t: TestContext, gives: boolean | 'first blocks'): Promise<Run> {
  const sim = await virtualSwarm(t, { seed: 3, link: { delayMs: 10, loss: 0 } })
  await sim.runFor(4000)
  let withholding: Withholding | undefined
  const relay = await sim.join(undefined, { wrap: (inner) => (withholding = new Withholding(inner)) })
  await sim.runFor(2000)
  const src = () => sim.status(sim.source)!
  assert.ok(src().children.every((c) => c.length === 1 && c[0] === relay.node.address), 'the first viewer is the source\'s child in every stripe')
  const catchUpBefore = src().uploadedBy.catchup ?? 0
  const newcomer = await sim.join()
  const stripe = interiorStripe(newcomer.node.address)
  if (gives !== true) Object.assign(withholding!, { to: newcomer.node.address, stripe, firstBlocks: gives === 'first blocks' })
  assert.notEqual(stripe, interiorStripe(relay.node.address), 'the seed gives a newcomer interior in another stripe than the relay')
  await sim.runFor(3000)
  assert.deepEqual(src().children[stripe], [newcomer.node.address], 'the newcomer took the source\'s place in its interior stripe')
  return { sim, relay, newcomer, stripe, catchUpBefore, asked: withholding!.askedToHandOver }
}

/** The newcomer's chunks of `stripe` from its start to 2 s before the end it does not hold. */
function stripeHoles(r: Run): number[] {
  const upTo = r.sim.status(r.newcomer)!.head!.chunks - 2 * STRIPES
  return holes(r.sim, r.newcomer, upTo).filter((n) => n % STRIPES === r.stripe)
}

test('a newcomer that pushes down a child the source fed gets its catch-up from that child, not from the source', async (t) => {
  const r = await pushDown(t, true)
  const src = r.sim.status(r.sim.source)!
  const sent = (src.uploadedBy.catchup ?? 0) - r.catchUpBefore
  t.diagnostic(`the source sent the newcomer ${sent / CHUNK_SIZE} catch-up chunks; the relay ${(r.sim.status(r.relay)!.uploadedBy.catchup ?? 0) / CHUNK_SIZE}`)
  assert.equal(sent, 0, `the source sent the newcomer ${sent / CHUNK_SIZE} catch-up chunks`)
  assert.ok((r.sim.status(r.relay)!.uploadedBy.catchup ?? 0) > 0, 'the child pushed down pushed the newcomer its catch-up')
  assert.deepEqual(stripeHoles(r), [], 'the newcomer holds every chunk of its stripe from its start')
})

test('a child that keeps the catch-up to itself costs the newcomer a wait, and the source one catch-up', async (t) => {
  const r = await pushDown(t, false)
  const src = r.sim.status(r.sim.source)!
  const sent = (src.uploadedBy.catchup ?? 0) - r.catchUpBefore
  t.diagnostic(`the source sent the newcomer ${sent / CHUNK_SIZE} catch-up chunks`)
  assert.deepEqual(r.asked, [r.stripe], 'the source asked the child it pushed down to hand the newcomer its catch-up')
  assert.ok(sent > 0, 'the catch-up the child withheld came from the source')
  assert.ok(sent <= (CATCHUP_CHUNKS / STRIPES) * CHUNK_SIZE, `the source sent ${sent / CHUNK_SIZE} chunks, more than one catch-up (${CATCHUP_CHUNKS / STRIPES})`)
  assert.deepEqual(stripeHoles(r), [], 'the newcomer holds every chunk of its stripe from its start')
})

test('a child that sends one block of each chunk of the catch-up has not given it: the source sends it', async (t) => {
  // Counted as its blocks arrived, the blocks looked like every chunk handed over, and the newcomer
  // did not ask the source again (it pulled the rest, block by block).
  const r = await pushDown(t, 'first blocks')
  const sent = (r.sim.status(r.sim.source)!.uploadedBy.catchup ?? 0) - r.catchUpBefore
  t.diagnostic(`the source sent the newcomer ${sent / CHUNK_SIZE} catch-up chunks`)
  assert.deepEqual(r.asked, [r.stripe], 'the source asked the child it pushed down to hand the newcomer its catch-up')
  assert.ok(sent > 0, 'the catch-up the child gave one block of came from the source')
  assert.ok(sent <= (CATCHUP_CHUNKS / STRIPES) * CHUNK_SIZE, `the source sent ${sent / CHUNK_SIZE} chunks, more than one catch-up (${CATCHUP_CHUNKS / STRIPES})`)
  assert.deepEqual(stripeHoles(r), [], 'the newcomer holds every chunk of its stripe from its start')
})

/** Adds `extra` to the next datagram it sends `to`: a relay that forges what only the source says. */
class Forging implements Transport {
  to: string | undefined
  extra: Message[] | undefined
  constructor(private inner: Transport) {}
  get address(): string { return this.inner.address }
  close(): Promise<void> { return this.inner.close() }
  onDatagram(fn: (buf: Buffer, from: string) => void): void { this.inner.onDatagram(fn) }
  send(buf: Buffer, to: string): void {
    const d = decodeDatagram(buf)
    if (to !== this.to || this.extra === undefined || !d.ok) return this.inner.send(buf, to)
    this.inner.send(encodeDatagram([...d.messages, ...this.extra]), to)
    this.extra = undefined
  }
}

/** Counts the Content datagrams that reach it from `from`. */
class Counting implements Transport {
  from: string | undefined
  contents = 0
  constructor(private inner: Transport) {}
  get address(): string { return this.inner.address }
  close(): Promise<void> { return this.inner.close() }
  send(buf: Buffer, to: string): void { this.inner.send(buf, to) }
  onDatagram(fn: (buf: Buffer, from: string) => void): void {
    this.inner.onDatagram((buf, from) => {
      const d = decodeDatagram(buf)
      if (from === this.from && d.ok && d.messages.some((m) => m.type === 'Content')) this.contents++
      fn(buf, from)
    })
  }
}

test('a relay that is not the source cannot aim a catch-up hand-over at a node of its choosing', async (t) => {
  const sim = await virtualSwarm(t, { seed: 3, link: { delayMs: 10, loss: 0 } })
  await sim.runFor(4000)
  let forging: Forging | undefined
  const relay = await sim.join(undefined, { wrap: (inner) => (forging = new Forging(inner)) })
  await sim.runFor(2000)
  const viewer = await sim.join()
  await sim.runFor(3000)
  const parents = sim.status(viewer)!.parents
  const stripe = parents.findIndex((p) => p === relay.node.address)
  assert.ok(stripe >= 0, 'the relay is the viewer\'s parent in some stripe')
  // A bystander: a cjp2p node of ours that watches nothing, so it never asks anyone for chunks.
  const counting = new Counting(sim.net.createTransport())
  const bystander = new CjNode({ transport: counting, timers: sim.timers }, { bootstrap: [], secret: Buffer.alloc(32, 7) })
  await bystander.start()
  counting.from = viewer.node.address
  Object.assign(forging!, { to: viewer.node.address, extra: [{ type: 'AskThemInstead', id: sim.id, stripe, peers: [bystander.address], handOver: sim.status(viewer)!.startChunk }] })
  await sim.runFor(3000)
  await bystander.close()
  assert.equal(forging!.extra, undefined, 'the forged push-down went out')
  assert.equal(counting.contents, 0, `the viewer pushed the bystander ${counting.contents} datagrams of chunks on a relay's word`)
})

/** Records, for each chunk of `stripe` that reaches it, who sent its first block; and when it
 * subscribed to `stripe` at `to`, and heard its yes handing the catch-up over (on `now`'s clock). */
class Senders implements Transport {
  stripe = -1
  to = ''
  readonly by = new Map<number, Set<string>>()
  readonly asked: number[] = []
  readonly yes: number[] = []
  constructor(private inner: Transport, private now: () => number) {}
  get address(): string { return this.inner.address }
  close(): Promise<void> { return this.inner.close() }
  send(buf: Buffer, to: string): void {
    const d = decodeDatagram(buf)
    if (d.ok && to === this.to) for (const m of d.messages) if (m.type === 'PleaseKeepSendingMe' && m.stripe === this.stripe) this.asked.push(this.now())
    this.inner.send(buf, to)
  }
  onDatagram(fn: (buf: Buffer, from: string) => void): void {
    this.inner.onDatagram((buf, from) => {
      const d = decodeDatagram(buf)
      if (d.ok) {
        for (const m of d.messages) {
          if (m.type === 'IWillKeepSendingYou' && m.stripe === this.stripe && from === this.to && m.catchUpBy !== undefined) this.yes.push(this.now())
          if (m.type !== 'Content' || m.offset % CHUNK_SIZE !== 0) continue
          const n = Math.floor(m.offset / CHUNK_SIZE)
          if (n % STRIPES !== this.stripe) continue
          if (!this.by.has(n)) this.by.set(n, new Set())
          this.by.get(n)!.add(from)
        }
      }
      fn(buf, from)
    })
  }
}

test('when the source sends the first part of a catch-up itself and hands over the rest, the newcomer does not ask it for the rest again', async (t) => {
  // The source took the relay back in every stripe a moment ago (it had told the source to stop,
  // then subscribed again): it holds the stripes only from then on, so the newcomer that pushes it
  // down gets the older part of its catch-up from the source and the newer from the relay. Counted
  // among what the relay was to give, the source's part made the relay's look like less than half,
  // and the newcomer asked the source again HAND_OVER_MS after its yes.
  const sim = await virtualSwarm(t, { seed: 3, link: { delayMs: 10, loss: 0 } })
  await sim.runFor(4000)
  let forging: Forging | undefined
  const relay = await sim.join(undefined, { wrap: (inner) => (forging = new Forging(inner)) })
  await sim.runFor(4000)
  const source = sim.source.node.address
  Object.assign(forging!, { to: source, extra: Array.from({ length: STRIPES }, (_, s): Message => ({ type: 'StopSendingMe', id: sim.id, stripe: s })) })
  await sim.runFor(1000)
  assert.ok(sim.status(sim.source)!.children.every((c) => c.length === 1 && c[0] === relay.node.address), 'the relay is the source\'s child again in every stripe')
  let senders: Senders | undefined
  const newcomer = await sim.join(undefined, { wrap: (inner) => (senders = new Senders(inner, () => sim.timers.now())) })
  const stripe = interiorStripe(newcomer.node.address)
  Object.assign(senders!, { stripe, to: source })
  await sim.runFor(3000)
  assert.deepEqual(sim.status(sim.source)!.children[stripe], [newcomer.node.address], 'the newcomer took the source\'s place in its interior stripe')
  const fromSource = [...senders!.by].filter(([, s]) => s.has(source)).map(([n]) => n)
  const fromRelay = [...senders!.by].filter(([, s]) => s.has(relay.node.address)).map(([n]) => n)
  const yes = senders!.yes[0]
  const again = senders!.asked.filter((at) => at > yes).map((at) => at - yes)
  t.diagnostic(`chunks of stripe ${stripe}: from the source ${fromSource.join(' ')}; from the relay ${fromRelay.join(' ')}; asked the source again ${again.join(', ')} ms after its yes`)
  assert.ok(yes !== undefined, 'the source handed the catch-up over')
  assert.ok(fromRelay.length > 0, 'the relay gave the newcomer part of its catch-up')
  assert.ok(fromSource.some((n) => n < Math.min(...fromRelay)), 'the source sent the part before the relay\'s itself')
  // Its next subscription there is the keepalive, RESUBSCRIBE_MS after the yes.
  assert.ok(again.every((ms) => ms >= RESUBSCRIBE_MS), `the newcomer asked the source again ${again.join(', ')} ms after its yes`)
})
