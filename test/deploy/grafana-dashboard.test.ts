import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { PrometheusMetrics } from '../../src/metrics/prometheus-sink.ts'
import { DASHBOARD_PATH, DATASOURCE_UID, dashboardJson } from '../../scripts/grafana-dashboard.ts'
import {
  DEFAULT_RULES, dashboardQueries, expandVariables, metricNamesIn, recordedNames, ruleQueries, shippedQueries,
} from '../../scripts/dashboard-queries.ts'

const deploy = (p: string) => fileURLToPath(new URL(`../../deploy/${p}`, import.meta.url))

/** Every series name /metrics can serve (histograms' _bucket/_sum/_count included), plus what
 * Prometheus adds itself and what the recording rules define. */
async function knownNames(): Promise<Set<string>> {
  const m = new PrometheusMetrics({ processMetrics: false })
  // The audience series exist on a source once its telemetry reports.
  m.setAudience({ viewers: 1, byDepth: [0, 1], onTime: 1, late: 0, missed: 0, delay: [], stalls: 0, stallSeconds: 0, offload: null, suspect: 0, windowMs: 30_000, nat: { none: 0, cone: 1, symmetric: 0, unknown: 0 } })
  const served = (await m.registry.getMetricsAsJSON()).flatMap((x) =>
    String(x.type) === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => x.name + s) : [x.name])
  return new Set([...served, ...recordedNames(readFileSync(DEFAULT_RULES, 'utf8')), 'up'])
}

test('the committed dashboard is what scripts/grafana-dashboard.ts generates', () => {
  assert.equal(readFileSync(DASHBOARD_PATH, 'utf8'), dashboardJson(),
    'regenerate with: node --import tsx scripts/grafana-dashboard.ts')
})

test('every panel, target and variable uses the fixed datasource uid', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8'))
  const panels: Array<Record<string, unknown>> = dashboard.panels
  assert.ok(panels.length >= 15)
  for (const p of panels) {
    assert.deepEqual(p.datasource, { type: 'prometheus', uid: DATASOURCE_UID }, `panel ${String(p.title)}`)
    for (const t of (p.targets ?? []) as Array<Record<string, unknown>>) assert.deepEqual(t.datasource, { type: 'prometheus', uid: DATASOURCE_UID })
  }
  for (const v of dashboard.templating.list) assert.equal(v.datasource.uid, DATASOURCE_UID)
  const ds = readFileSync(deploy('grafana/provisioning/datasources/cjp2p-prometheus.yml'), 'utf8')
  assert.match(ds, new RegExp(`^\\s+uid: ${DATASOURCE_UID}$`, 'm'))
  assert.match(readFileSync(deploy('grafana/provisioning/dashboards/cjp2p.yml'), 'utf8'), /^\s+type: file$/m)
})

test('the dashboard covers what an operator asks first', () => {
  const titles = JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')).panels.map((p: { title: string }) => p.title.toLowerCase()).join('\n')
  for (const topic of ['copies', 'offload', 'bitrate', 'upload per node', 'p50 / p95 / p99', 'heatmap', 'hops',
    'completeness', 'peers', 'stalls', 'control overhead', 'bans', 'viewers', 'audience delay']) assert.ok(titles.includes(topic), `no panel for ${topic}`)
})

test('every shipped query is non-empty, fully expanded and selects only defined series', async () => {
  const known = await knownNames()
  const queries = shippedQueries()
  assert.ok(queries.filter((q) => q.source === 'dashboard').length >= 25)
  assert.equal(queries.filter((q) => q.source === 'rules').length, 25)
  for (const q of queries) {
    assert.ok(q.expr.trim().length > 0, `${q.name}: empty expr`)
    assert.ok(!q.promql.includes('$'), `${q.name}: unexpanded variable in ${q.promql}`)
    const names = metricNamesIn(q.promql)
    assert.ok(names.length > 0, `${q.name}: selects nothing`)
    for (const n of names) assert.ok(known.has(n), `${q.name}: unknown series ${n}`)
  }
})

test('query extraction: nested panels, variables, block scalars and name scanning', () => {
  const d = { panels: [{ type: 'row', title: 'r', panels: [{ title: 'inner', targets: [{ refId: 'A', expr: 'rate(a_total{i=~"$instance"}[$__rate_interval])' }] }] }] }
  assert.deepEqual(dashboardQueries(d).map((q) => q.promql), ['rate(a_total{i=~".*"}[1m])'])
  assert.equal(expandVariables('x[${__rate_interval}] $unknown'), 'x[1m] $unknown')
  const yaml = 'groups:\n  - name: g\n    rules:\n      - record: a:b:c\n        expr: >-\n          sum(x)\n          / 2\n      - alert: "A"\n        expr: \'y > 1\'\n        for: 1m\n'
  assert.deepEqual(ruleQueries(yaml).map((q) => [q.name, q.expr]), [['a:b:c', 'sum(x) / 2'], ['A', 'y > 1']])
  assert.deepEqual(metricNamesIn('histogram_quantile(0.9, sum by (le) (rate(cjp2p_x_bucket{a="b(c)"}[5m] offset 1h))) * 1e3 > bool z:y'), ['cjp2p_x_bucket', 'z:y'])
  assert.deepEqual(metricNamesIn('a unless on (instance) b{role="source"} / on (job) group_left () c'), ['a', 'b', 'c'])
})
