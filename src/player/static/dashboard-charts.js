// Small SVG charts for the dashboard: line plots over time, horizontal bars and the relay graph.
// Everything is built with createElementNS and textContent, so no status value is ever parsed as
// markup. Exposes window.cjp2pCharts for dashboard.js.
(function () {
  'use strict'
  const NS = 'http://www.w3.org/2000/svg'
  const STRIPE_COLORS = ['#4cc9f0', '#f72585', '#90e05a', '#ffb703', '#b388ff', '#ff7b54', '#2ec4b6', '#e9c46a']
  const ROLE_COLORS = { source: '#ffb703', relay: '#4cc9f0', viewer: '#8fa3b8' }
  const AXIS = '#5b6778'
  const GRID = '#232b36'
  const TEXT = '#aab4c3'

  function el(name, attrs, parent, text) {
    const e = document.createElementNS(NS, name)
    for (const k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, String(attrs[k]))
    if (text !== undefined) e.textContent = String(text)
    if (parent) parent.appendChild(e)
    return e
  }

  function svgIn(host, w, h) {
    host.textContent = ''
    return el('svg', { viewBox: `0 0 ${w} ${h}`, width: '100%', role: 'img', preserveAspectRatio: 'xMidYMid meet' }, host)
  }

  /** A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten. */
  function niceMax(v) {
    if (!(v > 0)) return 1
    const p = Math.pow(10, Math.floor(Math.log10(v)))
    for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p
    return 10 * p
  }

  /** Axis ticks from 0 up to at least v, at most five steps of 1, 2 or 5 times a power of ten, so
   * no tick reads 1.25 (a count: 1 then 3 once rounded; a delay: "1.3 s" for 1.25 s, seen on the
   * source's chunk-delay card). A count's step is at least 1. Returns { max, ticks }. */
  function axisTicks(v, integer) {
    const top = v > 0 ? v : 1
    let p = Math.pow(10, Math.floor(Math.log10(top / 5)))
    if (integer) p = Math.max(1, p)
    const step = [1, 2, 5, 10].map((m) => m * p).find((s) => Math.ceil(top / s) <= 5)
    const n = Math.max(1, Math.ceil(top / step))
    // toPrecision: 3 * 0.1 is 0.30000000000000004, which a format would print as such.
    const ticks = Array.from({ length: n + 1 }, (_, i) => Number((i * step).toPrecision(12)))
    return { max: ticks[n], ticks }
  }

  /** Legend swatches from (x, y), wrapping before maxX; returns the y below the last row. */
  function legend(svg, items, x, y, maxX) {
    let cx = x
    let cy = y
    for (const it of items) {
      const w = 22 + it.name.length * 6.3
      if (cx > x && cx + w > maxX) { cx = x; cy += 16 }
      el('rect', { x: cx, y: cy - 9, width: 10, height: 10, rx: 2, fill: it.color }, svg)
      el('text', { x: cx + 14, y: cy, fill: TEXT, 'font-size': 11 }, svg, it.name)
      cx += w
    }
    return cy + 8
  }

  /** Lines over time. opts: {t, series:[{name,color,values,dash}], format, minMax, integer, refs:[{y,label}], empty, unit}.
   * `unit`: what `format` multiplies a value by to print it (8 for bytes/s printed in bits/s), so
   * the ticks are round in the printed unit (round bytes read 1.6, 3.2 Mbit/s). */
  function lineChart(host, opts) {
    const W = 520, H = 230, L = 58, R = 12, B = 26
    const svg = svgIn(host, W, H)
    const T = legend(svg, opts.series, L, 14, W - R) + 6
    const t = opts.t || []
    let max = opts.minMax || 0
    for (const s of opts.series) for (const v of s.values) if (v !== null && v > max) max = v
    for (const r of opts.refs || []) max = Math.max(max, r.y * 1.15)
    const unit = opts.unit || 1
    const printed = axisTicks(max * unit, opts.integer)
    const axis = { max: printed.max / unit, ticks: printed.ticks.map((v) => v / unit) }
    max = axis.max
    // The axis grows with the history (at least 20 s), so a fresh page is not all empty space.
    const t0 = Math.min(-20, t.length ? t[0] : -60)
    const px = (x) => L + ((x - t0) / (0 - t0)) * (W - L - R)
    const py = (v) => T + (1 - v / max) * (H - T - B)
    for (const v of axis.ticks) {
      el('line', { x1: L, x2: W - R, y1: py(v), y2: py(v), stroke: GRID }, svg)
      el('text', { class: 'tick-y', x: L - 6, y: py(v) + 4, fill: TEXT, 'font-size': 10, 'text-anchor': 'end' }, svg, opts.format(v))
    }
    // Up to an hour of history (the audience chart): labels in minutes past ten minutes.
    const step = t0 < -1800 ? 600 : t0 < -600 ? 300 : t0 < -300 ? 60 : t0 < -100 ? 30 : t0 < -40 ? 10 : 5
    for (let x = 0; x >= t0; x -= step) {
      el('text', { x: px(x), y: H - 8, fill: TEXT, 'font-size': 10, 'text-anchor': 'middle' }, svg, x === 0 ? 'now' : step >= 60 ? `${x / 60}m` : `${x}s`)
    }
    el('line', { x1: L, x2: L, y1: T, y2: H - B, stroke: AXIS }, svg)
    for (const r of opts.refs || []) {
      el('line', { x1: L, x2: W - R, y1: py(r.y), y2: py(r.y), stroke: '#e76f51', 'stroke-dasharray': '5 4', 'stroke-width': 1 }, svg)
      el('text', { x: W - R - 2, y: py(r.y) - 4, fill: '#e76f51', 'font-size': 10, 'text-anchor': 'end' }, svg, r.label)
    }
    for (const s of opts.series) {
      let d = ''
      let pen = false
      s.values.forEach((v, i) => {
        if (v === null || v === undefined) { pen = false; return }
        d += `${pen ? 'L' : 'M'}${px(t[i]).toFixed(1)},${py(v).toFixed(1)}`
        pen = true
      })
      if (d) el('path', { d, fill: 'none', stroke: s.color, 'stroke-width': s.width || 2, 'stroke-dasharray': s.dash, 'stroke-linejoin': 'round' }, svg)
    }
    const drawn = opts.series.some((s) => s.values.some((v) => v !== null && v !== undefined))
    if (!drawn) el('text', { x: (L + W - R) / 2, y: H / 2, fill: TEXT, 'font-size': 13, 'text-anchor': 'middle' }, svg, t.length && opts.empty ? opts.empty : 'waiting for data')
    return svg
  }

  /** Horizontal grouped bars. opts: {rows:[{label, sub, values:[...]}], keys:[{name,color}], format, empty} */
  function barChart(host, opts) {
    const rowH = 20 * opts.keys.length + 14
    const W = 520, L = 150, R = 70, T = 24
    const H = Math.max(80, T + rowH * opts.rows.length + 8)
    const svg = svgIn(host, W, H)
    let max = 0
    for (const r of opts.rows) for (const v of r.values) if (v > max) max = v
    max = niceMax(max)
    opts.rows.forEach((r, i) => {
      const y = T + i * rowH
      el('text', { x: L - 8, y: y + 14, fill: '#dde3ea', 'font-size': 11, 'text-anchor': 'end', 'font-family': 'ui-monospace, monospace' }, svg, r.label)
      if (r.sub) el('text', { x: L - 8, y: y + 27, fill: r.subColor || TEXT, 'font-size': 10, 'text-anchor': 'end' }, svg, r.sub)
      opts.keys.forEach((k, j) => {
        const v = r.values[j] || 0
        const w = Math.max(v > 0 ? 2 : 0, (v / max) * (W - L - R))
        el('rect', { x: L, y: y + 4 + j * 20, width: w, height: 15, rx: 3, fill: k.color }, svg)
        el('text', { x: L + w + 5, y: y + 15 + j * 20, fill: TEXT, 'font-size': 10 }, svg, opts.format(v))
      })
    })
    legend(svg, opts.keys, L, 14, W - R)
    if (!opts.rows.length) el('text', { x: W / 2, y: H / 2, fill: TEXT, 'text-anchor': 'middle' }, svg, opts.empty || 'waiting for data')
    return svg
  }

  const BADGES = { source: 'SRC', relay: 'RLY', viewer: 'VWR' }

  /** The relay graph as a tree: one row per depth, the source on top, nodes at their layout position
   * within the row, one curve per stripe from parent down to child. `stripe` (a number) draws that
   * stripe's push tree alone from graph.stripeViews; otherwise all stripes together. `subtrees`
   * (by node id: {text, short, title, color}) is what the audience telemetry says of a node whose status
   * is not readable here: its subtree's size and health, written under it and coloured on its ring. */
  function relayGraph(host, full, fmtBytes, stripe, subtrees) {
    const view = typeof stripe === 'number' ? (full.stripeViews || []).find((v) => v.stripe === stripe) : null
    const graph = view ? {
      stripes: full.stripes,
      nodes: full.nodes.filter((n) => view.at[n.id]).map((n) => Object.assign({}, n, view.at[n.id])),
      edges: full.edges.filter((e) => e.stripes.includes(stripe)).map((e) => Object.assign({}, e, { stripes: [stripe] })),
    } : full
    const shown = view ? view.rows : full.rows
    const rows = shown && shown.length ? shown : [0]
    const W = 1000, R = 20, LEFT = 86, RIGHT = 16, TOP = 16, ROW = 128, FOOT = 28
    // Under each circle: the address at R + 15 and the role line at R + 29, descenders included.
    const ADDR_DY = 15, ROLE_DY = 29, LABELS = ROLE_DY + 4
    const H = TOP + ROW * rows.length + FOOT
    const svg = svgIn(host, W, H)
    const defs = el('defs', {}, svg)
    const colors = STRIPE_COLORS.concat(['#6b7785'])
    colors.forEach((c, i) => {
      const m = el('marker', { id: `arrow${i}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerUnits: 'userSpaceOnUse', markerWidth: 9, markerHeight: 9, orient: 'auto-start-reverse' }, defs)
      el('path', { d: 'M0,0 L10,5 L0,10 z', fill: c }, m)
    })
    const glow = el('filter', { id: 'glow', x: '-50%', y: '-50%', width: '200%', height: '200%' }, defs)
    el('feGaussianBlur', { stdDeviation: 5, result: 'b' }, glow)
    const merge = el('feMerge', {}, glow)
    el('feMergeNode', { in: 'b' }, merge)
    el('feMergeNode', { in: 'SourceGraphic' }, merge)
    const rowY = (r) => TOP + ROW * r + 34
    // Row bands and their depth labels; a jump of more than one hop between rows says so.
    rows.forEach((depth, r) => {
      if (r % 2 === 0) el('rect', { x: 0, y: TOP + ROW * r - 4, width: W, height: ROW, fill: '#121821', rx: 6 }, svg)
      el('text', { class: 'row-label', x: 10, y: rowY(r) + 4, fill: TEXT, 'font-size': 11 }, svg, depth === 0 ? 'source' : `${depth} hop${depth === 1 ? '' : 's'} down`)
      const gap = depth - (r > 0 ? rows[r - 1] : -1) - 1
      if (gap > 0) {
        const what = r > 0 ? `${gap} hop${gap === 1 ? '' : 's'}` : gap === 1 ? 'the source' : `the source and ${gap - 1} hop${gap === 2 ? '' : 's'}`
        el('text', { x: 10, y: TOP + ROW * r + 8, fill: '#6e7a89', 'font-size': 10 }, svg, `⋮ ${what} above: not visible from here`)
      }
    })
    const rowOf = {}
    rows.forEach((d, r) => { rowOf[d] = r })
    const perRow = {}
    for (const n of graph.nodes) perRow[n.depth] = (perRow[n.depth] || 0) + 1
    const pos = {}
    for (const n of graph.nodes) pos[n.id] = { x: LEFT + n.x * (W - LEFT - RIGHT), y: rowY(rowOf[n.depth] || 0) }
    const maxChunks = Math.max(1, ...graph.edges.map((e) => e.chunks))
    const edgeLayer = el('g', {}, svg)
    for (const e of graph.edges) {
      const a = pos[e.from], b = pos[e.to]
      if (!a || !b) continue
      const lanes = e.stripes.length ? e.stripes : [-1]
      const width = 1.2 + 3 * (e.chunks / maxChunks)
      const downward = b.y > a.y
      lanes.forEach((s, i) => {
        const off = (i - (lanes.length - 1) / 2) * 5
        let d
        if (downward) {
          // Leave the parent below its two label lines (and their plate), enter the child's top: the
          // tree reads top to bottom, and no link starts under the text it belongs to.
          const x1 = a.x + off, y1 = a.y + R + LABELS, x2 = b.x + off, y2 = b.y - R - 3
          const my = (y1 + y2) / 2
          d = `M${x1.toFixed(1)},${y1.toFixed(1)} C${x1.toFixed(1)},${my.toFixed(1)} ${x2.toFixed(1)},${my.toFixed(1)} ${x2.toFixed(1)},${y2.toFixed(1)}`
        } else {
          // Within a row or upwards (a repair from a deeper node): rightward links bow above the
          // row, leftward ones below, so a pair feeding each other shows two separate arcs.
          const dir = b.x >= a.x ? 1 : -1
          const x1 = a.x + dir * R, x2 = b.x - dir * (R + 3), y = a.y + off
          const lift = dir * Math.min(54, 24 + Math.abs(b.x - a.x) * 0.06)
          d = `M${x1.toFixed(1)},${y.toFixed(1)} C${x1.toFixed(1)},${(y - lift).toFixed(1)} ${x2.toFixed(1)},${(b.y - lift).toFixed(1)} ${x2.toFixed(1)},${b.y.toFixed(1)}`
        }
        const ci = s < 0 ? colors.length - 1 : s % STRIPE_COLORS.length
        const p = el('path', {
          d, fill: 'none', stroke: colors[ci], 'stroke-width': width.toFixed(2), 'stroke-opacity': 0.85,
          'stroke-dasharray': s < 0 ? '4 4' : undefined, 'marker-end': `url(#arrow${ci})`,
        }, edgeLayer)
        el('title', {}, p, `${e.from} → ${e.to}: ${e.stripes.length ? 'stripes ' + e.stripes.join(', ') : 'repair only'}; ${e.chunks} recent chunks`)
      })
    }
    // Each viewer's audience climbs one of its parents (the stripe where it sits highest): a child
    // we feed whose reports climb another parent has no subtree figures here, and is counted there
    // like every viewer. Said so, rather than "status not readable", where the page has the
    // audience at all.
    const reportsElsewhere = (n) => {
      if (!subtrees) return ''
      const fed = graph.edges.filter((e) => e.to === n.id).flatMap((e) => e.stripes)
      return fed.length ? `stripe ${fed.join(', ')} · counted via another parent` : ''
    }
    for (const n of graph.nodes) {
      const p = pos[n.id]
      const g = el('g', { class: `node role-${n.role}${n.reporting ? '' : ' named'}` }, svg)
      const sub = !n.reporting && subtrees ? subtrees[n.id] : undefined
      const color = sub ? sub.color : ROLE_COLORS[n.role] || ROLE_COLORS.viewer
      if (n.self) el('circle', { class: 'self-ring', cx: p.x, cy: p.y, r: R + 6, fill: 'none', stroke: '#ffffff', 'stroke-width': 1.5, 'stroke-dasharray': '3 3' }, g)
      el('circle', {
        class: 'body', cx: p.x, cy: p.y, r: R, fill: n.reporting ? color : '#161b22', stroke: color, 'stroke-width': n.role === 'source' ? 3 : 2,
        filter: n.role === 'source' ? 'url(#glow)' : undefined, 'stroke-dasharray': n.reporting ? undefined : '4 3',
      }, g)
      el('text', { class: 'badge', x: p.x, y: p.y + 4, fill: n.reporting ? '#0d1117' : color, 'font-size': 11, 'font-weight': 700, 'text-anchor': 'middle' }, g, BADGES[n.role] || 'VWR')
      // Crowded rows show the port only; the full address stays in the tooltip and the table.
      const crowded = (W - LEFT - RIGHT) / (perRow[n.depth] || 1) < 128
      const addr = crowded ? `:${n.id.split(':').pop()}` : n.id
      const detail = n.reporting ? `↑${fmtBytes(n.uploadedBytes)}` : sub ? sub.text : reportsElsewhere(n) || 'status not readable'
      const role = crowded ? (n.self ? 'this node' : sub ? sub.short : n.role) : `${n.role}${n.self ? ' · this node' : ''} · ${detail}`
      // A plate in the row's colour under both label lines: links drawn before the nodes pass
      // under it (links within a row bow through their neighbours' labels, and a halo hides a line
      // only under the glyphs, not between them). Widths from the fonts' average advance.
      const rowBg = (rowOf[n.depth] || 0) % 2 === 0 ? '#121821' : '#161b22'
      const plateW = Math.max(addr.length * 6.7, role.length * 5.9) + 10
      el('rect', { class: 'label-plate', x: p.x - plateW / 2, y: p.y + R + 3, width: plateW, height: LABELS - 3, rx: 3, fill: rowBg }, g)
      el('text', { class: 'addr', x: p.x, y: p.y + R + ADDR_DY, fill: '#dde3ea', 'font-size': 11, 'text-anchor': 'middle', 'font-family': 'ui-monospace, monospace' }, g, addr)
      el('text', { x: p.x, y: p.y + R + ROLE_DY, fill: color, 'font-size': 10.5, 'text-anchor': 'middle' }, g, role)
      el('title', {}, g, `${n.id} (${n.role}${n.self ? ', this node' : ''})${n.http ? ' ' + n.http : ''}${n.reporting ? '' : `: known by address only; its status is not readable from here${sub ? '; ' + sub.title : ''}`}`)
    }
    const items = []
    for (let s = 0; s < graph.stripes; s++) if (!view || s === stripe) items.push({ name: `stripe ${s}`, color: STRIPE_COLORS[s % STRIPE_COLORS.length] })
    items.push({ name: 'repair (pull)', color: colors[colors.length - 1] })
    legend(svg, items, 10, H - 8, W)
    if (!graph.nodes.length) el('text', { x: W / 2, y: H / 2, fill: TEXT, 'text-anchor': 'middle' }, svg, 'no stream yet')
    return svg
  }

  window.cjp2pCharts = { lineChart, barChart, relayGraph, axisTicks, STRIPE_COLORS, ROLE_COLORS }
})()
