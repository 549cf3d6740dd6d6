// The relay graph as the browser draws it (static/dashboard-charts.js, run on a fake DOM): links
// leave a parent below its address and its role line, so no link crosses the text under a node
// (the source's labels, with a link per stripe starting at its circle, were struck through on the
// bench's 50-viewer screenshot).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FakeElement, loadDashboardScripts } from './fake-svg-dom.ts'

type Charts = { relayGraph(host: FakeElement, graph: unknown, fmtBytes: (n: number) => string, stripe?: number): FakeElement }

const node = (id: string, role: string, depth: number, x: number, reporting = false) =>
  ({ id, role, self: role === 'source', reporting, http: null, uploadedBytes: 1e6, receivedBytes: 0, depth, x, y: depth })

const graph = {
  stream: 's', stripes: 4, rows: [0, 1, 2],
  nodes: [node('127.0.0.1:5000', 'source', 0, 0.5, true), node('127.0.0.1:5001', 'viewer', 1, 0.2), node('127.0.0.1:5002', 'viewer', 1, 0.5),
    node('127.0.0.1:5003', 'viewer', 1, 0.8), node('127.0.0.1:5004', 'viewer', 2, 0.5)],
  edges: [
    { from: '127.0.0.1:5000', to: '127.0.0.1:5001', stripes: [3], chunks: 10 },
    { from: '127.0.0.1:5000', to: '127.0.0.1:5002', stripes: [1], chunks: 10 },
    { from: '127.0.0.1:5000', to: '127.0.0.1:5003', stripes: [0, 2], chunks: 10 },
    { from: '127.0.0.1:5002', to: '127.0.0.1:5004', stripes: [0, 1, 2, 3], chunks: 10 },
  ],
  stripeViews: [],
}

/** Start point of an SVG path "Mx,y ...". */
function start(p: FakeElement): { x: number; y: number } {
  const m = /^M(-?[\d.]+),(-?[\d.]+)/.exec(p.getAttribute('d') ?? '')
  assert.ok(m, p.getAttribute('d') ?? 'no d')
  return { x: Number(m[1]), y: Number(m[2]) }
}

test('links leave a node below the labels under it, so none strikes through its text', () => {
  const charts = loadDashboardScripts(['dashboard-charts.js']).window.cjp2pCharts as Charts
  const svg = charts.relayGraph(new FakeElement('div'), graph, (n) => `${n} B`)
  const nodes = svg.all('g').filter((g) => (g.getAttribute('class') ?? '').startsWith('node'))
  assert.equal(nodes.length, graph.nodes.length)
  // The lowest baseline of the text drawn under each node's circle, by the circle's centre.
  const labelsBottom = nodes.map((g) => {
    const c = g.all('circle').find((x) => x.getAttribute('class') === 'body')!
    const under = g.all('text').filter((t) => t.num('y') > c.num('cy') + c.num('r'))
    assert.ok(under.length >= 2, 'an address and a role line under the node')
    return { x: c.num('cx'), y: c.num('cy'), bottom: Math.max(...under.map((t) => t.num('y'))) }
  })
  const links = svg.all('path').filter((p) => p.getAttribute('marker-end'))
  assert.equal(links.length, 1 + 1 + 2 + 4, 'one link per stripe')
  for (const p of links) {
    const s = start(p)
    const parent = labelsBottom.find((n) => Math.abs(n.x - s.x) <= 10 && s.y > n.y)
    assert.ok(parent, `link starting at ${s.x},${s.y} belongs to a node above it`)
    // A baseline at y: descenders reach about 3 px below it.
    assert.ok(s.y >= parent.bottom + 3, `link from ${s.x},${s.y} starts below its parent's labels (bottom ${parent.bottom})`)
  }
})

test('links within a row pass under the labels of the nodes between: a plate in the row colour covers them', () => {
  const charts = loadDashboardScripts(['dashboard-charts.js']).window.cjp2pCharts as Charts
  // Three relays in one row feeding each other (a viewer's dashboard of the demo swarm): the
  // leftward links bow below the row, through the middle node's labels.
  const row = {
    stream: 's', stripes: 4, rows: [0, 1],
    nodes: [node('127.0.0.1:5000', 'source', 0, 0.5, true), node('127.0.0.1:5001', 'relay', 1, 0.2, true), node('127.0.0.1:5002', 'relay', 1, 0.5, true), node('127.0.0.1:5003', 'relay', 1, 0.8, true)],
    edges: [{ from: '127.0.0.1:5003', to: '127.0.0.1:5001', stripes: [0, 1, 2], chunks: 10 }, { from: '127.0.0.1:5000', to: '127.0.0.1:5002', stripes: [1], chunks: 10 }],
    stripeViews: [],
  }
  const svg = charts.relayGraph(new FakeElement('div'), row, (n) => `${n} B`)
  const top = svg.children
  const lastLink = Math.max(...top.map((c, i) => (c.tag === 'g' && c.all('path').some((p) => p.getAttribute('marker-end')) ? i : -1)))
  for (const g of svg.all('g').filter((x) => (x.getAttribute('class') ?? '').startsWith('node'))) {
    assert.ok(top.indexOf(g) > lastLink, 'nodes and their labels are drawn over every link')
    const plate = g.all('rect').find((r) => r.getAttribute('class') === 'label-plate')
    assert.ok(plate, 'a plate under the labels')
    const texts = g.all('text').filter((t) => t.getAttribute('class') !== 'badge')
    for (const t of texts) {
      const halfWidth = (t.textContent.length * 5.5) / 2
      assert.ok(plate.num('x') <= t.num('x') - halfWidth && plate.num('x') + plate.num('width') >= t.num('x') + halfWidth, `plate spans "${t.textContent}"`)
      assert.ok(plate.num('y') <= t.num('y') - 9 && plate.num('y') + plate.num('height') >= t.num('y') + 2, `plate covers "${t.textContent}" top to bottom`)
    }
  }
})
