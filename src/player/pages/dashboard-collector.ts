// Gathers what /dashboard/data.json serves: this node's status plus the /status.json of every
// peer endpoint it lists in `dashboardPeers`, fetched server-side (the pages of other nodes are
// other origins), with a timeout, a size cap and a count cap. One collection serves every
// request that arrives within MIN_INTERVAL_MS, so ten open tabs do not fetch ten times as much.
import { buildGraph, streamsIn, type RelayGraph } from './dashboard-graph.ts'
import { GraphLayout } from './dashboard-layout.ts'
import { DashboardHistory, seriesFrom, type DashboardSeries } from './dashboard-series.ts'
import { parseNodeStatus, type DashboardNodeStatus } from './dashboard-status.ts'

/** Peer endpoints read per collection: the dashboard draws at most a few dozen nodes anyway. */
export const MAX_DASHBOARD_PEERS = 32
/** A status is a few KB; a node with many streams and peers stays far below this. */
export const MAX_STATUS_BYTES = 512 * 1024
/** A peer that does not answer within this is shown as unreachable; the page refreshes each second. */
export const PEER_TIMEOUT_MS = 1500
/** Collections are reused for this long. */
export const MIN_INTERVAL_MS = 900

export type FetchStatus = (url: string, signal: AbortSignal) => Promise<unknown>

export interface DashboardCollectorComponents {
  /** This node's own status (the object /status.json serves). */
  status: () => unknown
  fetchStatus?: FetchStatus
  now?: () => number
}

export interface PeerReading { url: string; ok: boolean; error?: string; udp?: string }

export interface DashboardData {
  generatedAt: number
  self: string | null
  streams: string[]
  stream: string | null
  graph: RelayGraph | null
  series: DashboardSeries | null
  peers: PeerReading[]
  /** Per node: role, peers, playback counters, hop histogram of the drawn stream. */
  nodes: Array<{ udp: string; http: string | null; role: string; peersActive: number; stalls: number; stallSeconds: number; hops: Record<string, number> }>
  /** This node's audience telemetry for the stream (src/mesh/telemetry/), drawn by dashboard-audience.js. */
  audience: { role: unknown; view: unknown; history: unknown } | null
}

interface Collection { at: number; self: DashboardNodeStatus | null; statuses: DashboardNodeStatus[]; peers: PeerReading[]; streams: string[] }

export class DashboardCollector {
  private readonly history = new DashboardHistory()
  /** One layout per stream still carried, so nodes keep their places between refreshes. */
  private readonly layouts = new Map<string, GraphLayout>()
  private readonly fetchStatus: FetchStatus
  private readonly now: () => number
  private last: Collection | null = null
  private inFlight: Promise<Collection> | null = null

  constructor(private readonly components: DashboardCollectorComponents) {
    this.fetchStatus = components.fetchStatus ?? fetchJson
    this.now = components.now ?? Date.now
  }

  /** The dashboard's data for one stream (default: the most widely carried one). */
  async data(stream?: string): Promise<DashboardData> {
    const c = await this.collect()
    const chosen = stream && c.streams.includes(stream) ? stream : c.streams[0] ?? null
    const carrying = chosen ? c.statuses.filter((st) => st.streams.some((s) => s.id === chosen)) : []
    return {
      generatedAt: c.at,
      self: c.self?.udp ?? null,
      streams: c.streams,
      stream: chosen,
      graph: chosen ? buildGraph(c.statuses, chosen, c.self?.udp ?? null, this.layoutFor(chosen)) : null,
      series: chosen ? seriesFrom(this.history.snapshots(chosen)) : null,
      audience: chosen ? audienceOf(this.components.status(), chosen) : null,
      peers: c.peers,
      nodes: carrying.map((st) => ({
        udp: st.udp, http: st.http, role: st.role, peersActive: st.peersActive, stalls: st.playback.stalls, stallSeconds: st.playback.stallSeconds,
        hops: st.streams.find((s) => s.id === chosen)?.hops ?? {},
      })),
    }
  }

  private layoutFor(stream: string): GraphLayout {
    let l = this.layouts.get(stream)
    if (!l) this.layouts.set(stream, l = new GraphLayout())
    return l
  }

  private collect(): Promise<Collection> {
    if (this.last && this.now() - this.last.at < MIN_INTERVAL_MS) return Promise.resolve(this.last)
    this.inFlight ??= this.gather().finally(() => { this.inFlight = null })
    return this.inFlight
  }

  private async gather(): Promise<Collection> {
    const self = parseNodeStatus(this.components.status())
    const urls = [...new Set(self?.dashboardPeers ?? [])].filter((u) => u !== self?.http).slice(0, MAX_DASHBOARD_PEERS)
    const peers = await Promise.all(urls.map(async (url): Promise<{ reading: PeerReading; status: DashboardNodeStatus | null }> => {
      try {
        const status = parseNodeStatus(await this.fetchStatus(`${url}/status.json`, AbortSignal.timeout(PEER_TIMEOUT_MS)))
        if (!status) return { reading: { url, ok: false, error: 'not a node status' }, status: null }
        return { reading: { url, ok: true, udp: status.udp }, status }
      } catch (err) {
        return { reading: { url, ok: false, error: errorText(err) }, status: null }
      }
    }))
    const byUdp = new Map<string, DashboardNodeStatus>()
    if (self) byUdp.set(self.udp, self)
    for (const p of peers) if (p.status && !byUdp.has(p.status.udp)) byUdp.set(p.status.udp, p.status)
    const statuses = [...byUdp.values()]
    const streams = streamsIn(statuses)
    const at = this.now()
    this.history.add(at, statuses, streams)
    for (const id of this.layouts.keys()) if (!streams.includes(id)) this.layouts.delete(id)
    this.last = { at, self, statuses, peers: peers.map((p) => p.reading), streams }
    return this.last
  }
}

/** This node's own audience telemetry for `stream` (its status is ours: read, not fetched), with
 * its role: the whole audience and its last hour at the source, the subtree at a viewer. */
function audienceOf(status: unknown, stream: string): { role: unknown; view: unknown; history: unknown } | null {
  const streams = (status as { streams?: unknown } | null)?.streams
  if (!Array.isArray(streams)) return null
  const s = streams.find((x) => (x as { id?: unknown } | null)?.id === stream) as { role?: unknown; audience?: unknown; audienceHistory?: unknown; parents?: unknown; pathToSource?: unknown; sources?: unknown } | undefined
  if (!s || typeof s.audience !== 'object' || s.audience === null) return null
  return { role: s.role, view: { ...s.audience, parents: s.parents, pathToSource: s.pathToSource, sources: s.sources }, history: Array.isArray(s.audienceHistory) ? s.audienceHistory : [] }
}

/** GET a JSON body no larger than MAX_STATUS_BYTES. */
async function fetchJson(url: string, signal: AbortSignal): Promise<unknown> {
  const res = await fetch(url, { signal, redirect: 'error', headers: { accept: 'application/json' } })
  if (!res.ok || !res.body) {
    await res.body?.cancel()
    throw new Error(`HTTP ${res.status}`)
  }
  const declared = Number(res.headers.get('content-length'))
  if (declared > MAX_STATUS_BYTES) {
    await res.body.cancel()
    throw new Error('status too large')
  }
  const parts: Uint8Array[] = []
  let size = 0
  for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += part.byteLength
    if (size > MAX_STATUS_BYTES) throw new Error('status too large')
    parts.push(part)
  }
  return JSON.parse(Buffer.concat(parts).toString('utf8'))
}

function errorText(err: unknown): string {
  const e = err as { name?: string; message?: string } | null
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timed out'
  return String(e?.message ?? err).slice(0, 200)
}
