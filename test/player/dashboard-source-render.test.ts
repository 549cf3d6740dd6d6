// The source's dashboard as the browser renders it (the page's own scripts on a fake DOM, fed
// /dashboard/data.json built by the real collector from a source's status with a 50-viewer
// audience and reading no viewer's status, as in bench:audience): the "Chunk delay" card plots the
// audience's merged p95 over its last hour instead of "no viewer's status is readable here".
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DashboardCollector } from '../../src/player/pages/dashboard-collector.ts'
import type { AudienceView } from '../../src/mesh/telemetry/audience-view.ts'
import type { AudiencePoint } from '../../src/mesh/telemetry/audience-history.ts'
import { fakeStatus } from './dashboard-fixtures.ts'
import { loadDashboardScripts, type FakePage } from './fake-svg-dom.ts'

const SRC = '127.0.0.1:5000'
const kids = [{ a: '127.0.0.1:5001', v: 30, h: 1 }, { a: '127.0.0.1:5002', v: 19, h: 0.95 }]
const view: AudienceView = {
  viewers: 50, byDepth: [0, 2, 8, 40], windowMs: 31_000,
  chunks: { onTime: 4900, late: 40, missed: 10, onTimeShare: 0.99, completeness: 0.998 },
  delayMs: { p50: 160, p95: 820, p99: 1400 }, delay: [[30, 100]],
  delayWindow: { from: 1_000_000, to: 1_030_000, endedMsAgo: 4000 },
  stalls: 0, stallSeconds: 0, uploadBytesPerSecond: 240_000, downloadBytesPerSecond: 250_000, offload: 0.96,
  versions: { '0.1.0': 50 }, nat: { none: 50, cone: 0, symmetric: 0, unknown: 0 }, suspect: 0, reporters: 2, kids,
  traffic: { sent: 0, sentBytes: 0, received: 400, receivedBytes: 90_000, grantsSentBytes: 0, grantsReceivedBytes: 0 },
}
// Six points, 10 s apart: the first before any delay reached the source.
const history: AudiencePoint[] = [null, 900, 860, 840, 830, 820].map((p95Ms, i) => ({
  t: 2_000_000 + i * 10_000, viewers: i === 0 ? 12 : 50, onTimeShare: 0.99, p95Ms, stalls: 0, offload: 0.96, suspect: 0,
}))

async function renderSource(children = [['127.0.0.1:5001'], ['127.0.0.1:5002'], ['127.0.0.1:5001'], ['127.0.0.1:5002']]): Promise<FakePage> {
  const status = fakeStatus({ udp: SRC, role: 'source', produced: 5e6, up: 1e7, children })
  const stream = (status.streams as Array<Record<string, unknown>>)[0]
  Object.assign(stream, { audience: view, audienceHistory: history, pathToSource: [] })
  // A source's data: its own status and nobody else's (dashboardPeers is empty).
  const data = JSON.parse(JSON.stringify(await new DashboardCollector({ status: () => status }).data()))
  let answered!: () => void
  const rendered = new Promise<void>((r) => { answered = r })
  const page = loadDashboardScripts(['dashboard-charts.js', 'dashboard-audience.js', 'dashboard.js'],
    async () => ({ ok: true, json: async () => { setImmediate(answered); return data } }))
  await rendered
  const state = page.window.cjp2pDashboard as { updates: number; error: string | null }
  assert.equal(state.error, null)
  assert.equal(state.updates, 1)
  return page
}

test("the source's chunk-delay card plots the audience's merged p95, not 'no viewer's status is readable here'", async () => {
  const page = await renderSource()
  const card = page.byId('delay')
  assert.doesNotMatch(card.textContent, /status is readable/)
  const lines = card.all('path').filter((p) => p.getAttribute('fill') === 'none')
  assert.equal(lines.length, 1, 'one line: the p95 over every viewer')
  // One vertex per point that carries a p95 (the first had none): M + 4 L.
  assert.equal((lines[0].getAttribute('d') ?? '').match(/[ML]/g)?.length, 5)
  assert.match(page.byId('delay-title').textContent, /every viewer/)
  // The top tile reads the same audience.
  assert.equal(page.byId('t-delay').querySelector('.value').textContent, '820 ms')
})

test("the source's relay graph writes each child's subtree size and health from the telemetry under it, coloured by health", async () => {
  const page = await renderSource()
  const nodes = page.byId('graph').all('g').filter((g) => (g.getAttribute('class') ?? '').includes('named'))
  const under = (addr: string) => {
    const g = nodes.find((x) => x.all('text').some((t) => t.textContent === addr))
    assert.ok(g, `${addr} drawn`)
    return { text: g.all('text').map((t) => t.textContent).join(' | '), ring: g.all('circle').find((c) => c.getAttribute('class') === 'body')!.getAttribute('stroke') }
  }
  const a = under('127.0.0.1:5001')
  const b = under('127.0.0.1:5002')
  assert.match(a.text, /subtree 30 · on time 100\.0 %/)
  assert.match(b.text, /subtree 19 · on time 95\.0 %/)
  assert.doesNotMatch(a.text + b.text, /status not readable/)
  // Green at >= 99 % on time, amber at >= 90 %, as in the "Top of the tree" list.
  assert.equal(a.ring, '#90e05a')
  assert.equal(b.ring, '#ffb703')
})

test('subtrees named "__proto__" or "constructor" by a summary are written under their nodes like any other', () => {
  const page = loadDashboardScripts(['dashboard-charts.js', 'dashboard-audience.js'])
  const { subtrees } = page.window.cjp2pAudience as { subtrees: (a: unknown) => Record<string, { short: string }> }
  const out = subtrees({ view: { kids: [{ a: 'constructor', v: 3, h: 1 }, { a: '__proto__', v: 4, h: 1, k: [{ a: '127.0.0.1:9', v: 1, h: 1 }] }] } })
  assert.equal(out['constructor' as string]?.short, 'subtree 3')
  assert.equal(Object.getOwnPropertyDescriptor(out, '__proto__')?.value.short, 'subtree 4')
  assert.equal(out['127.0.0.1:9']?.short, 'subtree 1')
})

test("a child of the source whose reports climb another parent says it is counted there, not 'status not readable'", async () => {
  const page = await renderSource([['127.0.0.1:5001'], ['127.0.0.1:5002'], ['127.0.0.1:5001'], ['127.0.0.1:5003']])
  const nodes = page.byId('graph').all('g').filter((g) => (g.getAttribute('class') ?? '').includes('named'))
  const g = nodes.find((x) => x.all('text').some((t) => t.textContent === '127.0.0.1:5003'))
  assert.ok(g, '127.0.0.1:5003 drawn')
  const text = g.all('text').map((t) => t.textContent).join(' | ')
  assert.match(text, /stripe 3 · counted via another parent/)
  assert.doesNotMatch(text, /status not readable/)
})

test("the audience's viewers tile is green with viewers and neutral with none", async () => {
  assert.equal((await renderSource()).byId('a-viewers').dataset.level, 'good')
  const was = view.viewers
  view.viewers = 0
  try {
    assert.equal((await renderSource()).byId('a-viewers').dataset.level, '')
  } finally {
    view.viewers = was
  }
})

test("the source's 'Hops from the source' card shows the audience by depth from the telemetry", async () => {
  const page = await renderSource()
  const card = page.byId('hops')
  const labels = card.all('text').map((t) => t.textContent)
  // byDepth [0, 2, 8, 40]: depth 0 is the source itself, not a viewer.
  for (const [row, n] of [['1 hop', '2 viewers'], ['2 hops', '8 viewers'], ['3 hops', '40 viewers']]) {
    const i = labels.indexOf(row)
    assert.ok(i >= 0, `row ${row} in ${JSON.stringify(labels)}`)
    assert.ok(labels.includes(n), `${n} in ${JSON.stringify(labels)}`)
  }
  assert.ok(!labels.includes('0 hops'))
  assert.doesNotMatch(card.textContent, /source is hop 0|waiting for data/)
  assert.match(page.byId('hops-note').textContent, /viewers by depth/)
})

test("a viewer's 'Hops from the source' card shows its own chunks' hops and path, not its readable peers'", async () => {
  const me = '127.0.0.1:5002'
  const status = fakeStatus({ udp: me, role: 'viewer', hops: { 2: 30, 3: 2 }, peers: ['http://127.0.0.1:6003'], parents: ['127.0.0.1:5001', null, null, null] })
  const stream = (status.streams as Array<Record<string, unknown>>)[0]
  Object.assign(stream, { audience: { ...view, viewers: 1, byDepth: [1], kids: [] }, audienceHistory: [], pathToSource: ['127.0.0.1:5001', SRC], sources: [SRC] })
  // A peer on the same machine whose status is readable: its chunks are not this viewer's path.
  const peer = fakeStatus({ udp: '127.0.0.1:5003', role: 'viewer', hops: { 5: 99 } })
  const data = JSON.parse(JSON.stringify(await new DashboardCollector({ status: () => status, fetchStatus: async () => peer }).data()))
  assert.equal(data.nodes.length, 2, 'the peer is readable')
  let answered!: () => void
  const rendered = new Promise<void>((r) => { answered = r })
  const page = loadDashboardScripts(['dashboard-charts.js', 'dashboard-audience.js', 'dashboard.js'],
    async () => ({ ok: true, json: async () => { setImmediate(answered); return data } }))
  await rendered
  const labels = page.byId('hops').all('text').map((t) => t.textContent)
  assert.ok(labels.includes('2 hops') && labels.includes('30 chunks'), JSON.stringify(labels))
  assert.ok(labels.includes('3 hops') && labels.includes('2 chunks'), JSON.stringify(labels))
  assert.ok(!labels.includes('5 hops'), `the peer's hops are not this viewer's: ${JSON.stringify(labels)}`)
  assert.match(page.byId('hops-note').textContent, /2 hops to the source up its report tree/)
})
