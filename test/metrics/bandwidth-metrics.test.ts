import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PrometheusMetrics } from '../../src/metrics/prometheus-sink.ts'
import type { BandwidthStats } from '../../src/metrics/types.ts'

const up = (deferred: number, dropped: number, limit: number | null = 125_000): BandwidthStats =>
  ({ direction: 'upload', limitBytesPerSecond: limit, rateBytesPerSecond: 120_000, deferredBytes: deferred, droppedBytes: dropped })

test('bandwidth metrics: limits and rates set, deferred and dropped totals grow by what grew, junk ignored', async () => {
  const m = new PrometheusMetrics({ processMetrics: false })
  let text = await m.text()
  assert.match(text, /cjp2p_bandwidth_limit_bytes_per_second\{direction="upload"\} 0/, 'series exist at zero before any report')
  assert.match(text, /cjp2p_bandwidth_dropped_bytes_total\{direction="download"\} 0/)
  m.setBandwidth([up(1000, 10), { direction: 'download', limitBytesPerSecond: null, rateBytesPerSecond: 5, deferredBytes: 7, droppedBytes: 0 }])
  m.setBandwidth([up(1500, 10)])
  // A report from a restarted pacer (smaller totals) adds nothing; a bad direction is ignored.
  m.setBandwidth([up(200, 5), { ...up(9e9, 9e9), direction: 'sideways' as never }])
  text = await m.text()
  assert.match(text, /cjp2p_bandwidth_limit_bytes_per_second\{direction="upload"\} 125000/)
  assert.match(text, /cjp2p_bandwidth_limit_bytes_per_second\{direction="download"\} 0/)
  assert.match(text, /cjp2p_bandwidth_rate_bytes_per_second\{direction="upload"\} 120000/)
  assert.match(text, /cjp2p_bandwidth_deferred_bytes_total\{direction="upload"\} 1500/)
  assert.match(text, /cjp2p_bandwidth_dropped_bytes_total\{direction="upload"\} 10/)
  assert.match(text, /cjp2p_bandwidth_deferred_bytes_total\{direction="download"\} 7/)
  m.close()
})
