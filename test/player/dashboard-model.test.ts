// The pure parts of the dashboard: remote statuses checked into typed ones, turned into the relay
// graph (nodes, edges, layout) and into plot series.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MAX_ADDRS_PER_LIST, MAX_STREAMS_PER_NODE, parseNodeStatus, type DashboardNodeStatus } from '../../src/player/pages/dashboard-status.ts'
import { buildGraph, MAX_GRAPH_NODES, streamsIn } from '../../src/player/pages/dashboard-graph.ts'
import { DashboardHistory, MAX_HISTORY, seriesFrom } from '../../src/player/pages/dashboard-series.ts'
import { SID, fakeStatus } from './dashboard-fixtures.ts'

const S = '127.0.0.1:4000', A = '127.0.0.1:4001', B = '127.0.0.1:4002', C = '127.0.0.1:4003'

/** Source -> A (all stripes) -> B (stripes 0,1) and C (stripes 2,3); C also repaired from B. */
function chainStatuses(): DashboardNodeStatus[] {
  return [
    fakeStatus({ udp: S, role: 'source', children: [[A], [A], [A], [A]], up: 1000, produced: 1000 }),
    fakeStatus({ udp: A, parents: [S, S, S, S], children: [[B], [B], [C], [C]], fedBy: { [S]: 40 }, up: 1000, down: 1000, fromSource: 1000, hops: { 1: 40 } }),
    fakeStatus({ udp: B, parents: [A, A, null, null], fedBy: { [A]: 40 }, down: 1000, hops: { 2: 40 } }),
    fakeStatus({ udp: C, parents: [null, null, A, A], fedBy: { [A]: 30, [B]: 10 }, down: 1000, hops: { 2: 30, 3: 10 } }),
  ].map((s) => parseNodeStatus(s)!)
}

test('parseNodeStatus keeps what the dashboard needs and survives garbage', () => {
  for (const bad of [null, 1, 'x', [], {}, { node: {} }, { node: { udp: 'not an address' } }, { node: { udp: '<b>:1' } }]) {
    assert.equal(parseNodeStatus(bad), null, JSON.stringify(bad))
  }
  const st = parseNodeStatus({ node: { udp: '127.0.0.1:9', http: 'javascript:alert(1)' }, streams: [{ id: SID, parents: ['<script>', 5, '10.0.0.1:7'], fedBy: { '<x>': 3, '10.0.0.1:7': -1 },
    uploadedBytes: Infinity, delayMs: 'no', hops: { 99: 5, 2: 1, x: 4 }, children: 'no' }, 'junk'], dashboardPeers: ['http://127.0.0.1:5/', 'file:///etc/passwd', 7] })!
  assert.equal(st.http, null)
  assert.deepEqual(st.dashboardPeers, ['http://127.0.0.1:5'])
  const s = st.streams[0]
  assert.deepEqual(s.parents, [null, null, '10.0.0.1:7'])
  assert.deepEqual(s.fedBy, { '10.0.0.1:7': 0 })
  assert.deepEqual(s.children, [])
  assert.equal(s.uploadedBytes, 0)
  assert.deepEqual(s.delayMs, { p50: 0, p95: 0, p99: 0, count: 0 })
  assert.deepEqual(s.hops, { 2: 1, 16: 5 })
  assert.equal(st.streams.length, 1)

  const many = parseNodeStatus({ node: { udp: '127.0.0.1:9' }, streams: Array.from({ length: 50 }, (_, i) => ({ id: `s${i}`, children: [Array.from({ length: 500 }, (_, j) => `10.0.0.1:${j + 1}`)] })) })!
  assert.equal(many.streams.length, MAX_STREAMS_PER_NODE)
  assert.equal(many.streams[0].children[0].length, MAX_ADDRS_PER_LIST)
})

test('buildGraph draws who feeds whom per stripe, weighted by chunks, layered from the source', () => {
  const g = buildGraph(chainStatuses(), SID, C)
  assert.equal(g.stripes, 4)
  assert.deepEqual(g.nodes.map((n) => [n.id, n.role, n.depth, n.self]).sort(), [
    [S, 'source', 0, false], [A, 'relay', 1, false], [B, 'viewer', 2, false], [C, 'viewer', 2, true],
  ].sort())
  const edge = (f: string, t: string) => g.edges.find((e) => e.from === f && e.to === t)
  assert.deepEqual(edge(S, A), { from: S, to: A, stripes: [0, 1, 2, 3], chunks: 40 })
  assert.deepEqual(edge(A, B), { from: A, to: B, stripes: [0, 1], chunks: 40 })
  assert.deepEqual(edge(A, C), { from: A, to: C, stripes: [2, 3], chunks: 30 })
  assert.deepEqual(edge(B, C), { from: B, to: C, stripes: [], chunks: 10 }, 'a fedBy-only link is repair')
  assert.equal(g.edges.length, 4)
  for (const n of g.nodes) assert.ok(n.x > 0 && n.x < 1 && n.y > 0 && n.y < 1)
  const y = Object.fromEntries(g.nodes.map((n) => [n.id, n.y]))
  assert.ok(y[S] < y[A] && y[A] < y[B] && y[B] === y[C], 'rows by hops from the source, the source on top')
  assert.deepEqual(g.rows, [0, 1, 2])
  assert.equal(g.scope.named, 0)
})

test('buildGraph shows nodes only named by others, and caps what peers can grow', () => {
  const [src] = chainStatuses()
  const g = buildGraph([src], SID, S)
  assert.deepEqual(g.nodes.map((n) => [n.id, n.role, n.reporting, n.depth]), [[S, 'source', true, 0], [A, 'viewer', false, 1]])
  assert.match(g.scope.note, /^The source sees its own children; peers' status is not readable from here/)
  const huge = parseNodeStatus(fakeStatus({ udp: S, role: 'source', children: Array.from({ length: 4 }, (_, s) => Array.from({ length: 64 }, (_, i) => `10.0.${s}.1:${i + 1}`)) }))!
  assert.equal(buildGraph([huge], SID, null).nodes.length, MAX_GRAPH_NODES)
  assert.deepEqual(buildGraph(chainStatuses(), 'stream/other', null), {
    stream: 'stream/other', stripes: 0, nodes: [], edges: [], rows: [], stripeViews: [], scope: { reporting: 0, named: 0, note: 'Every node drawn reported its own status.' },
  })
  assert.deepEqual(streamsIn(chainStatuses()), [SID])
})

test('seriesFrom turns snapshots into copies, offload, rates, delay and stalls', () => {
  const h = new DashboardHistory()
  const at = (t: number, k: number, opts: { stallsC?: number } = {}) => h.add(t, [
    fakeStatus({ udp: S, role: 'source', up: 1000 * k, produced: 1000 * k }),
    fakeStatus({ udp: A, up: 2000 * k, down: 1000 * k, fromSource: 1000 * k, p95: 100 }),
    fakeStatus({ udp: B, down: 1000 * k, p95: 300 }),
    fakeStatus({ udp: C, down: 1000 * k, p95: 200, stalls: opts.stallsC ?? 0 }),
  ].map((s) => parseNodeStatus(s)!), [SID])
  for (let i = 0; i <= 10; i++) at(10_000 + i * 1000, i + 1, { stallsC: i >= 5 ? 2 : 0 })
  const s = seriesFrom(h.snapshots(SID))
  assert.equal(s.t.length, 11)
  assert.equal(s.t.at(-1), 0)
  assert.equal(s.t[0], -10)
  assert.equal(s.copies.at(-1), 1)
  assert.equal(s.copiesRecent[0], null, 'no rate from a single snapshot')
  assert.equal(s.copiesRecent.at(-1), 1)
  assert.ok(Math.abs(s.offload.at(-1)! - 2 / 3) < 1e-9, 'two of three viewers got it from a viewer')
  assert.ok(Math.abs(s.fromSource.at(-1)! - 1 / 3) < 1e-9, 'since start, a third of the viewers\' bytes came from the source')
  assert.deepEqual(s.bitrate.slice(0, 3), [null, null, null], 'no bitrate before the history spans a few seconds')
  assert.equal(s.bitrate.at(-1), 1000)
  assert.equal(s.upload[A].at(-1), 2000)
  assert.equal(s.download[C].at(-1), 1000)
  assert.equal(s.delay.p95.at(-1), 300, 'worst viewer')
  assert.deepEqual(s.stalls[C].slice(4, 7), [0, 2, 2])
  assert.deepEqual(s.bars.find((b) => b.id === A), { id: A, role: 'viewer', upRate: 2000, downRate: 1000, uploaded: 22000, received: 11000, fromSource: 11000 })

  // A restarted node (counters back to zero) gives a gap, never a negative rate.
  h.add(21_000, [parseNodeStatus(fakeStatus({ udp: S, role: 'source', up: 5, produced: 5 }))!], [SID])
  const r = seriesFrom(h.snapshots(SID))
  assert.equal(r.copiesRecent.at(-1), null)
  assert.equal(r.upload[S].at(-1), null)
  assert.equal(r.upload[A].at(-1), null, 'a node missing from the newest snapshot')
  assert.ok(Object.values(r.upload).flat().every((v) => v === null || v >= 0))

  for (let i = 0; i < MAX_HISTORY + 20; i++) at(30_000 + i * 1000, i)
  assert.equal(h.snapshots(SID).length, MAX_HISTORY)
  assert.deepEqual(seriesFrom([]), { t: [], copies: [], copiesRecent: [], offload: [], fromSource: [], bitrate: [], upload: {}, download: {}, delay: { p50: [], p95: [], p99: [] }, stalls: {}, bars: [] })
})
