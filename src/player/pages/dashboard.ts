// The fan-out dashboard: a page frame filled by static/dashboard.js from /dashboard/data.json,
// drawn with our own small SVG charts (static/dashboard-charts.js). No Grafana, no CDN, no
// inline script: the page works offline under the app's CSP.
import { html, page } from './html.ts'

const STYLE = html`<style>
body { background: #0d1117; color: #dde3ea; margin: 1rem 1.5rem; }
nav a { color: #7cc4ff; }
.dash-head { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; margin: .25rem 0 1rem; }
.dash-head h1 { font-size: 1.35rem; margin: 0; font-weight: 600; }
.dash-head select { background: #161b22; color: #dde3ea; border: 1px solid #30363d; border-radius: 6px; padding: .2rem .4rem; font: 12px ui-monospace, monospace; }
#updated { color: #7d8896; font-size: 12px; margin-left: auto; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: .75rem; margin-bottom: .75rem; }
.tile { background: #161b22; border: 1px solid #262d37; border-radius: 10px; padding: .6rem .8rem; }
.tile .label { color: #8b96a5; font-size: 11px; text-transform: uppercase; letter-spacing: .06em; }
.tile .value { font-size: 1.7rem; font-weight: 650; margin: .1rem 0; font-variant-numeric: tabular-nums; }
.tile .hint { color: #6e7a89; font-size: 11px; }
.tile[data-level=good] .value { color: #90e05a; }
.tile[data-level=warn] .value { color: #ffb703; }
.tile[data-level=bad] .value { color: #ff5d73; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: .75rem; }
.card { background: #161b22; border: 1px solid #262d37; border-radius: 10px; padding: .6rem .8rem .4rem; min-width: 0; }
.card.wide { grid-column: 1 / -1; }
.card h2 { font-size: 13px; font-weight: 600; margin: 0 0 .3rem; color: #c9d3df; }
.card h2 small { color: #6e7a89; font-weight: 400; margin-left: .4rem; }
.card svg { display: block; }
table.nodes { width: 100%; font-size: 12.5px; }
table.nodes th { color: #8b96a5; font-weight: 500; border-bottom: 1px solid #30363d; }
table.nodes td { border-bottom: 1px solid #21262d; }
.mono { font-family: ui-monospace, monospace; }
.role-source { color: #ffb703; } .role-relay { color: #4cc9f0; } .role-viewer { color: #8fa3b8; }
.error { color: #ff5d73; }
.muted { color: #6e7a89; }
.scope { color: #9aa6b5; font-size: 12.5px; margin: 0 0 .4rem; }
.views button { background: #161b22; color: #aab4c3; border: 1px solid #30363d; border-radius: 6px; padding: .15rem .55rem; margin: 0 .3rem .4rem 0; font: 12px system-ui, sans-serif; cursor: pointer; }
.tree-node { margin-left: 1.2rem; font-size: 12.5px; line-height: 1.5; }
.tree-node .health { display: inline-block; width: .7rem; height: .7rem; border-radius: 50%; margin-right: .4rem; vertical-align: middle; }
.views button[aria-pressed=true] { background: #243041; color: #fff; border-color: #4cc9f0; }
</style>`

function tile(id: string, label: string) {
  return html`<div class="tile" id="${id}"><div class="label">${label}</div><div class="value">–</div><div class="hint"></div></div>`
}

function card(id: string, title: string, note: string, wide = false) {
  return html`<section class="card${wide ? ' wide' : ''}"><h2><span id="${id}-title">${title}</span><small id="${id}-note">${note}</small></h2><div id="${id}"></div></section>`
}

export function dashboardPage(): string {
  return page('cjp2p-stream fan-out dashboard', html`${STYLE}
<div class="dash-head"><h1>Fan-out</h1><select id="stream" aria-label="stream"></select><span id="updated">loading…</span></div>
<div class="tiles">
${tile('t-copies', 'Source copies uploaded')}
${tile('t-recent', 'Copies, now')}
${tile('t-offload', 'P2P offload')}
${tile('t-nodes', 'Nodes in the graph')}
${tile('t-delay', 'Chunk delay p95')}
${tile('t-stalls', 'Stalls')}
</div>
<div class="grid">
<section class="card wide"><h2>Relay graph<small>a tree by depth from the source: one arrow per stripe of the push tree, width = recent chunks fed; dashed = pull repair; outlined nodes are known by address only</small></h2>
<p id="scope" class="scope"></p><div id="graph-views" class="views" aria-label="stripes drawn"></div><div id="graph"></div></section>
<section class="card wide" id="audience-card"><h2><span id="aud-title">Audience</span><small id="aud-note">telemetry merged up the report tree</small></h2>
<div class="tiles" id="aud-tiles">
${tile('a-viewers', 'Viewers now')}
${tile('a-ontime', 'On time')}
${tile('a-delay', 'Delay p50 / p95 / p99')}
${tile('a-stalls', 'Stalls')}
${tile('a-offload', 'P2P offload')}
${tile('a-suspect', 'Suspect viewers')}
</div>
<div class="grid"><div><h2>Viewers by depth</h2><div id="aud-depth"></div></div><div><h2>Last hour <small>kept by the node: survives a reload</small></h2><div id="aud-history"></div></div></div>
<h2>Top of the tree <small>address, subtree size, on-time share (green ≥ 99 %, amber ≥ 90 %, red below or suspect)</small></h2><div id="aud-tree" class="mono"></div></section>
${card('copies', 'Source copies uploaded', 'source upload bytes ÷ stream bytes; ~1× means peers relay the rest')}
${card('upload', 'Upload per node', 'against the stream bitrate')}
${card('bars', 'Upload and download per node', 'now, over the last few seconds')}
${card('delay', 'Chunk delay', 'signed publish time → verified here; worst viewer')}
${card('hops', 'Hops from the source', 'recent chunks, all viewers')}
${card('stalls', 'Playback stalls', 'reported by each node\'s player pages')}
<section class="card wide"><h2>Nodes<small>this node and the peers it can read</small></h2>
<table class="nodes"><thead><tr><th>node</th><th>role</th><th>peers</th><th>upload</th><th>download</th><th>from source</th><th>stalls</th></tr></thead>
<tbody id="nodes"></tbody></table></section>
</div>`, ['/static/dashboard-charts.js', '/static/dashboard-audience.js', '/static/dashboard.js'])
}
