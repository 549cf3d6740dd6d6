// Builds deploy/grafana/dashboards/cjp2p-fanout.json. The dashboard is generated so every panel
// gets the same fixed datasource uid, grid layout and query shape; edit here, then run
//   node --import tsx scripts/grafana-dashboard.ts
// test/deploy/grafana-dashboard.test.ts fails when the committed JSON is out of date.
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const DATASOURCE_UID = 'cjp2p-prometheus'
export const DASHBOARD_PATH = fileURLToPath(new URL('../deploy/grafana/dashboards/cjp2p-fanout.json', import.meta.url))

const datasource = { type: 'prometheus', uid: DATASOURCE_UID }
/** Grafana expands these; dashboard-queries.ts substitutes them to run the queries elsewhere. */
const RI = '$__rate_interval'
const I = 'instance=~"$instance"'

interface Query { expr: string; legend?: string; format?: 'time_series' | 'heatmap' | 'table'; instant?: boolean }
interface PanelSpec {
  title: string
  description: string
  type?: 'timeseries' | 'stat' | 'heatmap' | 'table'
  unit?: string
  w?: number
  h?: number
  min?: number
  max?: number
  queries: Query[]
}

const ROWS: Array<{ title: string; panels: PanelSpec[] }> = [
  {
    title: 'Audience (the source\'s telemetry, merged up the report tree)',
    panels: [
      { title: 'Viewers', type: 'stat', unit: 'none', w: 4, description: 'Viewers counted up the report tree, as the source sees them.', queries: [
        { expr: 'cjp2p:audience_viewers:sum', legend: 'viewers' },
      ] },
      { title: 'Viewers over time, by depth', unit: 'none', w: 8, min: 0, description: 'The audience and its depth in the report tree.', queries: [
        { expr: 'cjp2p:audience_viewers:sum', legend: 'all' },
        { expr: 'sum by (depth) (cjp2p_audience_viewers_by_depth)', legend: 'depth {{depth}}' },
      ] },
      { title: 'Audience delay p50 / p95 and on-time share', unit: 's', w: 6, min: 0, description: 'Publish to verified at every viewer, merged from the tree (a window of 30 s).', queries: [
        { expr: 'cjp2p:audience_chunk_delay_seconds:p50', legend: 'p50' },
        { expr: 'cjp2p:audience_chunk_delay_seconds:p95', legend: 'p95' },
        { expr: 'cjp2p:audience_on_time:ratio', legend: 'on-time share' },
      ] },
      { title: 'Audience stalls, offload, suspects', unit: 'none', w: 6, min: 0, description: 'Stalls the viewers\' player pages reported per viewer, the share of bytes viewers got from each other, and viewers whose telemetry was capped.', queries: [
        { expr: 'cjp2p:audience_stalls_per_viewer:ratio', legend: 'stalls per viewer' },
        { expr: 'cjp2p:audience_offload:ratio', legend: 'offload' },
        { expr: 'sum(cjp2p_audience_suspect_viewers)', legend: 'suspect viewers' },
      ] },
    ],
  },
  {
    title: 'Fan-out: does the source upload about one copy?',
    panels: [
      { title: 'Source copies uploaded', type: 'stat', unit: 'none', w: 6, description: 'Stream bytes the source uploaded per byte it produced, over 1m and since start. About 1.0 is the goal; the alert fires above 1.5.', queries: [
        { expr: 'cjp2p:source_copies_uploaded:ratio', legend: '{{instance}} 1m' },
        { expr: 'cjp2p:source_copies_uploaded_since_start:ratio', legend: '{{instance}} since start' },
      ] },
      { title: 'P2P offload', type: 'stat', unit: 'percentunit', w: 6, min: 0, max: 1, description: 'Share of the stream bytes viewers received that came from peers other than the source.', queries: [
        { expr: 'cjp2p:p2p_offload:ratio', legend: 'offload' },
      ] },
      { title: 'Stream bitrate vs source upload', unit: 'bps', w: 12, description: 'What the source produces, what it uploads, and what relays upload for it.', queries: [
        { expr: `sum(rate(cjp2p_stream_produced_bytes_total[${RI}])) * 8`, legend: 'stream bitrate' },
        { expr: `sum(rate(cjp2p_stream_uploaded_bytes_total{role="source"}[${RI}])) * 8`, legend: 'source upload' },
        { expr: `sum(rate(cjp2p_stream_uploaded_bytes_total{role="relay"}[${RI}])) * 8`, legend: 'relay upload' },
      ] },
      { title: 'Source copies over time', unit: 'none', w: 12, min: 0, description: 'Copies uploaded by each source over a 1m window.', queries: [
        { expr: 'cjp2p:source_copies_uploaded:ratio', legend: '{{instance}}' },
      ] },
      { title: 'Upload per node', unit: 'bps', w: 12, description: 'All UDP bytes each node sends, stream, file and control together.', queries: [
        { expr: `sum by (instance) (rate(cjp2p_udp_sent_bytes_total{${I}}[${RI}])) * 8`, legend: '{{instance}}' },
      ] },
    ],
  },
  {
    title: 'Delivery',
    panels: [
      { title: 'Chunk delay p50 / p95 / p99', unit: 's', w: 12, min: 0, description: "From the source's signed publish time to verified at the node.", queries: [0.5, 0.95, 0.99].map((q) => (
        { expr: `histogram_quantile(${q}, sum by (le) (rate(cjp2p_chunk_delay_seconds_bucket{${I}}[${RI}])))`, legend: `p${Math.round(q * 100)}` }
      )) },
      { title: 'Chunk delay heatmap', type: 'heatmap', w: 12, description: 'Chunks verified per delay bucket.', queries: [
        { expr: `sum by (le) (increase(cjp2p_chunk_delay_seconds_bucket{${I}}[${RI}]))`, legend: '{{le}}', format: 'heatmap' },
      ] },
      { title: 'Hops from the source', unit: 'none', w: 8, min: 0, description: 'Relays between the source and each verified chunk: mean and p95.', queries: [
        { expr: `sum(rate(cjp2p_chunk_hops_sum{${I}}[${RI}])) / sum(rate(cjp2p_chunk_hops_count{${I}}[${RI}]))`, legend: 'mean' },
        { expr: `histogram_quantile(0.95, sum by (le) (rate(cjp2p_chunk_hops_bucket{${I}}[${RI}])))`, legend: 'p95' },
      ] },
      { title: 'Delivery completeness and duplicates', unit: 'percentunit', w: 8, min: 0, description: 'New chunks verified per chunk produced, and the share of received chunks that were duplicates.', queries: [
        { expr: `instance:cjp2p_delivery_completeness:ratio{${I}}`, legend: 'complete {{instance}}' },
        { expr: `instance:cjp2p_chunk_duplicates:ratio{${I}}`, legend: 'duplicate {{instance}}' },
      ] },
      { title: 'Chunks received by result', unit: 'cps', w: 8, description: 'new, duplicate, late and rejected chunks per second.', queries: [
        { expr: `sum by (result) (rate(cjp2p_chunks_received_total{${I}}[${RI}]))`, legend: '{{result}}' },
      ] },
    ],
  },
  {
    title: 'Peers and health',
    panels: [
      { title: 'Peers', unit: 'none', w: 8, min: 0, description: 'Peers known and active, and how many peers each node fed stream chunks in the last interval.', queries: [
        { expr: `cjp2p_peers_known{${I}}`, legend: 'known {{instance}}' },
        { expr: `cjp2p_peers_active{${I}}`, legend: 'active {{instance}}' },
        { expr: `cjp2p_relay_fanout_peers{${I}}`, legend: 'fed {{instance}}' },
      ] },
      { title: 'Playback stalls', unit: 'percentunit', w: 8, min: 0, description: 'Share of time local playback was stalled, and stalls started.', queries: [
        { expr: `instance:cjp2p_playback_stalled:ratio{${I}}`, legend: 'stalled {{instance}}' },
        { expr: `sum by (instance) (increase(cjp2p_playback_stalls_total{${I}}[${RI}]))`, legend: 'stalls {{instance}}' },
      ] },
      { title: 'Control overhead', unit: 'percentunit', w: 8, min: 0, description: 'Share of sent bytes that are control traffic, per node.', queries: [
        { expr: `instance:cjp2p_control_overhead:ratio{${I}}`, legend: '{{instance}}' },
      ] },
      { title: 'Traffic by kind', unit: 'bps', w: 8, description: 'UDP bytes sent and received, by kind.', queries: [
        { expr: `sum by (kind) (rate(cjp2p_udp_sent_bytes_total{${I}}[${RI}])) * 8`, legend: 'sent {{kind}}' },
        { expr: `sum by (kind) (rate(cjp2p_udp_received_bytes_total{${I}}[${RI}])) * 8`, legend: 'received {{kind}}' },
      ] },
      { title: 'Penalties, bans and dropped datagrams', unit: 'none', w: 8, min: 0, description: 'What peers did wrong, by reason.', queries: [
        { expr: `sum by (reason) (increase(cjp2p_peer_bans_total{${I}}[${RI}]))`, legend: 'banned {{reason}}' },
        { expr: `sum by (reason) (increase(cjp2p_peer_penalties_total{${I}}[${RI}]))`, legend: 'penalised {{reason}}' },
        { expr: `sum by (reason) (increase(cjp2p_udp_dropped_datagrams_total{${I}}[${RI}]))`, legend: 'dropped {{reason}}' },
      ] },
      { title: 'HTTP and file transfers', unit: 'reqps', w: 8, description: 'HTTP requests by route and code; file downloads by result.', queries: [
        { expr: `sum by (route, code) (rate(cjp2p_http_requests_total{${I}}[${RI}]))`, legend: '{{route}} {{code}}' },
        { expr: `sum by (result) (rate(cjp2p_file_transfers_total{${I}}[${RI}]))`, legend: 'files {{result}}' },
      ] },
      { title: 'Nodes', type: 'table', w: 24, h: 6, description: 'Each node: its role, version and whether Prometheus reaches it.', queries: [
        { expr: `max by (instance, role) (cjp2p_node_info{${I}})`, format: 'table', instant: true },
        { expr: `max by (instance, version, nodejs) (cjp2p_build_info{${I}})`, format: 'table', instant: true },
        { expr: `up{job="cjp2p",${I}}`, format: 'table', instant: true },
      ] },
    ],
  },
]

function panel(spec: PanelSpec, id: number, x: number, y: number): Record<string, unknown> {
  const type = spec.type ?? 'timeseries'
  const defaults: Record<string, unknown> = { unit: spec.unit ?? 'short' }
  if (spec.min !== undefined) defaults.min = spec.min
  if (spec.max !== undefined) defaults.max = spec.max
  if (type === 'timeseries') defaults.custom = { lineWidth: 1, fillOpacity: 10, showPoints: 'never' }
  const options: Record<string, unknown> = type === 'heatmap'
    ? { calculate: false, yAxis: { unit: 's' }, color: { scheme: 'Oranges', mode: 'scheme' }, cellGap: 1 }
    : type === 'stat' ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'area' }
      : type === 'table' ? { showHeader: true }
        : { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } }
  return {
    id, type, title: spec.title, description: spec.description, datasource,
    gridPos: { x, y, w: spec.w ?? 12, h: spec.h ?? 8 },
    fieldConfig: { defaults, overrides: [] },
    options,
    targets: spec.queries.map((q, i) => ({
      refId: String.fromCharCode(65 + i), datasource, expr: q.expr, legendFormat: q.legend ?? '',
      format: q.format ?? 'time_series', range: !q.instant, instant: q.instant ?? false,
    })),
  }
}

export function buildDashboard(): Record<string, unknown> {
  const panels: Array<Record<string, unknown>> = []
  let id = 1
  let y = 0
  for (const row of ROWS) {
    panels.push({ id: id++, type: 'row', title: row.title, datasource, collapsed: false, gridPos: { x: 0, y, w: 24, h: 1 }, panels: [] })
    y += 1
    let x = 0
    let rowHeight = 0
    for (const spec of row.panels) {
      const w = spec.w ?? 12
      if (x + w > 24) { y += rowHeight; x = 0; rowHeight = 0 }
      panels.push(panel(spec, id++, x, y))
      x += w
      rowHeight = Math.max(rowHeight, spec.h ?? 8)
    }
    y += rowHeight
  }
  return {
    uid: 'cjp2p-fanout',
    title: 'cjp2p-stream fan-out',
    description: 'Does the source upload about one copy while every viewer gets the stream in time?',
    tags: ['cjp2p', 'p2p', 'streaming'],
    editable: true,
    graphTooltip: 1,
    refresh: '5s',
    schemaVersion: 39,
    time: { from: 'now-15m', to: 'now' },
    timepicker: { refresh_intervals: ['2s', '5s', '10s', '30s', '1m'] },
    templating: {
      list: [{
        name: 'instance', label: 'node', type: 'query', datasource,
        query: { query: 'label_values(cjp2p_node_info, instance)', refId: 'instance' },
        definition: 'label_values(cjp2p_node_info, instance)',
        includeAll: true, multi: true, allValue: '.*', refresh: 2, sort: 1,
        current: { selected: true, text: ['All'], value: ['$__all'] },
      }],
    },
    annotations: { list: [] },
    panels,
  }
}

export function dashboardJson(): string {
  return JSON.stringify(buildDashboard(), null, 2) + '\n'
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(DASHBOARD_PATH, dashboardJson())
  console.log(`wrote ${DASHBOARD_PATH}`)
}
