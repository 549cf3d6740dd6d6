// A real Prometheus scrapes a real /metrics served from PrometheusMetrics; then every query the
// project ships (dashboard panels and rules) must at least parse and run against it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PrometheusMetrics } from '../../src/metrics/prometheus-sink.ts'
import { findPrometheus, PrometheusRunner } from '../../scripts/prometheus-runner.ts'
import { DEFAULT_RULES, shippedQueries } from '../../scripts/dashboard-queries.ts'

const skip = findPrometheus() ? false : 'SKIPPED LOUDLY: no prometheus binary (/usr/bin/prometheus or $PROMETHEUS_BIN)'
if (skip) console.warn(`\n*** ${skip} ***\n`)

async function serveMetrics(metrics: PrometheusMetrics): Promise<{ server: Server; target: string }> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') { res.writeHead(404).end(); return }
    metrics.text().then((body) => res.writeHead(200, { 'content-type': metrics.contentType }).end(body),
      () => res.writeHead(500).end())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, target: `127.0.0.1:${(server.address() as AddressInfo).port}` }
}

test('PrometheusRunner scrapes a node registry, answers queries, runs every shipped query', { skip, timeout: 90_000 }, async (t) => {
  const metrics = new PrometheusMetrics({ role: 'source' })
  metrics.readStreams(() => [{ stream: 'demo', role: 'source', producedBytes: 2_000_000, uploadedBytes: 2_500_000 }])
  metrics.peersGauge(7, 3)
  const { server, target } = await serveMetrics(metrics)
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  t.after(() => metrics.close())

  const prom = await PrometheusRunner.start({ targets: [target], ruleFiles: [DEFAULT_RULES] })
  t.after(() => prom.close())
  assert.ok(prom.pid > 0)
  assert.match(prom.url, /^http:\/\/127\.0\.0\.1:\d+$/)

  const targets = await prom.waitForTargets({ count: 1, timeoutMs: 30_000 })
  assert.equal(targets[0].health, 'up', prom.logs())

  const copies = await prom.waitForQuery('cjp2p_stream_uploaded_bytes_total{role="source"} / cjp2p_stream_produced_bytes_total',
    (s) => s.length === 1)
  assert.equal(copies[0].value, 1.25)
  assert.equal(copies[0].metric.instance, target)
  const [active] = (await prom.query('cjp2p_peers_active')).samples
  assert.equal(active.value, 3)
  const [info] = (await prom.query('cjp2p_node_info')).samples
  assert.equal(info.metric.role, 'source')
  assert.equal((await prom.query('1 + 1')).samples[0].value, 2)
  // Process metrics come through the same scrape.
  assert.equal((await prom.query('count(process_cpu_seconds_total)')).samples[0].value, 1)

  // The runner loaded deploy/prometheus/rules.yml: its recording rules evaluate on live data.
  const sinceStart = await prom.waitForQuery('cjp2p:source_copies_uploaded_since_start:ratio', (s) => s.length === 1)
  assert.equal(sinceStart[0].value, 1.25)

  // Every dashboard panel and rule expression is valid PromQL against live data.
  for (const q of shippedQueries()) await prom.query(q.promql)
  await assert.rejects(prom.query('sum(('), { code: 'ERR_PROMETHEUS_QUERY' })

  await prom.close()
  await prom.close()
  await assert.rejects(fetch(prom.url + '/-/ready'))
})
