// /dashboard/data.json: this node's status plus its dashboardPeers' statuses, read server-side
// with a timeout and caps, reused for a second, turned into the graph and series.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createPlayerApp, startHttpServer } from '../../src/player/app.ts'
import { DashboardCollector, MAX_DASHBOARD_PEERS, MIN_INTERVAL_MS, type DashboardData } from '../../src/player/pages/dashboard-collector.ts'
import { fakeDirectory } from './fake-log.ts'
import { fakeStatus } from './dashboard-fixtures.ts'

const quiet = { debug() {}, info() {}, warn() {} }
const S = '127.0.0.1:4000', A = '127.0.0.1:4001'

test('the collector reads its peers, reuses a collection for a second and reports unreachable peers', async () => {
  let now = 1_000_000
  const fetched: string[] = []
  const peerUrls = ['http://127.0.0.1:5001', 'http://127.0.0.1:5002', 'http://127.0.0.1:5003', 'http://127.0.0.1:5004']
  const collector = new DashboardCollector({
    now: () => now,
    status: () => fakeStatus({ udp: A, http: 'http://127.0.0.1:5999', parents: [S, S, S, S], fedBy: { [S]: 9 }, down: now, peers: peerUrls }),
    fetchStatus: async (url) => {
      fetched.push(url)
      if (url.startsWith(peerUrls[0])) return fakeStatus({ udp: S, role: 'source', children: [[A], [A], [A], [A]], up: now, produced: now })
      if (url.startsWith(peerUrls[1])) throw Object.assign(new Error('aborted'), { name: 'TimeoutError' })
      if (url.startsWith(peerUrls[2])) return { not: 'a status' }
      return fakeStatus({ udp: A }) // claims to be us: ignored, we know our own status
    },
  })
  const d = await collector.data()
  assert.deepEqual(fetched, peerUrls.map((u) => `${u}/status.json`))
  assert.equal(d.self, A)
  assert.equal(d.graph?.nodes.length, 2)
  assert.deepEqual(d.graph?.edges, [{ from: S, to: A, stripes: [0, 1, 2, 3], chunks: 9 }])
  assert.deepEqual(d.peers.map((p) => [p.ok, p.error ?? p.udp]), [[true, S], [false, 'timed out'], [false, 'not a node status'], [true, A]])
  assert.equal(d.nodes.length, 2)

  now += MIN_INTERVAL_MS / 2
  await collector.data()
  assert.equal(fetched.length, 4, 'a collection is reused within MIN_INTERVAL_MS')
  now += MIN_INTERVAL_MS
  const [x, y] = await Promise.all([collector.data(), collector.data()])
  assert.equal(fetched.length, 8, 'concurrent requests share one collection')
  assert.equal(x.generatedAt, y.generatedAt)
  assert.equal(x.series?.t.length, 2)
  assert.ok(x.series!.copies.at(-1)! > 0)
  assert.equal((await collector.data('stream/unknown')).stream, x.stream, 'an unknown stream falls back to the default')
})

test('the collector caps the peers it reads and works with no stream at all', async () => {
  const fetched: string[] = []
  const peers = Array.from({ length: 60 }, (_, i) => `http://127.0.0.1:${6000 + i}`)
  const collector = new DashboardCollector({
    status: () => ({ node: { udp: S, http: peers[0] }, streams: [], dashboardPeers: peers }),
    fetchStatus: async (url) => { fetched.push(url); return null },
  })
  const d = await collector.data()
  assert.equal(fetched.length, MAX_DASHBOARD_PEERS, 'capped')
  assert.ok(!fetched.includes(`${peers[0]}/status.json`), 'never itself')
  assert.deepEqual([d.stream, d.graph, d.series], [null, null, null])
  const none = await new DashboardCollector({ status: () => 'garbage' }).data()
  assert.deepEqual([none.self, none.streams, none.peers], [null, [], []])
})

async function listen(t: TestContext, handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server: Server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => { server.closeAllConnections(); return new Promise<void>((resolve) => server.close(() => resolve())) })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

test('/dashboard serves the page and its scripts; /dashboard/data.json reads real peers over HTTP', async (t) => {
  const source = await listen(t, (_req, res) => res.writeHead(200, { 'content-type': 'application/json' })
    .end(JSON.stringify(fakeStatus({ udp: S, role: 'source', children: [[A], [], [], []], up: 10, produced: 10 }))))
  const huge = await listen(t, (_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('[' + '0,'.repeat(400_000) + '0]') })
  const slow = await listen(t, () => { /* never answers: the collector's timeout must fire */ })
  const gone = await listen(t, (_req, res) => res.writeHead(500).end())
  const app = createPlayerApp({
    streams: fakeDirectory(), logger: quiet,
    status: () => fakeStatus({ udp: A, parents: [S, null, null, null], fedBy: { [S]: 3 }, peers: [source, huge, slow, gone, 'http://127.0.0.1:1'] }),
  })
  const server = await startHttpServer(app, { port: 0 })
  t.after(() => server.close())

  const page = await fetch(`${server.url}/dashboard`)
  const html = await page.text()
  assert.equal(page.status, 200)
  assert.match(html, /<script src="\/static\/dashboard-charts\.js"><\/script>/)
  assert.match(html, /<script src="\/static\/dashboard\.js"><\/script>/)
  assert.doesNotMatch(html, /<script>/, 'no inline script: the CSP forbids it')
  for (const js of ['/static/dashboard.js', '/static/dashboard-charts.js']) {
    const r = await fetch(server.url + js)
    assert.equal(r.status, 200)
    assert.match(r.headers.get('content-type') ?? '', /javascript/)
    assert.match(await r.text(), /window\.cjp2p/)
  }

  for (const icon of ['/favicon.svg', '/favicon.ico']) {
    const r = await fetch(server.url + icon)
    assert.equal(r.status, 200, icon)
    assert.equal(r.headers.get('content-type'), 'image/svg+xml', icon)
    assert.match(await r.text(), /^<svg /, 'served from the package, no CDN')
  }
  assert.match(html, /<link rel="icon" href="\/favicon\.svg" type="image\/svg\+xml">/)

  const started = Date.now()
  const res = await fetch(`${server.url}/dashboard/data.json?stream=${'x'.repeat(1500)}`)
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('cache-control'), 'no-store')
  const d = await res.json() as DashboardData
  assert.ok(Date.now() - started < 5000, 'a silent peer costs at most its timeout')
  assert.deepEqual(d.graph?.nodes.map((n) => n.id).sort(), [S, A])
  assert.deepEqual(d.graph?.edges, [{ from: S, to: A, stripes: [0], chunks: 3 }])
  const why = Object.fromEntries(d.peers.map((p) => [p.url, p.ok ? 'ok' : p.error]))
  assert.deepEqual(why, { [source]: 'ok', [huge]: 'status too large', [slow]: 'timed out', [gone]: 'HTTP 500', 'http://127.0.0.1:1': why['http://127.0.0.1:1'] })
  assert.notEqual(why['http://127.0.0.1:1'], 'ok')
})
