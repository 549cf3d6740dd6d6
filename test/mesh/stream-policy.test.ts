import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { STRIPES } from '../../src/mesh/messages.ts'
import {
  CHILD_TRIES_AT_SOURCE, CHRONIC_LATE_MS, FANOUT, LEAF_SLOTS, MISSED_PUSH_MS, MISSES_TO_FAIL, OWED_TWO_MS, PULLS_SERVED_PER_SECOND, PUSH_RECORD, REPAIR_GRACE_MS, REPAIR_TIMEOUT_MS, SOURCE_FANOUT, SOURCE_REPAIR_BUDGET, SOURCE_BURST_BYTES, SOURCE_CHILD_REPAIR_BUDGET, SOURCE_CHILD_BURST_BYTES, SOURCE_RESCUE_ASKER_SHARE, SOURCE_RESCUE_BUDGET, SOURCE_RESCUE_BURST_BYTES, STARTUP_MS,
  decideChild, interiorStripe, isReceiving, lateParentFails, mayServePull, planRepairs, playbackDeadline, pushOverdue, rankParents, sourceMayRepairChild, sourceMayRescue, sourceMayServe, stripeOf,
} from '../../src/mesh/stream-policy.ts'
import type { MissingChunk, ParentState, RepairState } from '../../src/mesh/stream-policy.ts'

/** An address interior in the given stripe (found by search, since the stripe is a hash). */
function addrIn(stripe: number, skip = 0): string {
  for (let p = 1000; ; p++) {
    const a = `127.0.0.1:${p}`
    if (interiorStripe(a) === stripe && skip-- === 0) return a
  }
}
const sets = (...lists: string[][]) => Array.from({ length: STRIPES }, (_, i) => new Set(lists[i] ?? []))
type Mutable = ParentState & { children: Set<string>[] }
const viewer = (self: string, children = sets(), receiving = true): Mutable => ({ isSource: false, self, children, receiving: () => receiving })

test('chunks are spread over stripes round-robin, and addresses over interior stripes', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(stripeOf), [0, 1, 2, 3, 0, 1].map((x) => x % STRIPES))
  const counts = new Array(STRIPES).fill(0)
  for (let p = 1; p <= 4000; p++) counts[interiorStripe(`10.0.${p >> 8}.${p & 255}:24254`)]++
  for (const c of counts) assert.ok(c > 4000 / STRIPES * 0.8 && c < 4000 / STRIPES * 1.2, `even spread: ${counts}`)
})

test('who gets a new chunk: the source takes one child per stripe and redirects the rest to it', () => {
  const src: Mutable = { isSource: true, self: 'S', children: sets(), receiving: () => true }
  assert.deepEqual(decideChild(src, { from: 'a', stripe: 0 }, []), { accept: true })
  src.children[0].add('a')
  assert.equal(src.children[0].size, SOURCE_FANOUT)
  const d = decideChild(src, { from: 'b', stripe: 0 }, ['c'])
  assert.equal(d.accept, false)
  assert.deepEqual(!d.accept && d.tryInstead, ['a', 'c'], 'its child first, then other holders')
  assert.deepEqual(decideChild(src, { from: 'a', stripe: 0 }, []), { accept: true }, 'a re-subscription is always kept')
})

test('who gets a new chunk: a viewer takes FANOUT children in its interior stripe, few elsewhere', () => {
  const me = addrIn(1)
  const st = viewer(me)
  const kids = Array.from({ length: FANOUT }, (_, k) => addrIn(0, k)) // leaves in stripe 1
  for (const kid of kids) {
    assert.deepEqual(decideChild(st, { from: kid, stripe: 1 }, []), { accept: true })
    st.children[1].add(kid)
  }
  const late = addrIn(2, 9) // a leaf in stripe 1: it cannot push anyone down
  const full = decideChild(st, { from: late, stripe: 1 }, [])
  assert.equal(full.accept, false)
  // Interior children of the stripe come first in the redirect: they have room for grandchildren.
  const interiorKid = addrIn(1, 3)
  st.children[1].delete(kids[0]); st.children[1].add(interiorKid)
  const again = decideChild(st, { from: late, stripe: 1 }, [])
  assert.ok(!again.accept && again.tryInstead[0] === interiorKid)
})

test('peers behind symmetric NATs are leaves: places of their own, never above anyone, never parents', () => {
  const syms = new Set(Array.from({ length: LEAF_SLOTS + 1 }, (_, k) => addrIn(0, 10 + k)))
  const natOf = (a: string) => (syms.has(a) ? 'symmetric' as const : a === 'open' ? 'none' as const : undefined)
  const src: Mutable = { isSource: true, self: 'S', children: sets(), receiving: () => true, natOf }
  const relay = addrIn(3, 0)
  src.children[0].add(relay)
  // The source is full for relays, yet takes leaves up to LEAF_SLOTS, with nobody pushed down.
  const leaves = [...syms]
  for (const l of leaves.slice(0, LEAF_SLOTS)) {
    assert.deepEqual(decideChild(src, { from: l, stripe: 0 }, []), { accept: true })
    src.children[0].add(l)
  }
  const over = decideChild(src, { from: leaves[LEAF_SLOTS], stripe: 0 }, ['x', 'open'])
  assert.ok(!over.accept && over.tryInstead[0] === 'open', 'past its leaf places a leaf is sent to a peer without a NAT first')
  assert.ok(!over.accept && !over.tryInstead.some((a) => syms.has(a)), 'leaves are never offered as parents')
  // Leaves do not count against the relays' place: an interior newcomer still pushes the relay down.
  const interior = addrIn(0, 2)
  assert.deepEqual(decideChild(src, { from: interior, stripe: 0 }, []), { accept: true, evict: relay })
  // A node that is itself behind a symmetric NAT takes no child at all.
  const me = viewer(addrIn(1))
  me.unreachable = true
  assert.equal(decideChild(me, { from: addrIn(0, 1), stripe: 1 }, []).accept, false)
})

test('symmetric viewers behind one router: the first of a stripe is fed, the others are sent to it across their LAN', () => {
  const a = '10.213.70.11:4000'
  const b = '10.213.70.12:4000'
  const pub = { a: '203.0.113.9:61001', b: '203.0.113.9:52002' }
  const local: Record<string, string> = { [pub.a]: a, [pub.b]: b }
  const natOf = () => 'symmetric' as const
  const lanMates = (addr: string) => Object.keys(local).filter((x) => x !== addr).map((at) => ({ at, local: local[at] }))
  const src: Mutable = { isSource: true, self: 'S', children: sets(), receiving: () => true, natOf, lanMates }
  // Nobody of that LAN is fed stripe 0 yet: the first asker gets a leaf place.
  assert.deepEqual(decideChild(src, { from: pub.a, stripe: 0 }, []), { accept: true })
  src.children[0].add(pub.a)
  // Its LAN-mate is sent to it, at its LAN address; in a stripe nobody of the LAN has, it is fed.
  assert.deepEqual(decideChild(src, { from: pub.b, stripe: 0 }, []), { accept: false, tryInstead: [a] })
  assert.deepEqual(decideChild(src, { from: pub.b, stripe: 1 }, []), { accept: true })
  // One that got a place before we heard of its LAN-mate is sent to the LAN's first at its next ask.
  src.children[0].add(pub.b)
  assert.deepEqual(decideChild(src, { from: pub.b, stripe: 0 }, []), { accept: false, tryInstead: [a] })
  assert.deepEqual(decideChild(src, { from: pub.a, stripe: 0 }, []), { accept: true })
  // The mate behind a symmetric NAT takes the LAN child (a leaf place) that it can always reach...
  const mate: Mutable = { ...viewer(a), natOf, unreachable: false }
  assert.deepEqual(decideChild(mate, { from: b, stripe: 0 }, []), { accept: true })
  // ...but not a child its NAT would cut off (one that does not see it directly).
  assert.equal(decideChild({ ...mate, unreachable: true }, { from: b, stripe: 0 }, []).accept, false)
})

test('push-down: a full parent gives a leaf child\'s place to a newcomer that is interior in the stripe', () => {
  const src: Mutable = { isSource: true, self: 'src', children: sets(), receiving: () => true }
  const leaf = addrIn(3, 1)
  assert.deepEqual(decideChild(src, { from: leaf, stripe: 0 }, []), { accept: true })
  src.children[0].add(leaf)
  const interior = addrIn(0, 2)
  assert.deepEqual(decideChild(src, { from: interior, stripe: 0 }, []), { accept: true, evict: leaf })
  src.children[0].delete(leaf); src.children[0].add(interior)
  // An interior child is never pushed down: another interior newcomer is redirected to it.
  const d = decideChild(src, { from: addrIn(0, 5), stripe: 0 }, [])
  assert.ok(!d.accept && d.tryInstead[0] === interior)
})

test('push-down is off in a stripe that lost a child for feeding nothing: no place by claim alone', () => {
  const src: Mutable = { isSource: true, self: 'src', children: sets(), receiving: () => true, pushDown: (s) => s !== 0 }
  const leaf = addrIn(3, 1)
  src.children[0].add(leaf)
  const d = decideChild(src, { from: addrIn(0, 2), stripe: 0 }, [])
  assert.ok(!d.accept && d.tryInstead[0] === leaf, 'the interior newcomer is redirected, the leaf keeps its place')
  src.children[1].add(addrIn(3, 3))
  assert.equal(decideChild(src, { from: addrIn(1, 4), stripe: 1 }, []).accept, true, 'other stripes push down as before')
})

test('a stripe parent owes a push once a later chunk came from another stripe', () => {
  // Our stripe-0 parent last pushed chunk 8; its next is 12.
  assert.equal(pushOverdue(8, 8), false)
  assert.equal(pushOverdue(8, 11), false, 'chunks 9-11 are the other stripes\' turn')
  assert.equal(pushOverdue(8, 12), false, 'chunk 12 is the one it owes: it may still be on its way')
  assert.equal(pushOverdue(8, 13), true, 'chunk 13 came, 12 did not')
  fc.assert(fc.property(fc.nat(1e6), fc.nat(1e6), (last, frontier) => pushOverdue(last, frontier) === (frontier - last > STRIPES)))
})

test('a late stripe parent is judged by its pattern: one hole is not a failure, a second owed push, chronic lateness or a trickle are', () => {
  const l = (owedOneMs: number, owedTwoMs = 0, recentMisses = 0) => lateParentFails({ owedOneMs, owedTwoMs, recentMisses })
  assert.equal(l(MISSED_PUSH_MS), false, 'not late enough')
  assert.equal(l(MISSED_PUSH_MS + 50), false, 'one chunk missing upstream (a hole nobody could repair), the next on its way')
  assert.equal(l(MISSED_PUSH_MS + 50, OWED_TWO_MS, MISSES_TO_FAIL - 1), false, 'a lossy path: it owes a second push, but not for long, and skipped fewer than half')
  assert.equal(l(MISSED_PUSH_MS + 300, OWED_TWO_MS + 50), true, 'two owed and nothing for long: it left, or its feed stopped')
  assert.equal(l(CHRONIC_LATE_MS + 50), true, 'behind on end: chronically late')
  assert.equal(l(MISSED_PUSH_MS + 50, 0, MISSES_TO_FAIL), true, 'it skipped half of what it owed: a trickle')
  assert.equal(l(MISSED_PUSH_MS, MISSED_PUSH_MS, PUSH_RECORD), false, 'nothing counts before it owes a push for MISSED_PUSH_MS')
  fc.assert(fc.property(fc.nat(5000), fc.nat(5000), fc.nat(PUSH_RECORD), (one, two, misses) => {
    const failing = lateParentFails({ owedOneMs: one, owedTwoMs: Math.min(one, two), recentMisses: misses })
    // Monotone: later, or more missed, never turns a failing parent into a good one.
    return !failing || lateParentFails({ owedOneMs: one + 100, owedTwoMs: Math.min(one, two) + 100, recentMisses: Math.min(PUSH_RECORD, misses + 1) })
  }))
})

test('a viewer that does not receive a stripe never takes children in it, and says whom to ask', () => {
  const st = viewer(addrIn(2), sets(), false)
  const d = decideChild(st, { from: 'c', stripe: 2 }, ['h1', 'c', 'h2'])
  assert.ok(!d.accept)
  assert.deepEqual(!d.accept && [...d.tryInstead].sort(), ['h1', 'h2'], 'never the asker itself')
})

test('spare slots fill, then redirect', () => {
  const me = addrIn(0)
  const st = viewer(me, sets([], ['a', 'b'], ['c'], ['d']))
  const d = decideChild(st, { from: 'e', stripe: 3 }, [])
  assert.equal(d.accept, false, 'four spare children in non-interior stripes are the limit')
})

test('full spare slots: one more child in a third stripe only when nobody known fans out in it (a chain)', () => {
  const me = addrIn(3)
  // Spare children in stripes 0 and 1; a viewer asks for stripe 2, which nobody we know is interior in.
  const st = viewer(me, sets([addrIn(3, 1)], [addrIn(3, 1)]))
  const asker = addrIn(3, 1)
  assert.deepEqual(decideChild(st, { from: asker, stripe: 2 }, [addrIn(3, 2), addrIn(0, 0)]), { accept: true }, 'no interior node to send it to: taken')
  const elsewhere = decideChild(st, { from: asker, stripe: 2 }, [addrIn(3, 2), addrIn(2, 0)])
  assert.ok(!elsewhere.accept && elsewhere.tryInstead.includes(addrIn(2, 0)), 'an interior node of stripe 2 is known: sent there')
  // The source fans out to nobody new, whatever stripe its address hashes to: in a chain it was
  // taken for an interior node of stripe 2, and the stripe had no parent below the first relay.
  const source = addrIn(2, 0)
  const withSource: Mutable = { ...st, sources: new Set([source]) }
  assert.deepEqual(decideChild(withSource, { from: asker, stripe: 2 }, [source, addrIn(3, 2)]), { accept: true }, 'only the source "interior" in stripe 2: taken')
  // One spare child per other stripe at most.
  const fourth = decideChild(viewer(me, sets([addrIn(3, 1)], [addrIn(3, 1)], [addrIn(3, 1)])), { from: addrIn(3, 2), stripe: 0 }, [])
  assert.equal(fourth.accept, false, 'three spare children are the most')
})

test('a declared leaf is fed beside the places by an uncapped viewer, up to LEAF_SLOTS; not by a capped one, nor the source', () => {
  const me = addrIn(0)
  // Full: six relays in our interior stripe, two spare children elsewhere.
  const relays = Array.from({ length: FANOUT }, (_, i) => `r${i}`)
  const full = viewer(me, sets(relays, ['s1'], ['s2']))
  assert.equal(decideChild(full, { from: 'x', stripe: 0 }, []).accept, false, 'full for a child that could relay: redirected')
  assert.deepEqual(decideChild(full, { from: 'leaf', stripe: 0, leaf: true }, []), { accept: true }, 'a leaf takes no place: fed beside them')
  assert.deepEqual(decideChild(full, { from: 'leaf', stripe: 2, leaf: true }, []), { accept: true }, 'in a spare stripe too')
  const leaves = Array.from({ length: LEAF_SLOTS }, (_, i) => `l${i}`)
  const manyLeaves: Mutable = { ...viewer(me, sets([...relays, ...leaves])), leaves: new Set(leaves) }
  assert.equal(decideChild(manyLeaves, { from: 'leaf', stripe: 0, leaf: true }, []).accept, false, 'LEAF_SLOTS leaves at most')
  assert.equal(decideChild({ ...full, maxChildren: FANOUT + 2 }, { from: 'leaf', stripe: 0, leaf: true }, []).accept, false, 'a capped viewer keeps its cap')
  assert.equal(decideChild(viewer(me, sets(relays), false), { from: 'leaf', stripe: 0, leaf: true }, []).accept, false, 'not a stripe we do not receive')
  const source: Mutable = { isSource: true, self: me, children: sets(['c']), receiving: () => true }
  assert.equal(decideChild(source, { from: 'leaf', stripe: 0, leaf: true }, []).accept, false, 'the source keeps its one child a stripe')
})

test('decideChild never redirects a peer to itself or to the deciding node', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 20 }), fc.integer({ min: 0, max: STRIPES - 1 }), (hs, stripe) => {
    const holders = hs.map((h) => `127.0.0.1:${2000 + h}`)
    // Children are peers that subscribed, never ourselves; holders may be anything peers told us.
    const kids = holders.filter((a) => a !== '127.0.0.1:2000').slice(0, 3)
    const st = viewer('127.0.0.1:2000', sets(kids, kids, kids, kids), stripe % 2 === 0)
    const d = decideChild(st, { from: '127.0.0.1:2001', stripe }, holders)
    if (!d.accept) for (const a of d.tryInstead) assert.ok(a !== '127.0.0.1:2001' && a !== '127.0.0.1:2000')
  }))
})

test('parents: interior candidates first, then by RTT, the source last', () => {
  const inS = addrIn(2)
  const other = addrIn(3)
  const ranked = rankParents(2, [{ addr: 'S', isSource: true, rttMs: 1 }, { addr: other, isSource: false, rttMs: 5 }, { addr: inS, isSource: false, rttMs: 50 }])
  assert.deepEqual(ranked, [inS, other, 'S'])
})

const base = (over: Partial<RepairState>): RepairState => ({
  now: 10_000, missing: [], inFlight: new Map(), holders: () => ['p1', 'p2'], source: 'S', sourceBudgetChunks: 0, rttMs: () => 10, ...over,
})
const miss = (n: number, deadline: number, knownSince = 0): MissingChunk => ({ n, deadline, knownSince })

test('what a late viewer asks for first: the chunks nearest their playback deadline', () => {
  const reqs = planRepairs(base({ missing: [miss(30, 14_000), miss(10, 11_000), miss(20, 12_000)] }))
  assert.deepEqual(reqs.map((r) => r.n), [10, 20, 30])
  assert.equal(reqs[0].peer, 'p1', 'from the stripe parent first')
})

test('a chunk whose push may still be on its way is not pulled yet', () => {
  const reqs = planRepairs(base({ missing: [miss(5, 20_000, 10_000 - REPAIR_GRACE_MS / 2)] }))
  assert.deepEqual(reqs, [])
})

test('a late joiner plays from its start chunk: its deadlines follow its own playback clock', () => {
  const join = { at: 50_000, startPublishedAt: 47_000 }
  assert.equal(playbackDeadline(47_000, 3000, join), 50_000 + STARTUP_MS)
  assert.equal(playbackDeadline(49_000, 3000, join), 52_000 + STARTUP_MS)
  // A player keeps the distance it started at (4.5 s behind live here): it never catches up.
  assert.equal(playbackDeadline(60_000, 3000, join), 64_500)
  assert.equal(playbackDeadline(60_000, 3000, { at: 50_000, startPublishedAt: 49_000 }), 63_000, 'a joiner closer to live: the live deadline rules')
  assert.equal(playbackDeadline(60_000, 3000, null), 63_000)
})

test('when a relay vanishes: its requests time out and move to the next holder', () => {
  const inFlight = new Map([[7, { peer: 'p1', at: 10_000 - REPAIR_TIMEOUT_MS - 1, tries: 1 }]])
  const reqs = planRepairs(base({ missing: [miss(7, 12_000)], inFlight }))
  assert.deepEqual(reqs, [{ n: 7, peer: 'p2' }])
  // ... and a request still within its timeout is left alone.
  const fresh = new Map([[7, { peer: 'p1', at: 10_000 - 10, tries: 1 }]])
  assert.deepEqual(planRepairs(base({ missing: [miss(7, 12_000)], inFlight: fresh })), [])
})

test('when a relay vanishes, the orphan stops counting as receiving, so its own children refuse to adopt it', () => {
  assert.equal(isReceiving(true, 10_000, 10_200), true)
  assert.equal(isReceiving(true, 10_000, 11_400), false, 'a parent silent for a second: not receiving')
  assert.equal(isReceiving(false, 10_000, 10_001), false)
  const child = viewer(addrIn(0), sets(), isReceiving(true, 10_000, 11_400))
  assert.equal(decideChild(child, { from: 'orphaned-parent', stripe: 0 }, []).accept, false)
})

test('the source fills holes only within its budget, unless nobody else can in time', () => {
  const noPeers = base({ holders: () => [], missing: [miss(1, 30_000), miss(2, 30_000)] })
  assert.deepEqual(planRepairs(noPeers), [], 'no budget, not urgent: wait for peers')
  assert.deepEqual(planRepairs({ ...noPeers, sourceBudgetChunks: 1 }).map((r) => r.peer), ['S'])
  assert.deepEqual(planRepairs({ ...noPeers, missing: [miss(1, 10_500)] }).map((r) => r.peer), ['S'], 'urgent')
})

test('the source\'s own child in a stripe asks the source first for that stripe\'s chunks (nobody below has them), within limits', () => {
  // Chunk 1 is in a stripe the source feeds us; chunk 2 is not. Neither urgent, no budget share.
  const child = base({ missing: [miss(1, 30_000), miss(2, 30_000)], fedBySource: (n) => n === 1 })
  assert.deepEqual(planRepairs(child), [{ n: 1, peer: 'S' }, { n: 2, peer: 'p1' }])
  const asked = (tries: number, refused: boolean) => planRepairs({ ...child, missing: [miss(1, 30_000)], inFlight: new Map([[1, { peer: 'S', at: 0, tries, ...(refused ? { retryAt: 0 } : {}) }]]) })
  assert.deepEqual(asked(1, false), [{ n: 1, peer: 'S' }], 'its ask or the answer was lost: once more')
  const holder = (r: Array<{ peer: string }>) => r.length === 1 && ['p1', 'p2'].includes(r[0].peer)
  assert.ok(holder(asked(CHILD_TRIES_AT_SOURCE, false)), 'then round the holders, as anyone')
  assert.ok(holder(asked(1, true)), 'the source said "ask them": the holders')
  assert.deepEqual(planRepairs({ ...child, missing: [{ ...miss(1, 30_000), backfill: true }] }), [{ n: 1, peer: 'p1' }], 'never its start-up buffer')
  assert.deepEqual(planRepairs({ ...child, missing: [miss(1, 30_000, 9_950)] }), [], 'after the grace for pushes in flight, as any pull')
})

test('the source repairs its own children\'s lost pushes within a budget of its own, a quarter per stripe', () => {
  const produced = 10_000_000
  const quarter = (produced * SOURCE_CHILD_REPAIR_BUDGET) / STRIPES
  assert.equal(sourceMayRepairChild(0, produced), true)
  assert.equal(sourceMayRepairChild(quarter, produced), true, 'the burst comes on top')
  assert.equal(sourceMayRepairChild(quarter + SOURCE_CHILD_BURST_BYTES / STRIPES, produced), false, 'one stripe\'s child spends only its stripe\'s quarter')
  assert.equal(sourceMayRepairChild(0, 0), true, 'a loss before the budget grew is still repaired')
})

test('a joiner\'s start-up buffer waits for holders: the source only when nobody else is known', () => {
  const backfill = (n: number): MissingChunk => ({ ...miss(n, 10_100), backfill: true })
  // Both holders at their window: the live chunk may use the source's budget, the start-up buffer may not.
  const full = new Map(Array.from({ length: 16 }, (_, i) => [100 + i, { peer: i < 8 ? 'p1' : 'p2', at: 10_000, tries: 1 }] as const))
  const busy = base({ missing: [backfill(1), miss(2, 30_000)], inFlight: full, sourceBudgetChunks: 5 })
  assert.deepEqual(planRepairs(busy), [{ n: 2, peer: 'S' }])
  // A joiner that knows only the source (its stripe parent, say) still gets its start from it, within its budget.
  const alone = base({ holders: () => ['S'], missing: [backfill(1)], sourceBudgetChunks: 1 })
  assert.deepEqual(planRepairs(alone), [{ n: 1, peer: 'S' }])
  assert.deepEqual(planRepairs({ ...alone, sourceBudgetChunks: 0 }), [], 'never as urgent')
})

test('a capped uplink answers pulls only with what its children leave of its cap', () => {
  assert.equal(mayServePull(0, undefined), true, 'no cap: the per-second allowance')
  assert.equal(mayServePull(0, 16_384 / 2), false, 'less than a chunk a second to spare: hints only')
  assert.equal(mayServePull(2, 3 * 16_384), true)
  assert.equal(mayServePull(3, 3 * 16_384), false)
  assert.equal(mayServePull(PULLS_SERVED_PER_SECOND, 1e9), false, 'never beyond the allowance')
})

test('the source serves pulls within one copy plus its budget, and a relay within its pull allowance', () => {
  const produced = 10_000_000
  assert.equal(sourceMayServe(0, produced), true)
  assert.equal(sourceMayServe(produced * SOURCE_REPAIR_BUDGET, produced), true, 'the burst comes on top')
  assert.equal(sourceMayServe(produced * SOURCE_REPAIR_BUDGET + SOURCE_BURST_BYTES, produced), false)
  assert.equal(mayServePull(0), true)
  assert.equal(mayServePull(1000), false)
})

test('the source\'s rescue has an allowance of its own, and a share of it per asker', () => {
  const producedBytes = 10_000_000
  const allowance = producedBytes * SOURCE_RESCUE_BUDGET + SOURCE_RESCUE_BURST_BYTES
  const ask = { rescuedBytes: 0, askerBytes: 0, producedBytes }
  assert.equal(sourceMayRescue(ask), true)
  assert.equal(sourceMayRescue({ ...ask, producedBytes: 0 }), true, 'a hole before the stream grew is still rescued (the burst)')
  assert.equal(sourceMayRescue({ ...ask, rescuedBytes: allowance }), false, 'the allowance spent: no more, however often asked')
  assert.equal(sourceMayRescue({ ...ask, askerBytes: allowance * SOURCE_RESCUE_ASKER_SHARE }), false, 'one asker takes its share only')
})

test('pull windows per peer are respected', () => {
  const missing = Array.from({ length: 40 }, (_, i) => miss(i, 11_000 + i))
  const reqs = planRepairs(base({ missing }))
  const per = new Map<string, number>()
  for (const r of reqs) per.set(r.peer, (per.get(r.peer) ?? 0) + 1)
  for (const [, c] of per) assert.ok(c <= 8)
})
