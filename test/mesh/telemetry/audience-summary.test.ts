import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { isAddress, decodeDatagram, encodeDatagram } from '../../../src/mesh/messages.ts'
import {
  DELAY_BUCKETS_MS, EPOCH_MS, MAX_DEPTHS, MAX_EPOCHS, MAX_FANOUT, MAX_VIEWERS, WINDOW_MS, delayBucket, delayPercentile, emptySummary, fromRun, mergeChild, sanitize, withCounts,
  type AudienceSummary,
} from '../../../src/mesh/telemetry/audience-summary.ts'

const limits = { isAddress, chunksPerViewer: 1000 }

/** One honest viewer's own summary. */
const leaf = fc.record({
  onTime: fc.nat(500), late: fc.nat(50), delays: fc.array(fc.integer({ min: 1, max: 20_000 }), { maxLength: 40 }),
  up: fc.nat(1e6), down: fc.nat(1e6), stalls: fc.nat(3), nat: fc.integer({ min: -1, max: 2 }),
}).map((r): AudienceSummary => {
  const s = emptySummary()
  s.viewers = 1
  s.byDepth = [1]
  s.onTime = r.onTime
  s.late = r.late
  const m = new Map<number, number>()
  for (const d of r.delays) m.set(delayBucket(d), (m.get(delayBucket(d)) ?? 0) + 1)
  s.delay = [...m].sort((a, b) => a[0] - b[0])
  s.up = r.up
  s.down = r.down
  s.fromSource = Math.floor(r.down / 2)
  s.stalls = r.stalls
  s.versions = { '0.1.0': 1 }
  // -1: not classified yet (no `nat` at all).
  if (r.nat >= 0) { s.nat = [0, 0, 0]; s.nat[r.nat] = 1 }
  return s
})

/** A random honest tree of leaves, merged bottom-up as the nodes would. */
const subtree: fc.Memo<AudienceSummary> = fc.memo((n) =>
  (n <= 1 ? leaf : fc.tuple(leaf, fc.array(subtree(n - 1), { maxLength: 3 }))
    .map((x) => {
      if (!Array.isArray(x)) return x
      const [own, kids] = x
      const s = structuredClone(own)
      for (const k of kids) mergeChild(s, k)
      return s
    })))
const tree = subtree(4)

test('an honest summary passes sanitize unchanged and unflagged, whatever the tree', () => {
  fc.assert(fc.property(tree, (s) => {
    const clean = sanitize(JSON.parse(JSON.stringify(s)), { isAddress, chunksPerViewer: 100_000 })
    assert.ok(clean)
    assert.equal(clean.suspect, 0)
    assert.equal(clean.viewers, s.viewers)
    assert.deepEqual(clean.byDepth, s.byDepth)
    assert.deepEqual(clean.delay, s.delay)
    assert.deepEqual(clean.nat, s.nat)
    assert.equal(clean.byDepth.reduce((a, b) => a + b, 0), clean.viewers)
  }))
})

test('merge adds up: viewers, chunks and the delay histogram of the parts, depths shifted by one', () => {
  fc.assert(fc.property(leaf, fc.array(tree, { maxLength: 6 }), (own, kids) => {
    const s = structuredClone(own)
    for (const k of kids) mergeChild(s, k)
    const sum = (f: (x: AudienceSummary) => number) => f(own) + kids.reduce((t, k) => t + f(k), 0)
    assert.equal(s.viewers, sum((x) => x.viewers))
    assert.equal(s.onTime, sum((x) => x.onTime))
    assert.equal(s.delay.reduce((t, [, n]) => t + n, 0), sum((x) => x.delay.reduce((t, [, n]) => t + n, 0)))
    assert.equal(s.byDepth[0], 1)
    assert.equal(s.byDepth[1] ?? 0, kids.length)
    for (let i = 0; i < 3; i++) assert.equal(s.nat?.[i] ?? 0, sum((x) => x.nat?.[i] ?? 0))
    assert.ok(s.byDepth.length <= MAX_DEPTHS)
  }))
})

test('whatever a peer sends, sanitize returns a bounded summary or nothing, and never throws', () => {
  fc.assert(fc.property(fc.anything(), (raw) => {
    const s = sanitize(raw, limits)
    if (!s) return
    assert.ok(s.viewers >= 1 && s.viewers <= MAX_VIEWERS)
    assert.ok(s.byDepth.length <= MAX_DEPTHS)
    assert.ok(s.delay.length <= DELAY_BUCKETS_MS.length)
    assert.ok(Object.keys(s.versions).length <= 5)
    assert.ok(JSON.stringify(s).length < 8000)
  }), { numRuns: 2000 })
  const shaped = fc.record({
    viewers: fc.oneof(fc.nat(), fc.double(), fc.constant(1e300)), byDepth: fc.array(fc.oneof(fc.nat(), fc.double()), { maxLength: 40 }),
    onTime: fc.double(), delay: fc.array(fc.tuple(fc.integer({ min: -5, max: 200 }), fc.oneof(fc.nat(), fc.double())), { maxLength: 300 }),
    fresh: fc.oneof(fc.anything(), fc.array(fc.tuple(fc.oneof(fc.nat(), fc.double(), fc.constant(2 ** 60)), fc.oneof(fc.integer({ min: -5, max: 200 }), fc.double()), fc.array(fc.oneof(fc.nat(), fc.double(), fc.anything()), { maxLength: 120 })), { maxLength: 30 })),
    versions: fc.dictionary(fc.string(), fc.nat(), { maxKeys: 50 }), nat: fc.oneof(fc.anything(), fc.array(fc.oneof(fc.nat(), fc.double()), { maxLength: 5 })), kids: fc.array(fc.record({ a: fc.constantFrom('127.0.0.1:9', 'x'), v: fc.double(), h: fc.double(), k: fc.anything() }), { maxLength: 40 }),
  }, { requiredKeys: [] })
  fc.assert(fc.property(shaped, (raw) => {
    const s = sanitize(raw, limits)
    if (!s) return
    assert.ok(Number.isSafeInteger(s.viewers) && s.viewers <= MAX_VIEWERS)
    assert.equal(s.byDepth.reduce((a, b) => a + b, 0), s.viewers)
    for (let d = 1; d < s.byDepth.length; d++) assert.ok(s.byDepth[d] <= s.byDepth[d - 1] * MAX_FANOUT)
    assert.ok(s.delay.reduce((t, [, n]) => t + n, 0) <= s.viewers * limits.chunksPerViewer)
    // The delays by epoch: at most MAX_EPOCHS distinct epochs, each within the viewers' share of a
    // window's chunks, every bucket once and in range.
    assert.ok((s.fresh?.length ?? 0) <= MAX_EPOCHS)
    assert.equal(new Set(s.fresh?.map(([e]) => e)).size, s.fresh?.length ?? 0)
    for (const [e, first, counts] of s.fresh ?? []) {
      assert.ok(Number.isSafeInteger(e) && e >= 0)
      // A run: it starts and ends on a non-empty bucket, within the buckets.
      assert.ok(counts.length > 0 && counts[0] > 0 && counts[counts.length - 1] > 0 && first + counts.length <= DELAY_BUCKETS_MS.length)
      const h = fromRun(first, counts)
      assert.ok(h.length > 0 && h.every(([i, n]) => Number.isSafeInteger(i) && i >= 0 && i < DELAY_BUCKETS_MS.length && Number.isSafeInteger(n) && n > 0))
      assert.equal(new Set(h.map(([i]) => i)).size, h.length)
      assert.ok(h.reduce((t, [, n]) => t + n, 0) <= Math.ceil((s.viewers * limits.chunksPerViewer * EPOCH_MS) / WINDOW_MS))
    }
    assert.ok((s.kids?.length ?? 0) <= 8)
    // The NAT kinds are counts of these viewers: three integers adding up to no more than them.
    if (s.nat) {
      assert.equal(s.nat.length, 3)
      assert.ok(s.nat.every((n) => Number.isSafeInteger(n) && n >= 0))
      assert.ok(s.nat[0] + s.nat[1] + s.nat[2] <= s.viewers)
    }
  }), { numRuns: 2000 })
})

test('a liar claiming a million viewers and absurd delays is cut to its shape, weighs one viewer in the delays, and is flagged', () => {
  const lie = { viewers: 1_000_000, byDepth: [1, 999_999], onTime: 0, late: 1e9, missed: 0, delay: [[DELAY_BUCKETS_MS.length - 1, 1e9]], up: 1e15, down: 1e15, fromSource: 0, stalls: 1e6, stallSeconds: 1e9, versions: {}, suspect: 0 }
  const s = sanitize(lie, limits)
  assert.ok(s)
  assert.equal(s.viewers, 1 + MAX_FANOUT)
  assert.equal(s.suspect, s.viewers)
  assert.equal(s.delay.reduce((t, [, n]) => t + n, 0), limits.chunksPerViewer / 2)
  assert.ok(s.late <= limits.chunksPerViewer / 2)
  // Its delays by epoch too: one viewer's share of an epoch.
  const byEpoch = sanitize({ ...lie, fresh: [[100, DELAY_BUCKETS_MS.length - 1, [1e9]], [101, DELAY_BUCKETS_MS.length - 1, [1e9]]] }, limits)
  assert.deepEqual(byEpoch?.fresh, [100, 101].map((e) => [e, DELAY_BUCKETS_MS.length - 1, [Math.ceil((limits.chunksPerViewer / 2) * EPOCH_MS / WINDOW_MS)]]))
  // Merged with 100 honest viewers' chunks, the liar cannot move the p95 to its absurd bucket.
  const honest = emptySummary()
  honest.viewers = 100
  honest.byDepth = [0, 100]
  honest.delay = [[delayBucket(200), 100 * 1000]]
  mergeChild(honest, s)
  assert.ok((delayPercentile(honest, 0.95) ?? Infinity) < 250)
})

test('a count-only update that shrinks a subtree keeps its summary within the caps one level up (no false suspect)', () => {
  fc.assert(fc.property(tree, fc.nat(), (s, seed) => {
    fc.pre(s.viewers > 1)
    // Some of the subtree left: the sender's count-only update arrives after its last full summary.
    const viewers = 1 + (seed % (s.viewers - 1))
    // The deepest viewers left: the levels above keep their shape.
    const byDepth: number[] = []
    let left = viewers
    for (const n of s.byDepth) if (left > 0) { byDepth.push(Math.min(n, left)); left -= Math.min(n, left) }
    const kept = withCounts(s, { viewers, byDepth, suspect: 0 })
    const parent = emptySummary()
    parent.viewers = 1
    parent.byDepth = [1]
    parent.versions = { '0.1.0': 1 }
    mergeChild(parent, kept)
    // What that parent sends up next is an honest summary: unflagged by its own parent's sanitize.
    const clean = sanitize(JSON.parse(JSON.stringify(parent)), { isAddress, chunksPerViewer: 1100 })
    assert.ok(clean)
    assert.equal(clean.suspect, 0, JSON.stringify(parent))
    assert.equal(clean.viewers, viewers + 1)
  }))
})

test('a capped summary weighs in the delays as the receiver\'s own verified chunks, one viewer\'s', () => {
  const lie = { viewers: 1_000_000, byDepth: [1, 999_999], late: 1e9, delay: [[DELAY_BUCKETS_MS.length - 1, 1e9]] }
  const s = sanitize(lie, { isAddress, chunksPerViewer: 1000, oneViewerChunks: 230 })
  assert.ok(s)
  assert.equal(s.delay.reduce((t, [, n]) => t + n, 0), 230)
  assert.equal(s.suspect, s.viewers)
})

test('the histogram percentile is within 10 % of the exact one', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 20, max: 50_000 }), { minLength: 50, maxLength: 2000 }), (delays) => {
    const s = emptySummary()
    const m = new Map<number, number>()
    for (const d of delays) m.set(delayBucket(d), (m.get(delayBucket(d)) ?? 0) + 1)
    s.delay = [...m].sort((a, b) => a[0] - b[0])
    const sorted = [...delays].sort((a, b) => a - b)
    const exact = sorted[Math.ceil(0.95 * sorted.length) - 1]
    const est = delayPercentile(s, 0.95) as number
    assert.ok(Math.abs(est - exact) <= 0.1 * exact + 1, `${est} vs ${exact}`)
  }))
})

test('HereIsMyAudience survives the wire, and a hostile one is sanitized in the decoder', () => {
  const s = emptySummary()
  s.viewers = 3
  s.byDepth = [1, 2]
  s.kids = [{ a: '127.0.0.1:4000', v: 2, h: 1 }]
  const d = decodeDatagram(encodeDatagram([{ type: 'HereIsMyAudience', id: 'stream/x', audience: s }]))
  assert.ok(d.ok)
  assert.deepEqual(d.messages[0], { type: 'HereIsMyAudience', id: 'stream/x', audience: s })
  // Marked as the counts alone, only the counts come through (as they are sent).
  const c = decodeDatagram(encodeDatagram([{ type: 'HereIsMyAudience', id: 'stream/x', audience: s, counts: true }]))
  assert.ok(c.ok)
  assert.deepEqual(c.messages[0], { type: 'HereIsMyAudience', id: 'stream/x', audience: { viewers: 3, byDepth: [1, 2] }, counts: true })
  const bad = decodeDatagram(Buffer.from(JSON.stringify([{ HereIsMyAudience: { id: 'stream/x', audience: { viewers: -1 } } }])))
  assert.ok(bad.ok)
  assert.equal(bad.messages.length, 0)
})
