// The telemetry's cost at a busy parent, on virtual time: real AudienceReporters (a relay and its
// stripe-0 children, the swarm faked down to what a reporter reads), stream bytes arriving at
// 2 Mb/s, chunk delays verified at every node, and children moving in and out. Whatever the
// number of children, the relay's telemetry (sent and taken) stays within 1 % of its stream bytes
// (audience-grants.ts), and so does every child's.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Ctx } from '../../../src/mesh/node.ts'
import type { Message, MessageOf } from '../../../src/mesh/messages.ts'
import { AudienceReporter, type AudienceComponents } from '../../../src/mesh/telemetry/audience-reporter.ts'
import { BURST_BYTES, DEFAULT_SHARE, KIDS_SHARE, UP_SHARE } from '../../../src/mesh/telemetry/audience-grants.ts'
import { ChunkPace } from '../../../src/mesh/stream/chunk-pace.ts'

const BYTES_PER_SECOND = 250_000
const CHUNK_MS = 64 // 16 KiB chunks at 2 Mb/s
const TICK_MS = 50
const SOURCE = '127.0.0.1:5000'
const RELAY = '127.0.0.1:5001'

interface Member { addr: string; reporter: AudienceReporter; totals: { receivedBytes: number; uploadedBytes: number; receivedFromSourceBytes: number; producedBytes: number }; onDelay: (ageMs: number, hops: number) => void; parent: string | undefined; kids: Set<string> }

/** `olderBuilds`: members that send no grants, as a build from before them (their grants are dropped). */
function swarm(clock: { t: number }, start: number, seed: number, olderBuilds: ReadonlySet<string> = new Set()) {
  const members = new Map<string, Member>()
  let rnd = seed
  const random = () => { rnd = (rnd * 1103515245 + 12345) % 2 ** 31; return rnd / 2 ** 31 }
  // Every message between members is delivered at once, as the swarm's handlers would (a grant to
  // a build without grants is dropped, as its decoder would drop an unknown type).
  const deliver = (to: string, from: string, m: Message) => {
    const r = members.get(to)?.reporter as (AudienceReporter & { onGrant?: (m: Message, ctx: Ctx) => void }) | undefined
    if (!r || (m.type === 'TellMeYourAudienceAtMost' && olderBuilds.has(from))) return
    if (m.type === 'HereIsMyAudience') r.onAudience(m, { from } as Ctx)
    else if (m.type === 'TellMeYourAudienceAtMost') r.onGrant?.(m, { from } as Ctx)
  }
  const add = (addr: string, parent: string | undefined, hops: number): Member => {
    const totals = { receivedBytes: 0, uploadedBytes: 0, receivedFromSourceBytes: 0, producedBytes: 0 }
    const stats = { totals, onDelay: undefined as undefined | ((ageMs: number, hops: number) => void) }
    const m: Member = { addr, totals, parent, kids: new Set(), onDelay: () => {}, reporter: undefined as unknown as AudienceReporter }
    m.reporter = new AudienceReporter({
      context: {
        id: 'stream/x', isSource: false, role: 'relay', sourceAddrs: new Set([SOURCE]), pace: new ChunkPace(),
        node: {
          timers: { now: () => clock.t, random }, nat: { kind: 'cone' },
          send: (to: string, msgs: Message[]) => { for (const x of msgs) deliver(to, addr, x); return 1 },
          peers: { get: () => ({ lastHeard: clock.t }) },
        },
        log: { chunkRecord: (n: number) => ({ time: start + n * CHUNK_MS }), hasChunk: () => true },
        edge: { joinedAt: start, startChunk: 0, get maxKnown() { return Math.floor((clock.t - start) / CHUNK_MS) } },
      },
      stats, children: { reporting: () => m.kids, reportsHere: (a: string) => m.kids.has(a) }, parents: { reportParent: () => m.parent },
    } as unknown as AudienceComponents)
    m.onDelay = (age) => stats.onDelay!(age, hops)
    members.set(addr, m)
    return m
  }
  return { members, add, random }
}

interface RunOptions {
  /** The relay is a build that never grants. */
  relayIsOlder?: boolean
  /** The stream's rate. */
  bytesPerSecond?: number
  /** Children of the relay's first child (kept through the churn): its full summary lists them. */
  grandkids?: number
  /** When to start reading each child's telemetry rate (`rates`, and the relay's, `relayRate`). */
  rateFromMs?: number
  /** No child replaced every 5 s. */
  steady?: boolean
  /** The stream arrives in whole chunks of this many bytes, as it does, rather than evenly each tick. */
  chunkBytes?: number
}

/** Runs a relay with `children` stripe-0 children for `seconds`, one child replaced every 5 s. */
function run(children: number, seconds: number, seed: number, o: RunOptions = {}) {
  const start = Date.UTC(2026, 0, 1)
  const clock = { t: start }
  const rate = o.bytesPerSecond ?? BYTES_PER_SECOND
  const { members, add, random } = swarm(clock, start, seed, new Set(o.relayIsOlder ? [RELAY] : []))
  const relay = add(RELAY, SOURCE, 1)
  // The relay's parent, the source, grants it what its own budget allows (a build without grants ignores this).
  ;(relay.reporter as AudienceReporter & { onGrant?: (m: MessageOf<'TellMeYourAudienceAtMost'>, ctx: Ctx) => void })
    .onGrant?.({ type: 'TellMeYourAudienceAtMost', id: 'stream/x', bytesPerSecond: 1e6 }, { from: SOURCE } as Ctx)
  let next = 0
  const join = (parent = relay) => { const a = `127.0.0.1:${6000 + next++}`; add(a, parent.addr, parent === relay ? 2 : 3); parent.kids.add(a); return a }
  for (let i = 0; i < children; i++) join()
  const first = members.get([...relay.kids][0])!
  for (let i = 0; i < (o.grandkids ?? 0); i++) join(first)
  const from = new Map<string, { sent: number; taken: number; received: number }>()
  let due = 0
  for (let t = 0; t < seconds * 1000; t += TICK_MS) {
    clock.t += TICK_MS
    if (t === o.rateFromMs) for (const m of members.values()) from.set(m.addr, { sent: m.reporter.traffic.sentBytes, taken: m.reporter.traffic.receivedBytes, received: m.totals.receivedBytes })
    due += (rate * TICK_MS) / 1000
    const arrived = o.chunkBytes ? Math.floor(due / o.chunkBytes) * o.chunkBytes : due
    due -= arrived
    for (const m of members.values()) {
      if (m.parent === undefined && m.addr !== RELAY) continue
      m.totals.receivedBytes += arrived
      // Each chunk verified 40-400 ms after it was published: the summaries carry delay histograms.
      if (t % CHUNK_MS < TICK_MS) m.onDelay(40 + Math.floor(random() * 360), 0)
    }
    if (!o.steady && t > 0 && t % 5000 === 0) {
      // A child moves elsewhere (its parent drops it) and a newcomer takes its place.
      const gone = [...relay.kids].filter((a) => a !== first.addr)[Math.floor(random() * (relay.kids.size - 1))]
      relay.kids.delete(gone)
      members.get(gone)!.parent = undefined
      join()
    }
    for (const m of members.values()) m.reporter.tick(clock.t)
  }
  const share = (m: Member) => (m.reporter.traffic.sentBytes + m.reporter.traffic.receivedBytes) / m.totals.receivedBytes
  const kids = [...relay.kids].map((a) => members.get(a)!)
  // What each child present since `rateFromMs` sent, over the stream bytes it received since.
  const rates = kids.filter((m) => from.has(m.addr)).map((m) => (m.reporter.traffic.sentBytes - from.get(m.addr)!.sent) / (m.totals.receivedBytes - from.get(m.addr)!.received))
  const was = from.get(RELAY)
  const relayRate = was && (relay.reporter.traffic.sentBytes - was.sent + relay.reporter.traffic.receivedBytes - was.taken) / (relay.totals.receivedBytes - was.received)
  // Children that heard a grant (the only telemetry a child takes in).
  const granted = kids.filter((m) => m.reporter.traffic.received > 0).length
  return { relay: share(relay), relayRate, granted, worstChild: Math.max(...kids.map(share)), counted: relay.reporter.view().viewers, present: 1 + kids.length + (o.grandkids ?? 0), rates, view: relay.reporter.view(), first: first.addr }
}

for (const children of [8, 16, 32]) {
  test(`a relay with ${children} stripe-0 children moves at most 1 % of its stream bytes in telemetry over 60 s, and still counts them`, (t) => {
    const r = run(children, 60, children)
    t.diagnostic(`relay ${(r.relay * 100).toFixed(2)} %, worst child ${(r.worstChild * 100).toFixed(2)} %, counted ${r.counted} of ${r.present}`)
    assert.ok(r.relay <= 0.01, `the relay's telemetry was ${(r.relay * 100).toFixed(2)} % of its stream bytes`)
    assert.ok(r.worstChild <= 0.01, `a child's telemetry was ${(r.worstChild * 100).toFixed(2)} % of its stream bytes`)
    // The budget does not silence the subtree: all its children are counted at the end.
    assert.equal(r.counted, r.present)
  })
}

test('under a parent of an older build, which never grants, its children send it DEFAULT_SHARE from NO_GRANT_MS on, a summary over IDLE_BYTES too, and are counted', (t) => {
  // 400 kb/s: a child's summaries every 2 s want some 0.4 % of it, so the allowance binds (at
  // 2 Mb/s it did not, and this test could not tell the fallback from none). The first child has
  // 6 children of its own, listed in its full summary: more than IDLE_BYTES.
  const r = run(8, 60, 3, { relayIsOlder: true, bytesPerSecond: 50_000, grandkids: 6, rateFromMs: 10_000 })
  const pct = (x: number) => `${(x * 100).toFixed(3)} %`
  t.diagnostic(`children's rates from 10 s on ${r.rates.map(pct).join(', ')}; counted ${r.counted} of ${r.present}`)
  // Every viewer present at the end, the newest child 5 s old, is counted by the relay.
  assert.equal(r.counted, r.present)
  // From NO_GRANT_MS on each child sends the default allowance, no more (UP_SHARE, twice as much,
  // without the fallback): over 50 s, at most one burst beyond it.
  for (const x of r.rates) assert.ok(x <= DEFAULT_SHARE + BURST_BYTES / 4 / (50 * 50_000), `a child sent ${pct(x)} of its stream bytes`)
  assert.ok(r.rates.every((x) => x >= DEFAULT_SHARE / 2), `rates ${r.rates.map(pct).join(', ')}`)
  // The first child's full summary, which lists its children, is larger than IDLE_BYTES: it goes
  // on the fallback's larger burst. Whole (6 grandchildren, some 770 bytes) it is 15 s of this
  // allowance, and the list goes fitted to the bucket once the relay has dropped the last one
  // (AudienceReporter's FullSummary): the child with its subtree, and grandchildren as far as
  // they fit.
  const first = r.view.kids.find((k) => k.a === r.first)
  assert.ok(first?.v === 7 && (first.k?.length ?? 0) >= 1, JSON.stringify(r.view.kids))
  assert.ok(r.worstChild <= 0.01, `a child's telemetry was ${(r.worstChild * 100).toFixed(2)} % of its stream bytes`)
})

test('a relay whose budget pays each child less than a byte a second grants each its share, and no child falls back to the default allowance', (t) => {
  // 12.8 kb/s and 11 children: KIDS_SHARE of the stream is 10.4 B/s, 0.95 B/s each. Rounded down
  // to whole bytes that was 0: no grant went, and each child sent the relay DEFAULT_SHARE of its
  // stream from NO_GRANT_MS on, 1.1 % of the relay's stream in all once their buckets filled (a
  // child's full summary is some 770 bytes here, 8 minutes of that allowance). Read from 60 s on:
  // a newcomer's first counts (before its grant) weigh 150 s of its share here.
  const r = run(11, 1800, 5, { bytesPerSecond: 1600, steady: true, rateFromMs: 60_000 })
  const pct = (x: number) => `${(x * 100).toFixed(3)} %`
  t.diagnostic(`relay ${pct(r.relayRate!)} from 60 s on; ${r.granted} of 11 children granted; children ${r.rates.map(pct).join(', ')}`)
  assert.equal(r.granted, 11)
  assert.ok(r.relayRate! <= 0.01, `the relay's telemetry was ${pct(r.relayRate!)} of its stream bytes`)
  // Each child sends its share (and a burst at most), not the default 0.1 %.
  for (const x of r.rates) assert.ok(x <= (1.5 * KIDS_SHARE) / 11, `a child sent ${pct(x)} of its stream bytes`)
})

test('a stream that arrives in chunks pays each child its grant, not only the ticks a chunk came', (t) => {
  // 1 Mb/s in 16 KiB chunks: some 8 a 50 ms tick in 20 bring any bytes. 8 children are granted
  // KIDS_SHARE / 8 each (94 B/s), under their own UP_SHARE (250 B/s), and want more (a full
  // summary every 2 s). The bucket was fed, tick by tick, the smaller of UP_SHARE of the bytes that
  // came and the grant's 50 ms: 8 x 5 B/s, 0.03 % of the stream where the grant is 0.075 %, and in
  // the simulator the counts lagged seconds at every hop (90 of 160 counted 10 s after 40 of 200
  // viewers left with their goodbyes, at 1 Mb/s).
  const r = run(8, 60, 7, { bytesPerSecond: 125_000, chunkBytes: 16_384, steady: true, rateFromMs: 20_000 })
  const pct = (x: number) => `${(x * 100).toFixed(3)} %`
  t.diagnostic(`children's rates from 20 s on ${r.rates.map(pct).join(', ')}; relay ${pct(r.relayRate!)}`)
  const grant = KIDS_SHARE / 8
  assert.ok(grant < UP_SHARE)
  // Each child spends its grant, and no more than one full summary's savings (1 KB) beyond it over
  // the 40 s.
  const savings = 1024 / (40 * 125_000)
  for (const x of r.rates) assert.ok(x >= 0.8 * grant && x <= grant + savings, `a child sent ${pct(x)} of its stream bytes (its grant: ${pct(grant)})`)
  assert.ok(r.relayRate! <= 0.01, `the relay's telemetry was ${pct(r.relayRate!)} of its stream bytes`)
  assert.equal(r.counted, r.present)
})
