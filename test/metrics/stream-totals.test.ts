import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { StreamTotals, MAX_TRACKED_STREAMS, type StreamSeries } from '../../src/metrics/stream-totals.ts'

test('exported stream counters are monotonic and never pass the sum of what the streams counted', () => {
  const op = fc.record({ stream: fc.constantFrom('a', 'b', 'c'), role: fc.constantFrom('source' as const, 'viewer' as const), produced: fc.oneof(fc.nat(1_000_000), fc.constantFrom(NaN, -5, Infinity)), uploaded: fc.nat(1_000_000) })
  fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
    const t = new StreamTotals()
    const exported: Record<StreamSeries, number> = { produced: 0, source: 0, relay: 0 }
    for (const o of ops) {
      for (const [series, grow] of t.report({ stream: o.stream, role: o.role, producedBytes: o.produced, uploadedBytes: o.uploaded })) {
        assert.ok(grow > 0)
        exported[series] += grow
      }
    }
    // Each valid report adds at most its whole total (a reset or a new stream), never more.
    const valid = ops.filter((o) => Number.isFinite(o.produced) && o.produced >= 0)
    assert.ok(exported.produced <= valid.reduce((a, o) => a + o.produced, 0))
    assert.ok(exported.source + exported.relay <= valid.reduce((a, o) => a + o.uploaded, 0))
  }))
})

test('the same totals reported again add nothing; growth adds the difference; a reset adds the new total', () => {
  const t = new StreamTotals()
  assert.deepEqual(t.report({ stream: 'x', role: 'source', producedBytes: 800, uploadedBytes: 1000 }), [['produced', 800], ['source', 1000]])
  assert.deepEqual(t.report({ stream: 'x', role: 'source', producedBytes: 800, uploadedBytes: 1000 }), [])
  assert.deepEqual(t.report({ stream: 'x', role: 'source', producedBytes: 800, uploadedBytes: 1500 }), [['source', 500]])
  assert.deepEqual(t.report({ stream: 'x', role: 'source', producedBytes: 100, uploadedBytes: 100 }), [['produced', 100], ['source', 100]])
})

test('a stream no longer listed leaves the live count but keeps its baseline for its final reading', () => {
  const t = new StreamTotals()
  assert.deepEqual(t.sync([{ stream: 'a', role: 'viewer', producedBytes: 0, uploadedBytes: 10 }, { stream: 'b', role: 'viewer', producedBytes: 0, uploadedBytes: 5 }]), [['relay', 10], ['relay', 5]])
  assert.equal(t.countByRole().viewer, 2)
  assert.deepEqual(t.sync([{ stream: 'a', role: 'viewer', producedBytes: 0, uploadedBytes: 12 }]), [['relay', 2]])
  assert.equal(t.countByRole().viewer, 1)
  // b closes after the scrape that no longer listed it: only what grew counts, not all 8 again.
  assert.deepEqual(t.close({ stream: 'b', role: 'viewer', producedBytes: 0, uploadedBytes: 8 }), [['relay', 3]])
  // A stream closed before any scrape is counted in full.
  assert.deepEqual(t.close({ stream: 'c', role: 'source', producedBytes: 4, uploadedBytes: 6 }), [['produced', 4], ['source', 6]])
  assert.equal(t.countByRole().source, 0)
})

test('tracked streams are capped; eviction forgets baselines, not bytes', () => {
  const t = new StreamTotals()
  const many = Array.from({ length: MAX_TRACKED_STREAMS + 10 }, (_, i) => ({ stream: `s${i}`, role: 'viewer' as const, producedBytes: 0, uploadedBytes: 1 }))
  t.sync(many)
  assert.equal(t.countByRole().viewer, MAX_TRACKED_STREAMS)
  assert.deepEqual(t.close(many[0]), [['relay', 1]], 'evicted: its baseline is gone, so its total counts again')
  assert.deepEqual(t.close(many[MAX_TRACKED_STREAMS + 9]), [])
  assert.equal(t.countByRole().viewer, MAX_TRACKED_STREAMS - 1)
})
