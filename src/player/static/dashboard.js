// Dashboard page: polls /dashboard/data.json (this node and the peers it knows, aggregated by the
// node) every second and redraws the relay graph and the plots. Tests read window.cjp2pDashboard.
/* global URLSearchParams */
(function () {
  'use strict'
  const C = window.cjp2pCharts
  const REFRESH_MS = 1000
  // view: 'all' or a stripe number, chosen with the buttons above the graph; kept across refreshes.
  const state = { graph: null, series: null, data: null, updates: 0, error: null, stream: null, view: 'all' }
  window.cjp2pDashboard = state
  const $ = (id) => document.getElementById(id)

  function fmtBytes(n) {
    if (!(n > 0)) return '0 B'
    const u = ['B', 'KB', 'MB', 'GB', 'TB']
    const i = Math.min(u.length - 1, Math.floor(Math.log10(n) / 3))
    const v = n / Math.pow(1000, i)
    return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${u[i]}`
  }
  function fmtBits(bytesPerSecond) {
    const b = (bytesPerSecond || 0) * 8
    if (b >= 1e6) return `${(b / 1e6).toFixed(b >= 1e7 ? 0 : 1)} Mbit/s`
    if (b >= 1e3) return `${(b / 1e3).toFixed(0)} kbit/s`
    return `${b.toFixed(0)} bit/s`
  }
  const fmtMs = (v) => (v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`)
  const fmtX = (v) => `${v.toFixed(v >= 10 ? 0 : 1)}×`
  const fmtPct = (v) => `${Math.round(v * 100)} %`
  const lastOf = (a) => { for (let i = (a || []).length - 1; i >= 0; i--) if (a[i] !== null) return a[i]; return null }

  function tile(id, value, hint, level, label) {
    const t = $(id)
    if (label) t.querySelector('.label').textContent = label
    t.querySelector('.value').textContent = value
    t.querySelector('.hint').textContent = hint
    t.dataset.level = level || ''
  }

  function colorFor(id, i) {
    const n = state.graph && state.graph.nodes.find((x) => x.id === id)
    if (n && n.role === 'source') return C.ROLE_COLORS.source
    const palette = ['#4cc9f0', '#90e05a', '#f72585', '#b388ff', '#2ec4b6', '#ff7b54', '#e9c46a', '#8fa3b8']
    return palette[i % palette.length]
  }

  function roleOf(id) {
    const n = state.graph && state.graph.nodes.find((x) => x.id === id)
    return n ? n.role : 'viewer'
  }

  function render(d) {
    window.cjp2pAudience.render(d.audience, d.self)
    const s = d.series
    const g = d.graph
    state.graph = g
    state.series = s
    state.data = d
    const select = $('stream')
    if (select.options.length !== d.streams.length || [...select.options].some((o, i) => o.value !== d.streams[i])) {
      select.textContent = ''
      for (const id of d.streams) {
        const o = document.createElement('option')
        o.value = id
        o.textContent = id.replace(/^stream\/([0-9a-f]{8})[0-9a-f]*\//, 'stream/$1…/')
        select.appendChild(o)
      }
    }
    if (d.stream) select.value = d.stream
    if (!g || !s) {
      $('graph').textContent = 'This node carries no stream yet.'
      return
    }
    const copies = lastOf(s.copies), recent = lastOf(s.copiesRecent), offload = lastOf(s.offload), p95 = lastOf(s.delay.p95)
    const fromSource = lastOf(s.fromSource)
    // Source copies are known only where the source's status is read; a viewer that cannot read
    // it shows what it knows instead: how much of its stream came from the source itself.
    const sourceSeen = s.copies.some((v) => v !== null)
    const stalls = d.nodes.reduce((a, n) => a + n.stalls, 0)
    if (sourceSeen || fromSource === null) {
      tile('t-copies', copies === null ? '–' : fmtX(copies), 'source upload ÷ stream, since start', copies !== null && copies > 1.5 ? 'bad' : 'good', 'Source copies uploaded')
      tile('t-recent', recent === null ? '–' : fmtX(recent), 'same, last few seconds', recent !== null && recent > 1.5 ? 'bad' : 'good', 'Copies, now')
    } else {
      tile('t-copies', fmtPct(fromSource), 'of the stream this node got came from the source itself, since start', '', 'Received from the source')
      tile('t-recent', offload === null ? '–' : fmtPct(1 - offload), 'same, last few seconds (the rest came from peers)', '', 'From the source, now')
    }
    const noViewers = 'no viewer\'s status is readable here'
    const reporting = g.nodes.filter((n) => n.reporting).length
    // Viewers' HTTP status is readable only on one machine; the audience telemetry reaches the
    // source from everywhere. Where it counts anyone, the tiles show the swarm from it.
    const av = d.audience && d.audience.role === 'source' && d.audience.view.viewers > 0 ? d.audience.view : null
    if (av) {
      const win = `last ${Math.round(av.windowMs / 1000)} s`
      tile('t-offload', av.offload === null ? '–' : fmtPct(av.offload), `of what ${av.viewers} viewers received came from other viewers (${win})`)
      tile('t-nodes', String(av.viewers), `viewers counted up the tree · ${reporting} status readable here · ${g.edges.length} links`, '', 'Viewers')
      const published = av.delayWindow ? `published ${Math.round((av.delayWindow.endedMsAgo + av.delayWindow.to - av.delayWindow.from) / 1000)}-${Math.round(av.delayWindow.endedMsAgo / 1000)} s ago` : win
      tile('t-delay', av.delayMs.p95 === null ? '–' : fmtMs(av.delayMs.p95), `p95 chunk delay over every viewer's chunks (${published})`, av.delayMs.p95 !== null && av.delayMs.p95 > 5000 ? 'bad' : '')
      tile('t-stalls', String(av.stalls), `playback stalls the viewers' pages reported (${win})`, av.stalls > 0 ? 'warn' : 'good')
    } else {
      tile('t-offload', offload === null ? '–' : fmtPct(offload), offload === null ? noViewers : 'viewer bytes not from the source')
      tile('t-nodes', String(g.nodes.length), `${reporting} reporting · ${g.nodes.length - reporting} known by address · ${g.edges.length} links`, '', 'Nodes in the graph')
      tile('t-delay', p95 === null ? '–' : fmtMs(p95), p95 === null ? noViewers : 'p95 chunk delay, worst viewer', p95 !== null && p95 > 5000 ? 'bad' : '')
      tile('t-stalls', String(stalls), 'playback stalls reported', stalls > 0 ? 'warn' : 'good')
    }

    $('scope').textContent = g.scope.note
    drawGraph()
    $('copies-title').textContent = sourceSeen || fromSource === null ? 'Source copies uploaded' : 'Received from the source'
    $('copies-note').textContent = sourceSeen || fromSource === null
      ? 'source upload bytes ÷ stream bytes; ~1× means peers relay the rest'
      : 'share of this node\'s stream bytes sent by the source; the source\'s own dashboard shows its copies'
    C.lineChart($('copies'), sourceSeen || fromSource === null ? {
      t: s.t, format: fmtX, minMax: 2, refs: [{ y: 1, label: '1 copy' }],
      series: [
        { name: 'since start', color: '#ffb703', values: s.copies },
        { name: 'last few seconds', color: '#4cc9f0', values: s.copiesRecent, width: 1.5 },
      ],
    } : {
      t: s.t, format: fmtPct, minMax: 1,
      series: [
        { name: 'since start', color: '#ffb703', values: s.fromSource },
        { name: 'last few seconds', color: '#4cc9f0', values: s.offload.map((v) => (v === null ? null : 1 - v)), width: 1.5 },
      ],
    })
    const ids = Object.keys(s.upload)
    C.lineChart($('upload'), {
      t: s.t, format: fmtBits, unit: 8,
      // The bitrate goes last so it is drawn on top: at the source it lies on the upload of one copy.
      series: ids.map((id, i) => ({ name: `${roleOf(id)} :${id.split(':').pop()}`, color: colorFor(id, i), values: s.upload[id] }))
        .concat([{ name: 'stream bitrate', color: '#ffffff', values: s.bitrate, dash: '6 4', width: 1.5 }]),
    })
    C.barChart($('bars'), {
      format: fmtBits,
      keys: [{ name: 'upload', color: '#ffb703' }, { name: 'download', color: '#4cc9f0' }],
      rows: s.bars.map((b) => ({
        label: b.id, sub: `${roleOf(b.id)} · ↑${fmtBytes(b.uploaded)} ↓${fmtBytes(b.received)}`, subColor: C.ROLE_COLORS[roleOf(b.id)],
        values: [b.upRate, b.downRate],
      })),
    })
    const audienceDelay = window.cjp2pAudience.delayChart(d.audience, fmtMs)
    $('delay-title').textContent = audienceDelay ? audienceDelay.title : 'Chunk delay'
    $('delay-note').textContent = audienceDelay ? audienceDelay.note : 'signed publish time → verified here; worst viewer'
    C.lineChart($('delay'), audienceDelay ? audienceDelay.opts : {
      t: s.t, format: fmtMs, minMax: 100, empty: 'no viewer\'s status is readable here',
      series: [
        { name: 'p50', color: '#90e05a', values: s.delay.p50 },
        { name: 'p95', color: '#ffb703', values: s.delay.p95 },
        { name: 'p99', color: '#f72585', values: s.delay.p99 },
      ],
    })
    const hops = hopsCard(d)
    $('hops-note').textContent = hops.note
    C.barChart($('hops'), hops.opts)
    C.lineChart($('stalls'), {
      t: s.t, format: (v) => String(v), minMax: 4, integer: true,
      series: ids.map((id, i) => ({ name: `:${id.split(':').pop()}`, color: colorFor(id, i), values: s.stalls[id] })),
    })
    renderTable(d)
  }

  /** The "Hops from the source" card. At the source, the audience by depth in the report tree, as
   * the telemetry counted it: the source verifies no chunk and reads no viewer's status across
   * machines, so the chunks' hops of the readable nodes left the card empty there. At a viewer, its
   * own chunks by the hops they took (a viewer reads its peers' statuses only on one machine, and
   * their chunks are not its path). Elsewhere (a source that counts no one yet), every readable
   * node's chunks. */
  function hopsCard(d) {
    const label = (h) => `${h} hop${String(h) === '1' ? '' : 's'}`
    const a = d.audience
    if (a && a.role === 'source' && a.view.viewers > 0) {
      return {
        note: 'viewers by depth in the report tree, counted up the tree',
        opts: {
          format: (v) => `${Math.round(v)} viewer${Math.round(v) === 1 ? '' : 's'}`, keys: [{ name: 'viewers', color: '#4cc9f0' }],
          rows: a.view.byDepth.map((n, h) => ({ label: label(h), values: [n] })).filter((r, h) => h > 0 && r.values[0] > 0),
        },
      }
    }
    const self = d.nodes.find((n) => n.udp === d.self)
    const own = self && roleOf(self.udp) !== 'source'
    const nodes = own ? [self] : d.nodes
    const hops = {}
    for (const n of nodes) for (const h in n.hops) hops[h] = (hops[h] || 0) + n.hops[h]
    const path = own && a && Array.isArray(a.view.pathToSource) ? a.view.pathToSource : []
    return {
      note: own ? `recent chunks verified here, by the relays they crossed${path.length ? `; ${label(path.length)} to the source up its report tree` : ''}` : 'recent chunks, all viewers',
      opts: {
        format: (v) => `${Math.round(v)} chunks`, keys: [{ name: 'chunks verified', color: '#b388ff' }],
        empty: nodes.some((n) => roleOf(n.udp) !== 'source') ? 'waiting for data' : 'no viewer has reported yet',
        rows: Object.keys(hops).sort((x, y) => x - y).map((h) => ({ label: label(h), values: [hops[h]] })),
      },
    }
  }

  /** The view buttons (all stripes, or one stripe's tree) and the graph in the chosen view. */
  function drawGraph() {
    const g = state.graph
    if (!g) return
    if (state.view !== 'all' && state.view >= g.stripes) state.view = 'all'
    const host = $('graph-views')
    const views = ['all'].concat(Array.from({ length: g.stripes }, (_, s) => s))
    if (host.children.length !== views.length) {
      host.textContent = ''
      for (const v of views) {
        const b = document.createElement('button')
        b.type = 'button'
        b.dataset.view = String(v)
        b.textContent = v === 'all' ? 'all stripes' : `stripe ${v} tree`
        b.addEventListener('click', () => { state.view = v; drawGraph() })
        host.appendChild(b)
      }
    }
    for (const b of host.children) b.setAttribute('aria-pressed', String(b.dataset.view === String(state.view)))
    C.relayGraph($('graph'), g, fmtBytes, state.view === 'all' ? undefined : state.view, window.cjp2pAudience.subtrees(state.data && state.data.audience))
  }

  function cell(tr, text, cls) {
    const td = document.createElement('td')
    td.textContent = text
    if (cls) td.className = cls
    tr.appendChild(td)
  }

  function renderTable(d) {
    const body = $('nodes')
    body.textContent = ''
    const bars = {}
    for (const b of d.series.bars) bars[b.id] = b
    for (const n of d.nodes) {
      const b = bars[n.udp] || {}
      const tr = document.createElement('tr')
      cell(tr, n.udp + (n.udp === d.self ? ' (this node)' : ''), 'mono')
      cell(tr, roleOf(n.udp), `role-${roleOf(n.udp)}`)
      cell(tr, String(n.peersActive))
      cell(tr, fmtBits(b.upRate))
      cell(tr, fmtBits(b.downRate))
      cell(tr, fmtBytes(b.fromSource))
      cell(tr, `${n.stalls} (${n.stallSeconds.toFixed(1)} s)`)
      body.appendChild(tr)
    }
    const read = new Set(d.nodes.map((n) => n.udp))
    for (const n of d.graph.nodes.filter((x) => !read.has(x.id))) {
      const tr = document.createElement('tr')
      cell(tr, n.id, 'mono')
      cell(tr, n.role, `role-${n.role}`)
      const why = document.createElement('td')
      why.colSpan = 5
      why.className = 'muted'
      why.textContent = 'known by address only: its status is not readable from here'
      tr.appendChild(why)
      body.appendChild(tr)
    }
    for (const p of d.peers.filter((x) => !x.ok)) {
      const tr = document.createElement('tr')
      cell(tr, p.url, 'mono')
      cell(tr, `unreachable: ${p.error || 'error'}`, 'error')
      body.appendChild(tr)
    }
  }

  async function tick() {
    try {
      const q = state.stream ? `?${new URLSearchParams({ stream: state.stream })}` : ''
      const res = await fetch(`/dashboard/data.json${q}`, { cache: 'no-store' })
      if (!res.ok) throw new Error(`HTTP ${res.status}`)
      render(await res.json())
      state.updates++
      state.error = null
      $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`
      $('updated').className = ''
    } catch (err) {
      state.error = String(err)
      $('updated').textContent = `update failed: ${state.error}`
      $('updated').className = 'error'
    }
    setTimeout(tick, REFRESH_MS)
  }

  $('stream').addEventListener('change', (e) => { state.stream = e.target.value; })
  tick()
})()
