// Issue 12's scheduler rules, as pure decisions and on a real swarm on virtual time: a viewer takes
// only the children its upload carries (--max-upload) and asks to be a leaf; a joiner's start-up
// buffer never escalates to the source; a pulled chunk goes down the stripe; the wire flags round-trip.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { STRIPES, decodeDatagram, encodeDatagram, type Message } from '../../src/mesh/messages.ts'
import type { Transport } from '../../src/mesh/transport.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'
import { FANOUT, URGENT_MS, TRIES_BEFORE_SOURCE, decideChild, interiorStripe, planRepairs } from '../../src/mesh/stream-policy.ts'
import type { ParentState } from '../../src/mesh/stream-policy.ts'
import { streamBytesPerSecond } from '../../src/mesh/stream/children.ts'
import { virtualSwarm } from '../helpers/virtual-swarm.ts'
import type { SwarmMember } from '../../src/sim/virtual-swarm.ts'

function addrIn(stripe: number, skip = 0): string {
  for (let p = 1000; ; p++) {
    const a = `127.0.0.1:${p}`
    if (interiorStripe(a) === stripe && skip-- === 0) return a
  }
}
const sets = (...lists: string[][]) => Array.from({ length: STRIPES }, (_, i) => new Set(lists[i] ?? []))

test('a viewer takes no more children than its upload carries, and pushes a newcomer in only by pushing one down', () => {
  const self = addrIn(0)
  const base: ParentState = { isSource: false, self, children: sets(), receiving: () => true }
  assert.equal(decideChild({ ...base, maxChildren: 0 }, { from: addrIn(0, 1), stripe: 0 }, []).accept, false, 'no upload, no child')
  assert.equal(decideChild({ ...base, maxChildren: 1 }, { from: addrIn(0, 1), stripe: 0 }, []).accept, true)
  const full = sets([addrIn(1, 1)])
  const d = decideChild({ ...base, children: full, maxChildren: 1 }, { from: addrIn(0, 2), stripe: 0 }, [])
  assert.deepEqual(d, { accept: true, evict: addrIn(1, 1) }, 'an interior newcomer replaces a leaf child: still one child')
  const leafAsks = decideChild({ ...base, children: full, maxChildren: 1 }, { from: addrIn(0, 2), stripe: 0, leaf: true }, [])
  assert.equal(leafAsks.accept, false, 'a newcomer that said it is a leaf is not pushed in')
  // Without a cap the interior rule stands: FANOUT children in the interior stripe.
  const many = sets(Array.from({ length: FANOUT - 1 }, (_, i) => addrIn(1, i + 3)))
  assert.equal(decideChild({ ...base, children: many }, { from: addrIn(2, 9), stripe: 0 }, []).accept, true)
})

test('push-down evicts a child that said it is a leaf even when its address is interior in the stripe', () => {
  const src: ParentState = { isSource: true, self: 'S', children: sets([addrIn(0, 1)]), receiving: () => true, leaves: new Set([addrIn(0, 1)]) }
  assert.deepEqual(decideChild(src, { from: addrIn(0, 2), stripe: 0 }, []), { accept: true, evict: addrIn(0, 1) })
  assert.equal(decideChild({ ...src, leaves: new Set() }, { from: addrIn(0, 2), stripe: 0 }, []).accept, false, 'an interior child stays')
})

test("a joiner's start-up buffer is never urgent enough for the source; a live chunk is", () => {
  const now = 100_000
  const base = {
    now, inFlight: new Map([[7, { peer: 'A', at: now - 10_000, tries: TRIES_BEFORE_SOURCE + 2 }]]),
    holders: () => ['A'], source: 'S', sourceBudgetChunks: 0, rttMs: () => 50,
  }
  const missing = (backfill: boolean) => [{ n: 7, deadline: now + URGENT_MS / 2, knownSince: now - 10_000, backfill }]
  assert.deepEqual(planRepairs({ ...base, missing: missing(false) }), [{ n: 7, peer: 'S' }], 'urgent live chunk the holders failed: the source')
  assert.deepEqual(planRepairs({ ...base, missing: missing(true) }), [{ n: 7, peer: 'A' }], 'start-up buffer: holders only')
})

test('the repaired and leaf flags survive the wire; anything else in them is ignored', () => {
  const data = Buffer.from('abc')
  const decoded = (buf: Buffer) => { const r = decodeDatagram(buf); assert.ok(r.ok); return r.messages }
  const [content, sub] = decoded(encodeDatagram([
    { type: 'Content', id: 'stream/x', offset: 0, data, hops: 2, repaired: true },
    { type: 'PleaseKeepSendingMe', id: 'stream/x', stripe: 1, from: 5, leaf: true },
  ]))
  assert.equal(content.type === 'Content' && content.repaired, true)
  assert.equal(sub.type === 'PleaseKeepSendingMe' && sub.leaf, true)
  const odd = decoded(Buffer.from(JSON.stringify([{ Content: { id: 'stream/x', offset: 0, base64: 'YWJj', repaired: 'yes' } }, { PleaseKeepSendingMe: { id: 'stream/x', stripe: 1, from: 5, leaf: 1 } }])))
  assert.equal(odd.length, 2, 'a malformed flag drops the flag, not the message')
  assert.equal(odd[0].type === 'Content' && odd[0].repaired, undefined)
  assert.equal(odd[1].type === 'PleaseKeepSendingMe' && odd[1].leaf, undefined)
})

test('the stream rate comes from the records of the last chunks', () => {
  const recs = new Map(Array.from({ length: 40 }, (_, n) => [n, { time: n * 100, length: 16_384 }]))
  assert.equal(streamBytesPerSecond({ chunkRecord: (n) => recs.get(n) }, 40), 163_840)
  assert.equal(streamBytesPerSecond({ chunkRecord: () => undefined }, 40), undefined)
  // A viewer missing every other record reads the same stream, not half of it.
  assert.equal(streamBytesPerSecond({ chunkRecord: (n) => (n % 2 === 0 ? recs.get(n) : undefined) }, 40), 163_840)
})

test('on virtual time: viewers capped at a twentieth of the stream carry no child, and everyone still plays', async (t) => {
  const sim = await virtualSwarm(t, { seed: 5, link: { delayMs: 10, loss: 0 } })
  await sim.runFor(4000)
  const weak: SwarmMember[] = []
  const strong: SwarmMember[] = []
  for (let i = 0; i < 24; i++) {
    if (i % 4 === 1) weak.push(await sim.join(undefined, { uploadCapacity: 0.05 }))
    else strong.push(await sim.join())
    await sim.runFor(150)
  }
  for (let k = 0; k < 20; k++) {
    await sim.runFor(1000)
    for (const m of weak) {
      const st = sim.status(m)!
      assert.equal(st.children.flat().length, 0, `weak viewer ${m.slot} has no children at ${k} s`)
    }
  }
  for (const m of [...weak, ...strong]) {
    const st = sim.status(m)!
    assert.ok(st.verifiedChunks > 100, `viewer ${m.slot} plays (${st.verifiedChunks} chunks)`)
  }
  const src = sim.status(sim.source)!
  assert.ok(src.copiesUploaded < 2.5, `the source still uploads about a copy (${src.copiesUploaded.toFixed(2)})`)
})

test('on virtual time: a chunk a relay pulled goes on down its stripe, flagged as a repair', async (t) => {
  const sim = await virtualSwarm(t, { seed: 3, link: { delayMs: 10, loss: 0.04 } })
  await sim.runFor(4000)
  let repaired = 0
  const members: SwarmMember[] = []
  for (let i = 0; i < 24; i++) {
    const m = await sim.join()
    const swarm = sim.swarm(m)
    const onContent = swarm.onContent.bind(swarm)
    swarm.onContent = (msg, ctx) => { if (msg.repaired) repaired++; onContent(msg, ctx) }
    members.push(m)
    await sim.runFor(150)
  }
  await sim.runFor(20_000)
  assert.ok(repaired > 0, 'repairs travelled down the trees')
  for (const m of members) assert.ok(sim.status(m)!.verifiedChunks > 100, `viewer ${m.slot} plays`)
})

/** Wraps a member's endpoint: what it sends, decoded, goes to `sent`; datagrams that bring it
 * chunk data are dropped when `starve` says so. */
function tap(sent: (m: Message) => void, starve: () => boolean = () => false) {
  return (inner: Transport): Transport => ({
    get address() { return inner.address },
    onDatagram: (fn) => inner.onDatagram((buf, from) => {
      const r = decodeDatagram(buf)
      if (starve() && r.ok && r.messages.some((m) => m.type === 'Content')) return
      fn(buf, from)
    }),
    send: (buf, to) => {
      const r = decodeDatagram(buf)
      if (r.ok) r.messages.forEach(sent)
      inner.send(buf, to)
    },
    close: () => inner.close(),
  })
}

test('on virtual time: a viewer whose cap carries a copy of the stream asks as a relay, one that carries less asks to be a leaf', async (t) => {
  const sim = await virtualSwarm(t, { seed: 5, link: { delayMs: 10, loss: 0 } })
  await sim.runFor(4000)
  for (let i = 0; i < 6; i++) { await sim.join(); await sim.runFor(150) }
  const asks = { two: [] as boolean[], one: [] as boolean[] }
  const record = (into: boolean[]) => tap((m) => { if (m.type === 'PleaseKeepSendingMe') into.push(m.leaf === true) })
  // Two copies carry five children of a quarter copy each (a stripe), once a tenth is kept for
  // repairs: more than one per stripe. One copy carries two.
  const two = await sim.join(undefined, { uploadCapacity: 2, wrap: record(asks.two) })
  await sim.join(undefined, { uploadCapacity: 1, wrap: record(asks.one) })
  await sim.runFor(6000)
  assert.equal(sim.swarm(two).status().role, 'viewer')
  const late = (a: boolean[]) => a.slice(Math.floor(a.length / 2))
  assert.ok(asks.two.length > 4 && late(asks.two).every((leaf) => !leaf), `the two-copy viewer asks as a relay: ${asks.two}`)
  assert.ok(asks.one.length > 4 && late(asks.one).every((leaf) => leaf), `the one-copy viewer asks to be a leaf: ${asks.one}`)
})

test('on virtual time: a capped viewer that misses everything asks at most twice a second for each chunk the stream makes a second', async (t) => {
  const sim = await virtualSwarm(t, { seed: 2, link: { delayMs: 10, loss: 0 } })
  await sim.runFor(4000)
  for (let i = 0; i < 8; i++) { await sim.join(); await sim.runFor(150) }
  let starving = false
  let requests = 0
  // Every chunk that comes to it is lost on its way in: every holder it asks answers, and the
  // answers never arrive, so each missing chunk is asked again as soon as its timeout allows.
  const m = await sim.join(undefined, { uploadCapacity: 2, wrap: tap((msg) => { if (starving && msg.type === 'PleaseSendContent') requests++ }, () => starving) })
  await sim.runFor(5000)
  starving = true
  await sim.runFor(10_000)
  const chunksPerSecond = 2_000_000 / 8 / CHUNK_SIZE
  // Two asks per chunk-second over 10 s, the bucket's burst, and a request's block ranges.
  assert.ok(requests > 0 && requests <= 2 * chunksPerSecond * 10 * 1.2 + 16, `${requests} requests in 10 s`)
  assert.ok(sim.status(m)!.verifiedChunks > 0)
})
