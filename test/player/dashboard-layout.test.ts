// The relay graph as a person sees it on one node: a tree by depth with the source on top, nodes
// labelled by an address this machine reaches, roles for nodes only named by others (never `?`),
// places kept between refreshes, and the series a viewer can draw without reading the source.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseNodeStatus, type DashboardNodeStatus } from '../../src/player/pages/dashboard-status.ts'
import { buildGraph, hopDepth, type RelayGraph } from '../../src/player/pages/dashboard-graph.ts'
import { GraphLayout } from '../../src/player/pages/dashboard-layout.ts'
import { DashboardHistory, seriesFrom } from '../../src/player/pages/dashboard-series.ts'
import { SID, fakeStatus, type FakeNode } from './dashboard-fixtures.ts'

const S = '127.0.0.1:4000', A = '127.0.0.1:4001', B = '127.0.0.1:4002', C = '127.0.0.1:4003', D = '127.0.0.1:4004'
const parse = (n: FakeNode): DashboardNodeStatus => parseNodeStatus(fakeStatus(n))!
const byId = (g: RelayGraph) => Object.fromEntries(g.nodes.map((n) => [n.id, n]))

test('a node bound to the wildcard address is labelled and matched by its loopback address', () => {
  const self = parseNodeStatus(fakeStatus({ udp: '0.0.0.0:4001', parents: ['0.0.0.0:4000', S, S, S] }))!
  assert.equal(self.udp, A)
  assert.deepEqual(self.streams[0].parents, [S, S, S, S])
  assert.equal(parseNodeStatus(fakeStatus({ udp: '[::]:4001' }))!.udp, '[::1]:4001')
  const g = buildGraph([self, parse({ udp: '0.0.0.0:4000', role: 'source', children: [[A], [A], [A], [A]] })], SID, self.udp)
  assert.deepEqual(g.nodes.map((n) => n.id).sort(), [S, A], 'the source\'s own address and the one its child names are one node')
})

test('a viewer that reads only itself draws its parents and children as a tree and says what it cannot see', () => {
  // This viewer (A) hangs off the source in stripe 2; D feeds it stripes 0, 1 and 3; it feeds B and C.
  const self = parse({ udp: A, parents: [D, D, S, D], children: [[B], [], [C], []], sources: [S], fedBy: { [D]: 30, [S]: 10 },
    up: 500, down: 4000, fromSource: 1000, hops: { 1: 10, 2: 30 } })
  const g = buildGraph([self], SID, A)
  const n = byId(g)
  assert.deepEqual(Object.values(n).map((x) => [x.id, x.role, x.depth, x.reporting]).sort(), [
    [S, 'source', 0, false], [A, 'relay', 1, true], [B, 'viewer', 2, false], [C, 'viewer', 2, false], [D, 'relay', 1, false],
  ].sort(), 'D is one hop above the 2-hop chunks it pushes to A, so it sits beside A')
  assert.ok(g.nodes.every((x) => ['source', 'relay', 'viewer'].includes(x.role)), 'no unknown role')
  assert.deepEqual(g.rows, [0, 1, 2])
  assert.ok(n[S].y < n[A].y && n[A].y === n[D].y && n[A].y < n[B].y && n[B].y === n[C].y, 'one row per depth, the source on top')
  assert.deepEqual(g.scope, { reporting: 1, named: 4, note: g.scope.note })
  assert.match(g.scope.note, /^This node sees its own parents and children; peers' status is not readable from here/)
})

test('a viewer deep in the tree that never heard from the source places its parent by its hop counts', () => {
  const self = parse({ udp: B, parents: [A, A, A, A], hops: { 3: 50 } })
  const g = buildGraph([self], SID, B)
  assert.deepEqual(g.nodes.map((x) => [x.id, x.role, x.depth]).sort(), [[A, 'relay', 2], [B, 'viewer', 3]])
  assert.deepEqual(g.rows, [2, 3], 'rows keep their true depth: the source and the first hop are not visible')
  // No chunks yet and no source: the parent still goes above its child.
  const fresh = buildGraph([parse({ udp: B, parents: [A, null, null, null], hops: {} })], SID, B)
  assert.deepEqual(fresh.nodes.map((x) => [x.id, x.depth]).sort(), [[A, 1], [B, 2]])
})

test('hopDepth takes the hop counts a real share of chunks took', () => {
  assert.deepEqual(hopDepth({ 1: 10, 2: 30 }), { min: 1, max: 2 })
  assert.deepEqual(hopDepth({ 1: 1, 2: 300, 5: 2 }), { min: 2, max: 2 }, 'a few repaired chunks do not move the depth')
  assert.equal(hopDepth({}), null)
  assert.equal(hopDepth(undefined), null)
})

test('positions stay put between refreshes; a newcomer is slotted in under its parent', () => {
  const layout = new GraphLayout()
  const statuses = (extra: string[]) => [parse({ udp: S, role: 'source', children: [[A], [B], [C], [A, ...extra]] })]
  const first = byId(buildGraph(statuses([]), SID, S, layout))
  const again = byId(buildGraph(statuses([]), SID, S, layout))
  for (const id of [S, A, B, C]) assert.deepEqual([again[id].x, again[id].y], [first[id].x, first[id].y], `${id} did not move`)
  // The source now lists its children in another order: the row keeps its order.
  const reordered = byId(buildGraph([parse({ udp: S, role: 'source', children: [[C], [B], [A], []] })], SID, S, layout))
  assert.deepEqual([A, B, C].map((id) => reordered[id].x), [A, B, C].map((id) => first[id].x))
  // D joins under A: A, B and C keep their order, D lands next to its parent's side.
  const joined = byId(buildGraph([
    parse({ udp: S, role: 'source', children: [[A], [B], [C], []] }),
    parse({ udp: A, parents: [S, null, null, null], children: [[D], [], [], []], up: 1 }),
  ], SID, S, layout))
  assert.ok(joined[A].x < joined[B].x && joined[B].x < joined[C].x, 'the first row kept its order')
  assert.equal(joined[D].depth, 2)
})

test('a viewer draws the stream bitrate from its signed head and the share it got from the source', () => {
  const h = new DashboardHistory()
  for (let i = 0; i <= 12; i++) {
    // 75 kB/s of stream, a head per 150 kB segment signed every 2 s; the dashboard polls each second.
    const seg = Math.floor(i / 2)
    h.add(10_000 + i * 1000, [parse({ udp: A, down: 75_000 * i, fromSource: 25_000 * i, headBytes: 150_000 * seg, headTime: 5_000 + 2000 * seg })], [SID])
  }
  const s = seriesFrom(h.snapshots(SID))
  assert.ok(s.bitrate.filter((v) => v !== null).length >= 8, `a bitrate once the heads span a few seconds: ${s.bitrate.join(',')}`)
  assert.ok(s.bitrate.every((v) => v === null || v === 75_000), `exactly the stream's rate, no saw-tooth: ${s.bitrate.join(',')}`)
  assert.ok(Math.abs(s.fromSource.at(-1)! - 1 / 3) < 1e-9)
  assert.deepEqual(s.copies.filter((v) => v !== null), [], 'source copies are not made up where the source is not read')
})

test('each stripe is also drawn as its own push tree, one parent per node', () => {
  // Every viewer is a direct child of the source in one stripe, so all stripes together put them
  // on one row; each stripe alone is a chain of depth 3.
  const order = [[A, B, C], [B, C, A], [C, A, B], [A, B, C]]
  const statuses = [parse({ udp: S, role: 'source', children: order.map((o) => [o[0]]) })]
  for (const id of [A, B, C]) {
    statuses.push(parse({
      udp: id, parents: order.map((o) => (o[0] === id ? S : o[o.indexOf(id) - 1])), up: 1,
      children: order.map((o) => (o.indexOf(id) < 2 ? [o[o.indexOf(id) + 1]] : [])),
    }))
  }
  const g = buildGraph(statuses, SID, A)
  assert.deepEqual(g.rows, [0, 1], 'together: everyone is one hop from the source in some stripe')
  assert.equal(g.stripeViews.length, 4)
  order.forEach((o, s) => {
    const v = g.stripeViews[s]
    assert.deepEqual(v.rows, [0, 1, 2, 3], `stripe ${s} is a chain`)
    assert.deepEqual([S, ...o].map((id) => v.at[id].depth), [0, 1, 2, 3])
  })
})
