import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { PrometheusMetrics, MAX_HTTP_ROUTES } from '../../src/metrics/prometheus-sink.ts'
import { METRIC_NAMES } from '../../src/metrics/definitions.ts'
import { noMetrics, type MetricsSink, type StreamStats } from '../../src/metrics/types.ts'

const PROMTOOL = '/usr/bin/promtool'
if (!existsSync(PROMTOOL)) console.warn(`\n*** SKIPPED LOUDLY: ${PROMTOOL} missing, metrics lint not run ***\n`)

/** Value of one series, or undefined when the series does not exist. */
async function value(m: PrometheusMetrics, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const base = METRIC_NAMES.find((n) => n === name) ?? name.replace(/_(bucket|sum|count)$/, '')
  const metric = m.registry.getSingleMetric(base)
  assert.ok(metric, `no metric ${name}`)
  const { values } = await metric.get()
  // Histogram values carry their series name (…_bucket); other metrics' values do not.
  const hit = values.find((v) => ((v as { metricName?: string }).metricName ?? base) === name &&
    Object.keys(labels).length === Object.keys(v.labels).length &&
    Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l))
  return hit?.value
}

function exercise(m: MetricsSink): void {
  m.datagramSent('stream', 'source', 1200)
  m.datagramReceived('control', 80)
  m.datagramDropped('not_json')
  m.streamBytesUploaded?.('source', 16384)
  m.chunkReceived('duplicate')
  m.chunkVerified(0.42, 3)
  m.peerPenalised('bad_chunk', true)
  m.streamRejected?.('bad_field')
  m.peersGauge(12, 5)
  m.relayFanout(4)
  m.playbackStall(1.5)
  m.httpRequest('/streams/:id/index.m3u8', 200)
  m.fileTransfer('failed')
  m.setNodeRole?.('source')
  m.readStreams?.(() => [{ stream: 's', role: 'source', producedBytes: 20000, uploadedBytes: 20000 }])
  m.streamClosed?.({ stream: 't', role: 'source', producedBytes: 5000, uploadedBytes: 6000 })
  m.setAudience?.(AUDIENCE)
}

const AUDIENCE = {
  viewers: 7, byDepth: [0, 1, 6], onTime: 900, late: 10, missed: 2, delay: [[110, 500], [240, 400], [4000, 10]] as Array<[number, number]>,
  stalls: 1, stallSeconds: 0.5, offload: 0.9, suspect: 0, windowMs: 30_000, nat: { none: 2, cone: 4, symmetric: 1, unknown: 0 },
}

test('the source\'s audience is exported as gauges, its delays cumulative by le for histogram_quantile', async () => {
  const m = new PrometheusMetrics({ processMetrics: false })
  assert.equal(m.registry.getSingleMetric('cjp2p_audience_viewers'), undefined, 'no audience series on a node that is not a source')
  m.setAudience(AUDIENCE)
  assert.equal(await value(m, 'cjp2p_audience_viewers'), 7)
  assert.equal(await value(m, 'cjp2p_audience_viewers_by_depth', { depth: '2' }), 6)
  assert.equal(await value(m, 'cjp2p_audience_chunks', { result: 'missed' }), 2)
  const text = await m.registry.metrics()
  assert.match(text, /^# TYPE cjp2p_audience_chunk_delay_seconds histogram$/m)
  assert.match(text, /^cjp2p_audience_chunk_delay_seconds_bucket\{le="0.2"\} 500$/m)
  assert.match(text, /^cjp2p_audience_chunk_delay_seconds_bucket\{le="0.3"\} 900$/m)
  assert.match(text, /^cjp2p_audience_chunk_delay_seconds_bucket\{le="\+Inf"\} 910$/m)
  assert.match(text, /^cjp2p_audience_chunk_delay_seconds_count 910$/m)
  assert.equal(await value(m, 'cjp2p_audience_offload_ratio'), 0.9)
  assert.equal(await value(m, 'cjp2p_audience_viewers_by_nat', { nat: 'symmetric' }), 1)
  m.setAudience({ ...AUDIENCE, viewers: 3, byDepth: [0, 1, 2] })
  assert.equal(await value(m, 'cjp2p_audience_viewers'), 3)
})

test('registry holds exactly METRIC_NAMES, every labelled series exists at zero from the start', async () => {
  const m = new PrometheusMetrics({ processMetrics: false })
  const names = m.registry.getMetricsAsArray().map((x) => x.name).sort()
  assert.deepEqual(names, [...METRIC_NAMES].sort())
  for (const name of METRIC_NAMES) assert.match(name, /^cjp2p_[a-z0-9_]+$/)
  assert.equal(await value(m, 'cjp2p_udp_sent_bytes_total', { kind: 'control', role: 'relay' }), 0)
  assert.equal(await value(m, 'cjp2p_udp_dropped_datagrams_total', { reason: 'amplification' }), 0)
  assert.equal(await value(m, 'cjp2p_chunks_received_total', { result: 'rejected' }), 0)
  assert.equal(await value(m, 'cjp2p_peer_bans_total', { reason: 'lie' }), 0)
  assert.equal(await value(m, 'cjp2p_file_transfers_total', { result: 'completed' }), 0)
  assert.equal(await value(m, 'cjp2p_stream_produced_bytes_total', { role: 'source' }), 0)
  assert.equal(await value(m, 'cjp2p_chunk_delay_seconds_count'), 0)
  assert.equal(await value(m, 'cjp2p_node_info', { role: 'node' }), 1)
  const build = (await m.registry.getSingleMetric('cjp2p_build_info')!.get()).values
  assert.equal(build.length, 1)
  assert.equal(build[0].labels.nodejs, process.version)
  assert.match(String(build[0].labels.version), /^\d+\.\d+\.\d+/)
})

test('promtool check metrics accepts the project registry after every hook ran', { skip: existsSync(PROMTOOL) ? false : `SKIPPED LOUDLY: ${PROMTOOL} missing` }, async () => {
  const m = new PrometheusMetrics({ processMetrics: false })
  exercise(m)
  const text = await m.registry.metrics()
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 })
  assert.equal(r.status, 0, `promtool check metrics failed:\n${r.stdout}\n${r.stderr}`)
  assert.equal((r.stdout + r.stderr).trim(), '', 'promtool reported lint problems')
})

test('every MetricsSink hook moves its series', async () => {
  const m = new PrometheusMetrics({ processMetrics: false })
  exercise(m)
  await m.text() // the scrape that reads the streams
  assert.equal(await value(m, 'cjp2p_udp_sent_bytes_total', { kind: 'stream', role: 'source' }), 1200)
  assert.equal(await value(m, 'cjp2p_udp_sent_datagrams_total', { kind: 'stream', role: 'source' }), 1)
  assert.equal(await value(m, 'cjp2p_udp_received_bytes_total', { kind: 'control' }), 80)
  assert.equal(await value(m, 'cjp2p_udp_received_datagrams_total', { kind: 'control' }), 1)
  assert.equal(await value(m, 'cjp2p_udp_dropped_datagrams_total', { reason: 'not_json' }), 1)
  // Only the swarms' totals (readStreams, and streamClosed's final reading) move the stream
  // counters: the wire tally's per-send hook (16384 above) is not a second path into them.
  assert.equal(await value(m, 'cjp2p_stream_produced_bytes_total', { role: 'source' }), 25000)
  assert.equal(await value(m, 'cjp2p_stream_uploaded_bytes_total', { role: 'source' }), 26000)
  assert.equal(await value(m, 'cjp2p_streams', { role: 'source' }), 1)
  assert.equal(await value(m, 'cjp2p_chunks_received_total', { result: 'duplicate' }), 1)
  assert.equal(await value(m, 'cjp2p_chunk_delay_seconds_count'), 1)
  assert.equal(await value(m, 'cjp2p_chunk_delay_seconds_sum'), 0.42)
  assert.equal(await value(m, 'cjp2p_chunk_delay_seconds_bucket', { le: '0.35' }), 0)
  assert.equal(await value(m, 'cjp2p_chunk_delay_seconds_bucket', { le: '0.5' }), 1)
  assert.equal(await value(m, 'cjp2p_chunk_hops_bucket', { le: '2' }), 0)
  assert.equal(await value(m, 'cjp2p_chunk_hops_bucket', { le: '3' }), 1)
  assert.equal(await value(m, 'cjp2p_peer_penalties_total', { reason: 'bad_chunk' }), 1)
  assert.equal(await value(m, 'cjp2p_stream_rejects_total', { cause: 'bad_field' }), 1)
  assert.equal(await value(m, 'cjp2p_stream_rejects_total', { cause: 'bad_signature' }), 0)
  assert.equal(await value(m, 'cjp2p_peer_bans_total', { reason: 'bad_chunk' }), 1)
  assert.equal(await value(m, 'cjp2p_peers_known'), 12)
  assert.equal(await value(m, 'cjp2p_peers_active'), 5)
  assert.equal(await value(m, 'cjp2p_relay_fanout_peers'), 4)
  assert.equal(await value(m, 'cjp2p_playback_stalls_total'), 1)
  assert.equal(await value(m, 'cjp2p_playback_stall_seconds_total'), 1.5)
  assert.equal(await value(m, 'cjp2p_http_requests_total', { route: '/streams/:id/index.m3u8', code: '200' }), 1)
  assert.equal(await value(m, 'cjp2p_file_transfers_total', { result: 'failed' }), 1)
  assert.equal(await value(m, 'cjp2p_node_info', { role: 'source' }), 1)
  assert.equal(await value(m, 'cjp2p_node_info', { role: 'node' }), undefined, 'an info metric keeps one series')
  // A penalty that does not ban leaves bans alone.
  m.peerPenalised('flood', false)
  assert.equal(await value(m, 'cjp2p_peer_penalties_total', { reason: 'flood' }), 1)
  assert.equal(await value(m, 'cjp2p_peer_bans_total', { reason: 'flood' }), 0)
})

test('copies uploaded at the source: uploaded{role=source} / produced from the swarms\' totals', async () => {
  const m = new PrometheusMetrics({ processMetrics: false })
  let list: StreamStats[] = [{ stream: 'a', role: 'source', producedBytes: 1_000_000, uploadedBytes: 1_100_000 }]
  m.readStreams(() => list)
  await m.text()
  list = [{ stream: 'a', role: 'source', producedBytes: 2_000_000, uploadedBytes: 2_300_000 }]
  await m.text()
  const up = await value(m, 'cjp2p_stream_uploaded_bytes_total', { role: 'source' })
  const produced = await value(m, 'cjp2p_stream_produced_bytes_total', { role: 'source' })
  assert.equal(up! / produced!, 1.15)
  // A relayed stream counts as relay upload and produces nothing here.
  list = [...list, { stream: 'b', role: 'viewer', producedBytes: 0, uploadedBytes: 500 }]
  await m.text()
  assert.equal(await value(m, 'cjp2p_stream_uploaded_bytes_total', { role: 'relay' }), 500)
  assert.equal(await value(m, 'cjp2p_streams', { role: 'viewer' }), 1)
  // The owner restarted its counts: new totals are all new bytes; the counter never goes down.
  list = [list[0], { stream: 'b', role: 'viewer', producedBytes: 0, uploadedBytes: 200 }]
  await m.text()
  assert.equal(await value(m, 'cjp2p_stream_uploaded_bytes_total', { role: 'relay' }), 700)
  // Closed with 50 more sent since the scrape: those count, and the next scrape adds nothing again.
  list = [list[0]]
  m.streamClosed({ stream: 'b', role: 'viewer', producedBytes: 0, uploadedBytes: 250 })
  assert.equal(await value(m, 'cjp2p_streams', { role: 'viewer' }), 0)
  assert.equal(await value(m, 'cjp2p_stream_uploaded_bytes_total', { role: 'relay' }), 750)
  await m.text()
  assert.equal(await value(m, 'cjp2p_stream_uploaded_bytes_total', { role: 'relay' }), 750)
})

test('the stream counters read every stream from the swarms at each scrape; those gone leave the gauge', async () => {
  const m = new PrometheusMetrics({ processMetrics: false })
  let list = [{ stream: 'a', role: 'source' as const, producedBytes: 1000, uploadedBytes: 1200 }, { stream: 'b', role: 'viewer' as const, producedBytes: 0, uploadedBytes: 300 }]
  m.readStreams(() => list)
  assert.equal(await value(m, 'cjp2p_stream_produced_bytes_total', { role: 'source' }), 0, 'nothing is read before a scrape')
  await m.text()
  assert.equal(await value(m, 'cjp2p_stream_produced_bytes_total', { role: 'source' }), 1000)
  assert.equal(await value(m, 'cjp2p_stream_uploaded_bytes_total', { role: 'source' }), 1200)
  assert.equal(await value(m, 'cjp2p_stream_uploaded_bytes_total', { role: 'relay' }), 300)
  assert.equal(await value(m, 'cjp2p_streams', { role: 'viewer' }), 1)
  // The same totals scraped again count nothing twice; growth counts once; a stream gone is closed.
  await m.text()
  list = [{ stream: 'a', role: 'source', producedBytes: 3000, uploadedBytes: 3300 }]
  const text = await m.text()
  assert.match(text, /^cjp2p_stream_produced_bytes_total\{role="source"\} 3000$/m)
  assert.equal(await value(m, 'cjp2p_stream_uploaded_bytes_total', { role: 'source' }), 3300)
  assert.equal(await value(m, 'cjp2p_stream_uploaded_bytes_total', { role: 'relay' }), 300, 'a closed stream\'s bytes stay counted')
  assert.equal(await value(m, 'cjp2p_streams', { role: 'viewer' }), 0)
  assert.equal(await value(m, 'cjp2p_streams', { role: 'source' }), 1)
  // A reader that fails or returns garbage changes nothing and throws nothing.
  m.readStreams(() => { throw new Error('boom') })
  await m.text()
  m.readStreams(() => [null, { stream: 'a', role: 'source', producedBytes: NaN, uploadedBytes: 1 }] as never)
  await m.text()
  assert.equal(await value(m, 'cjp2p_stream_produced_bytes_total', { role: 'source' }), 3000)
})

test('bad input from domain code is ignored, never thrown', async () => {
  const m = new PrometheusMetrics({ processMetrics: false })
  for (const bad of [NaN, -1, Infinity, -Infinity]) {
    m.datagramSent('stream', 'relay', bad)
    m.datagramReceived('stream', bad)
    m.chunkVerified(bad, bad)
    m.peersGauge(bad, bad)
    m.relayFanout(bad)
    m.playbackStall(bad)
    m.httpRequest('/x', bad)
    m.streamClosed({ role: 'source', producedBytes: bad, uploadedBytes: 1 })
  }
  m.streamClosed(null as never)
  m.setNodeRole('admin' as never)
  assert.equal(await value(m, 'cjp2p_udp_sent_bytes_total', { kind: 'stream', role: 'relay' }), 0)
  assert.equal(await value(m, 'cjp2p_stream_produced_bytes_total', { role: 'source' }), 0)
  assert.equal(await value(m, 'cjp2p_http_requests_total', { route: '/x', code: 'other' }), 4)
  assert.equal(await value(m, 'cjp2p_node_info', { role: 'node' }), 1)
  // A source whose clock runs ahead reports a negative age: counted as instant, not lost (the
  // loop's -1 above is one such, this is the second).
  m.chunkVerified(-0.2, 0)
  assert.equal(await value(m, 'cjp2p_chunk_delay_seconds_bucket', { le: '0.01' }), 2)
  assert.equal(await value(m, 'cjp2p_chunk_hops_bucket', { le: '0' }), 1)
})

test('HTTP routes are capped so raw URLs cannot grow series without bound', async () => {
  const m = new PrometheusMetrics({ processMetrics: false, httpRoutes: ['/metrics'] })
  assert.equal(await value(m, 'cjp2p_http_requests_total', { route: '/metrics', code: '200' }), 0)
  for (let i = 0; i < 200; i++) m.httpRequest(`/raw/${i}`, 404)
  const { values } = await m.registry.getSingleMetric('cjp2p_http_requests_total')!.get()
  const routes = new Set(values.map((v) => v.labels.route))
  assert.equal(routes.size, MAX_HTTP_ROUTES + 1)
  assert.ok(routes.has('other'))
})

test('text() serves project and process metrics; close() is idempotent and silences hooks', async () => {
  const m = new PrometheusMetrics()
  assert.match(m.contentType, /^text\/plain; version=0\.0\.4/)
  const text = await m.text()
  assert.match(text, /^# HELP cjp2p_build_info /m)
  assert.match(text, /^process_cpu_seconds_total /m)
  assert.match(text, /^nodejs_eventloop_lag_seconds /m)
  assert.doesNotMatch(await m.registry.metrics(), /process_cpu/, 'the project registry stays lint-clean')
  m.close()
  m.close()
  exercise(m)
  assert.equal(await m.text(), '')
  const quiet = new PrometheusMetrics({ processMetrics: false })
  assert.equal(await quiet.text(), await quiet.registry.metrics())
})

test('noMetrics implements every hook, optional ones included', () => {
  exercise(noMetrics)
  for (const fn of ['setNodeRole', 'readStreams', 'streamClosed', 'streamBytesUploaded'] as const) assert.equal(typeof noMetrics[fn], 'function')
})
