// The dashboard's audience card: what this node's telemetry merged (the whole audience at the
// source, this viewer's subtree elsewhere), its last hour, and the top of the report tree with a
// health colour per subtree. Exposes window.cjp2pAudience for dashboard.js; DOM built with
// textContent only (addresses come from the network).
(function () {
  'use strict'
  const C = window.cjp2pCharts
  const $ = (id) => document.getElementById(id)
  const pct = (v) => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(1)} %`)
  const ms = (v) => (v === null || v === undefined ? '–' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v} ms`)
  const healthColor = (h, suspect) => (suspect ? '#ff5d73' : h >= 0.99 ? '#90e05a' : h >= 0.9 ? '#ffb703' : '#ff5d73')

  function tile(id, value, hint, level) {
    const t = $(id)
    t.querySelector('.value').textContent = value
    t.querySelector('.hint').textContent = hint
    t.dataset.level = level || ''
  }

  function treeNode(host, k) {
    const div = document.createElement('div')
    div.className = 'tree-node'
    const dot = document.createElement('span')
    dot.className = 'health'
    dot.style.background = healthColor(k.h, k.s)
    div.appendChild(dot)
    div.appendChild(document.createTextNode(`${k.a}  ${k.v} viewer${k.v === 1 ? '' : 's'}  on time ${pct(k.h)}${k.s ? `  SUSPECT (${k.s})` : ''}`))
    for (const g of k.k || []) treeNode(div, g)
    host.appendChild(div)
  }

  /** self → parent → ... → source, from the ancestors each parent told its child; the source's
   * own address is named as such, and a path that does not reach it (no parent yet, or longer than
   * the 16 a parent tells) ends in an ellipsis. */
  function pathToSource(self, v) {
    const path = Array.isArray(v.pathToSource) ? v.pathToSource : []
    const sources = Array.isArray(v.sources) ? v.sources : []
    const hops = path.map((a) => (sources.includes(a) ? `source (${a})` : a))
    const reached = path.length > 0 && sources.includes(path[path.length - 1])
    return [self, ...hops, ...(reached ? [] : [path.length ? '…' : 'no parent yet'])].join(' → ')
  }

  function render(a, self) {
    const card = $('audience-card')
    if (!a) { card.hidden = true; return }
    card.hidden = false
    const v = a.view
    const source = a.role === 'source'
    $('aud-title').textContent = source ? 'Audience' : 'This viewer\'s subtree'
    $('aud-note').textContent = source
      ? `every viewer, counted up the report tree; figures over the last ${Math.round(v.windowMs / 1000)} s`
      : `this viewer and those that report through it; its path to the source: ${pathToSource(self, v)}`
    const nat = v.nat ? ` · NAT none ${v.nat.none} cone ${v.nat.cone} symmetric ${v.nat.symmetric} unknown ${v.nat.unknown}` : ''
    // Green says viewers are there; none is no alarm either (a stream nobody watches yet).
    tile('a-viewers', String(v.viewers), `${v.reporters} direct reporter${v.reporters === 1 ? '' : 's'} · depth ${Math.max(0, v.byDepth.length - 1)}${nat}`, v.viewers > 0 ? 'good' : '')
    // No chunk counted (no viewer reported, or none was due): the shares are 1 by convention, and a
    // green 100 % beside 0 viewers read as a healthy stream.
    const due = v.chunks.onTime + v.chunks.late + v.chunks.missed
    if (due === 0) tile('a-ontime', '–', 'no chunk counted yet', '')
    else {
      tile('a-ontime', pct(v.chunks.onTimeShare), `complete ${pct(v.chunks.completeness)} · late ${v.chunks.late} · missed ${v.chunks.missed}`,
        v.chunks.onTimeShare >= 0.99 ? 'good' : v.chunks.onTimeShare >= 0.9 ? 'warn' : 'bad')
    }
    // The delays are of the chunks the whole tree has finished reporting: a window some seconds back.
    const w = v.delayWindow
    const published = w ? ` · chunks published ${Math.round((w.endedMsAgo + w.to - w.from) / 1000)}-${Math.round(w.endedMsAgo / 1000)} s ago` : ''
    tile('a-delay', ms(v.delayMs.p95), `p50 ${ms(v.delayMs.p50)} · p99 ${ms(v.delayMs.p99)}${published}`, v.delayMs.p95 !== null && v.delayMs.p95 > 3000 ? 'bad' : '')
    tile('a-stalls', String(v.stalls), `${v.stallSeconds.toFixed(1)} s stalled, reported by player pages`, v.stalls > 0 ? 'warn' : 'good')
    tile('a-offload', pct(v.offload), 'of what viewers received came from other viewers', '')
    tile('a-suspect', String(v.suspect), 'viewers whose telemetry was capped on the way up', v.suspect > 0 ? 'bad' : 'good')
    const depth = $('aud-depth')
    depth.textContent = ''
    C.barChart(depth, {
      rows: v.byDepth.map((n, d) => ({ label: d === 0 ? (source ? 'source' : 'this node') : `depth ${d}`, values: [n] })).filter((r, d) => !(source && d === 0)),
      keys: [{ name: 'viewers', color: '#4cc9f0' }], format: (n) => String(n), empty: 'no viewer has reported yet',
    })
    const hist = $('aud-history')
    hist.textContent = ''
    const pts = a.history || []
    const now = pts.length ? pts[pts.length - 1].t : 0
    C.lineChart(hist, {
      t: pts.map((p) => (p.t - now) / 1000), format: (n) => String(Math.round(n)), integer: true, minMax: 2,
      empty: source ? 'no history yet' : 'the source keeps the history',
      series: [
        { name: 'viewers', color: '#4cc9f0', values: pts.map((p) => p.viewers) },
        { name: 'stalls', color: '#ff5d73', values: pts.map((p) => p.stalls), width: 1.5 },
        { name: 'suspect', color: '#ffb703', values: pts.map((p) => p.suspect), width: 1, dash: '4 3' },
      ],
    })
    const tree = $('aud-tree')
    tree.textContent = ''
    const root = document.createElement('div')
    root.textContent = source ? `source (${self})` : `this viewer (${self})`
    tree.appendChild(root)
    for (const k of v.kids || []) treeNode(root, k)
    if (!(v.kids || []).length) root.appendChild(document.createTextNode('  — no child has reported yet'))
  }

  /** The "Chunk delay" card at the source: the merged p95 over every viewer's chunks, from the
   * audience's last hour (a point every 10 s, kept by the node). The source verifies no chunk
   * itself and reads few viewers' statuses, if any, so without this the card said "no viewer's
   * status is readable here" beside an audience whose delays it holds. Null elsewhere: a viewer
   * draws its own and its readable peers' delays. */
  function delayChart(a, format) {
    if (!a || a.role !== 'source') return null
    const pts = Array.isArray(a.history) ? a.history : []
    const now = pts.length ? pts[pts.length - 1].t : 0
    return {
      title: 'Chunk delay, every viewer',
      note: 'signed publish time → verified, merged up the report tree: p95 over every viewer\'s chunks, a point every 10 s',
      opts: {
        t: pts.map((p) => (p.t - now) / 1000), format, minMax: 100,
        empty: 'no viewer has reported a delay yet',
        series: [{ name: 'p95, every viewer', color: '#ffb703', values: pts.map((p) => (typeof p.p95Ms === 'number' ? p.p95Ms : null)) }],
      },
    }
  }

  /** The subtrees the telemetry names near the top (the source's children and grandchildren in
   * the report tree), by address: what the relay graph writes under a node whose status it cannot read. */
  function subtrees(a) {
    // Keyed by addresses a grandchild's summary names (remote input): no prototype for a
    // "__proto__" or "constructor" to reach.
    const out = Object.create(null)
    const walk = (kids) => {
      for (const k of Array.isArray(kids) ? kids : []) {
        if (typeof k.a !== 'string' || out[k.a]) continue
        out[k.a] = {
          text: `subtree ${k.v} · on time ${pct(k.h)}${k.s ? ' · suspect' : ''}`, short: `subtree ${k.v}`, color: healthColor(k.h, k.s),
          title: `the telemetry counts ${k.v} viewer${k.v === 1 ? '' : 's'} in its stripe-0 subtree (itself included), on time ${pct(k.h)}${k.s ? `, ${k.s} suspect` : ''}`,
        }
        walk(k.k)
      }
    }
    if (a && a.view) walk(a.view.kids)
    return out
  }

  window.cjp2pAudience = { render, delayChart, subtrees }
})()
