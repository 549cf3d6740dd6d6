// A real Prometheus scrapes a live swarm (a source streaming real ffmpeg testsrc, 3 relaying
// viewers, each Runtime's own /metrics). Source copies uploaded from PromQL must match the
// source's own counters, and every PromQL expression the project ships (Grafana dashboard panels,
// recording and alerting rules) must run against it; the core ones must return data.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FFMPEG_BIN, missingTools, startLiveSwarm } from './dashboard-swarm.ts'
import { DEFAULT_RULES, shippedQueries } from '../../scripts/dashboard-queries.ts'
import { findPrometheus, PrometheusRunner } from '../../scripts/prometheus-runner.ts'

const skip = missingTools([FFMPEG_BIN]) ?? (findPrometheus() ? null : 'SKIPPED LOUDLY: no prometheus binary (/usr/bin/prometheus or $PROMETHEUS_BIN)')
if (skip) console.warn(`\n*** ${skip} ***\n`)

/** Expressions that must return samples on a healthy live swarm (others may be empty: no bans,
 * no stalls without a player, no file transfers). */
const CORE = [
  'cjp2p:source_copies_uploaded:ratio', 'cjp2p:source_copies_uploaded_since_start:ratio', 'cjp2p:p2p_offload:ratio',
  'cjp2p:stream_produced_bytes:rate1m', 'cjp2p:stream_uploaded_bytes:rate1m', 'instance:cjp2p_udp_sent_bytes:rate1m',
  'cjp2p:chunk_delay_seconds:p50', 'cjp2p:chunk_delay_seconds:p95', 'cjp2p:chunk_delay_seconds:p99', 'cjp2p:chunk_hops:mean',
  'instance:cjp2p_delivery_completeness:ratio', 'instance:cjp2p_control_overhead:ratio',
]

test('Prometheus scrapes a live 4-node swarm: source copies match the source, every shipped query runs', { skip: skip ?? false, timeout: 90_000 }, async (t) => {
  const swarm = await startLiveSwarm(3)
  t.after(() => swarm.close())
  const targets = swarm.all.map((rt) => new URL(rt.httpUrl!).host)
  const prom = await PrometheusRunner.start({ targets, ruleFiles: [DEFAULT_RULES] })
  t.after(() => prom.close())
  const up = await prom.waitForTargets({ count: 4, timeoutMs: 30_000 })
  assert.equal(up.filter((x) => x.health === 'up').length, 4, prom.logs())

  // The source publishes its stream counters every few seconds; wait until it has uploaded a
  // few seconds of stream, then compare Prometheus' view with the source's own status.
  const source = swarm.source.streams.list()[0]
  // Every node exports both counters (viewers at 0), so `> 0` keeps their 0/0 out.
  const copiesExpr = 'cjp2p_stream_uploaded_bytes_total{role="source"} / (cjp2p_stream_produced_bytes_total > 0)'
  const [copies] = await prom.waitForQuery(copiesExpr, (s) => s.length === 1 && s[0].value > 0, 40_000)
  assert.equal(copies.metric.instance, new URL(swarm.source.httpUrl!).host, 'only the source produces')
  const own = source.status()
  assert.ok(Math.abs(copies.value - own.copiesUploaded) < 0.25,
    `PromQL says the source uploaded ${copies.value.toFixed(3)} copies, its own counters say ${own.copiesUploaded.toFixed(3)}`)
  const [uploaded] = (await prom.query(`cjp2p_stream_uploaded_bytes_total{role="source",instance="${copies.metric.instance}"}`)).samples
  const [produced] = (await prom.query('cjp2p_stream_produced_bytes_total > 0')).samples
  // Prometheus lags the live counters by the publish interval plus a scrape: never ahead, and
  // behind by at most ~15 s of a stream well under 1 MB/s.
  for (const [name, scraped, live] of [['uploaded', uploaded.value, own.uploadedBytes], ['produced', produced.value, own.producedBytes]] as const) {
    assert.ok(scraped <= live && scraped >= live - 15_000_000 && scraped > 0, `${name}: scraped ${scraped}, live ${live}`)
  }
  // A chain relays: the source sends about one copy, not one per viewer.
  assert.ok(copies.value > 0.5 && copies.value < 2, `source copies ${copies.value}`)

  // The recording rules evaluate on live data.
  for (const expr of CORE) {
    await prom.waitForQuery(expr, (s) => s.length > 0 && s.every((x) => Number.isFinite(x.value)), 40_000)
  }
  const [rule] = (await prom.query('cjp2p:source_copies_uploaded_since_start:ratio')).samples
  assert.ok(Math.abs(rule.value - own.copiesUploaded) < 0.25, `recording rule ${rule.value} vs source ${own.copiesUploaded}`)
  // Rates over 1m need a few scrapes of every node before they settle: wait, do not sample once.
  const [offload] = await prom.waitForQuery('cjp2p:p2p_offload:ratio', (s) => s.length > 0 && s[0].value > 0.3, 40_000)
  assert.ok(offload.value > 0.3 && offload.value <= 1, `viewers relay to each other: offload ${offload.value}`)

  // The whole audience from the one source target: its telemetry counted the 3 viewers up the
  // stripe-0 tree, and the merged delay histogram reads as a quantile.
  // On failure, the stripe trees say why (a viewer without a stripe-0 parent is not counted).
  const trees = () => swarm.all.map((rt) => {
    const st = rt.streams.list()[0]?.status()
    return `${rt.udpAddress}: parents ${st?.parents.map((p) => p ?? '-').join(' ')} children ${JSON.stringify(st?.children)}`
  }).join('\n')
  const [viewers] = await prom.waitForQuery('cjp2p:audience_viewers:sum', (s) => s.length === 1 && s[0].value === 3, 40_000)
    .catch((err: Error) => { throw new Error(`${err.message}\n${trees()}`) })
  assert.equal(viewers.value, 3)
  assert.equal(source.status().audience.viewers, 3, 'the source\'s own view agrees')
  const [p95] = await prom.waitForQuery('cjp2p:audience_chunk_delay_seconds:p95', (s) => s.length === 1 && Number.isFinite(s[0].value), 40_000)
  assert.ok(p95.value > 0 && p95.value < 10, `audience p95 ${p95.value} s`)

  // Every dashboard panel and rule: valid PromQL on this swarm, never an error.
  const queries = shippedQueries()
  assert.ok(queries.length > 20, `${queries.length} shipped queries`)
  const empty: string[] = []
  for (const q of queries) {
    const r = await prom.query(q.promql).catch((err: Error) => { throw new Error(`${q.source} "${q.name}": ${err.message}`) })
    if (r.samples.length === 0) empty.push(q.name)
  }
  t.diagnostic(`${queries.length} shipped queries ran; empty on this swarm: ${empty.join(', ') || 'none'}`)
  assert.ok(empty.includes('Cjp2pSourceUploadsTooManyCopies'), 'a relaying swarm does not trip the too-many-copies alert')
  const dashboardWithData = queries.filter((q) => q.source === 'dashboard' && !empty.includes(q.name)).length
  assert.ok(dashboardWithData >= queries.filter((q) => q.source === 'dashboard').length / 2, `most dashboard panels show data (empty: ${empty.join(', ')})`)
})
