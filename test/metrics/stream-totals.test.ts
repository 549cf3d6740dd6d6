import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { StreamTotals, MAX_TRACKED_STREAMS, type StreamSeries } from '../../src/metrics/stream-totals.ts'

test('exported stream counters are monotonic and follow the larger of per-call and reported sums', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('call' as const), series: fc.constantFrom<StreamSeries>('produced', 'source', 'relay'), bytes: fc.oneof(fc.nat(100_000), fc.constantFrom(NaN, -5, Infinity)) }),
    fc.record({ kind: fc.constant('report' as const), stream: fc.constantFrom('a', 'b', 'c'), role: fc.constantFrom('source' as const, 'viewer' as const), produced: fc.nat(1_000_000), uploaded: fc.nat(1_000_000) }),
  )
  fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
    const t = new StreamTotals()
    const exported: Record<StreamSeries, number> = { produced: 0, source: 0, relay: 0 }
    const perCall: Record<StreamSeries, number> = { produced: 0, source: 0, relay: 0 }
    for (const o of ops) {
      if (o.kind === 'call') {
        const grow = t.addPerCall(o.series, o.bytes)
        assert.ok(grow >= 0)
        exported[o.series] += grow
        if (Number.isFinite(o.bytes) && o.bytes >= 0) perCall[o.series] += o.bytes
      } else {
        for (const [series, grow] of t.report({ stream: o.stream, role: o.role, producedBytes: o.produced, uploadedBytes: o.uploaded })) {
          assert.ok(grow > 0)
          exported[series] += grow
        }
      }
      for (const s of ['produced', 'source', 'relay'] as const) assert.ok(exported[s] >= perCall[s])
    }
  }))
})

test('per-call and reported totals of the same bytes are not added', () => {
  const t = new StreamTotals()
  assert.equal(t.addPerCall('source', 1000), 1000)
  assert.deepEqual(t.report({ stream: 'x', role: 'source', producedBytes: 0, uploadedBytes: 1000 }), [])
  assert.deepEqual(t.report({ stream: 'x', role: 'source', producedBytes: 0, uploadedBytes: 1500 }), [['source', 500]])
  assert.equal(t.addPerCall('source', 600), 100)
})

test('tracked streams are capped; eviction forgets baselines, not bytes', () => {
  const t = new StreamTotals()
  for (let i = 0; i < MAX_TRACKED_STREAMS + 10; i++) t.report({ stream: `s${i}`, role: 'viewer', producedBytes: 0, uploadedBytes: 1 })
  assert.equal(t.countByRole().viewer, MAX_TRACKED_STREAMS)
  t.close('s0') // already evicted: harmless
  t.close(`s${MAX_TRACKED_STREAMS + 9}`)
  assert.equal(t.countByRole().viewer, MAX_TRACKED_STREAMS - 1)
})
