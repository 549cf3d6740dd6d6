// What the dashboard takes from a node's /status.json (the contract is NodeStatus in
// metrics/node-status.ts; every key read here is one of its keys). The statuses of other nodes are remote
// input: every field is checked, every list is capped, and a bad field becomes a default rather
// than an error, so one odd node never blanks the whole dashboard. Addresses are made reachable
// (a node bound to 0.0.0.0 reports that; its peers on this machine know it as 127.0.0.1), so a
// node's own address and the one its peers name it by are the same node in the graph.
import { reachable } from '../../util/reachable-address.ts'
import type { NodeStatus, PeerStatus, StreamStatus, Unchecked } from '../../metrics/node-status.ts'

/** Streams we look at per node: the dashboard draws one at a time, a node rarely carries more. */
export const MAX_STREAMS_PER_NODE = 8
/** Addresses per parents/children/fedBy list: a relay has a handful of children per stripe. */
export const MAX_ADDRS_PER_LIST = 64
/** Stripes per stream: the swarm uses 4; more is not a status we understand. */
export const MAX_STRIPES = 16
/** Hop buckets kept: paths longer than this are folded into the last bucket. */
export const MAX_HOPS = 16
/** `host:port` is under 64 characters even for a long IPv6 address. */
const MAX_ADDR_LENGTH = 64
const MAX_TEXT_LENGTH = 300

export interface DashboardStream {
  id: string
  role: 'source' | 'viewer'
  /** Parent address per stripe, null when the stripe has none. */
  parents: (string | null)[]
  /** Child addresses per stripe. */
  children: string[][]
  /** Addresses that sent this node chunks as the source (a viewer knows them without reading the source). */
  sources: string[]
  /** Who fed us the recent chunks, with counts. */
  fedBy: Record<string, number>
  uploadedBytes: number
  receivedBytes: number
  receivedFromSourceBytes: number
  duplicateBytes: number
  producedBytes: number
  /** The stream's length in the newest signed head this node holds, and the source's time on it (ms). */
  headBytes: number
  headTime: number
  verifiedChunks: number
  delayMs: { p50: number; p95: number; p99: number; count: number }
  /** Chunks verified here per hop count from the source. */
  hops: Record<string, number>
}

export interface DashboardNodeStatus {
  udp: string
  http: string | null
  role: string
  peersActive: number
  playback: { stalls: number; stallSeconds: number; reports: number }
  streams: DashboardStream[]
  dashboardPeers: string[]
}

/** A node's status as the dashboard needs it, or null when it is not a status at all. */
export function parseNodeStatus(body: unknown): DashboardNodeStatus | null {
  if (!isRecord<NodeStatus>(body) || !isRecord<NodeStatus['node']>(body.node)) return null
  const node = body.node
  const udp = addr(node.udp)
  if (!udp) return null
  const http = httpUrl(node.http)
  const streams = Array.isArray(body.streams) ? body.streams.slice(0, MAX_STREAMS_PER_NODE).map(parseStream).filter((s) => s !== null) : []
  const playback = isRecord<NodeStatus['playback']>(body.playback) ? body.playback : {}
  const peers = Array.isArray(body.peers) ? body.peers.filter((p) => isRecord<PeerStatus>(p) && !p.banned && count(p.lastHeardMsAgo) < 30_000).length : 0
  return {
    udp,
    http,
    role: text(node.role, 16) || 'node',
    peersActive: peers,
    playback: { stalls: count(playback.stalls), stallSeconds: count(playback.stallSeconds), reports: count(playback.reports) },
    streams,
    dashboardPeers: Array.isArray(body.dashboardPeers) ? body.dashboardPeers.slice(0, MAX_ADDRS_PER_LIST).map(httpUrl).filter((u) => u !== null) : [],
  }
}

function parseStream(raw: unknown): DashboardStream | null {
  if (!isRecord<StreamStatus>(raw)) return null
  const id = text(raw.id, MAX_TEXT_LENGTH)
  if (!id) return null
  const parents = Array.isArray(raw.parents) ? raw.parents.slice(0, MAX_STRIPES).map((p) => addr(p)) : []
  const children = Array.isArray(raw.children)
    ? raw.children.slice(0, MAX_STRIPES).map((list) => (Array.isArray(list) ? addrList(list) : []))
    : []
  const delay = isRecord<StreamStatus['delayMs']>(raw.delayMs) ? raw.delayMs : {}
  const head = isRecord<NonNullable<StreamStatus['head']>>(raw.head) ? raw.head : {}
  const hops: Record<string, number> = {}
  if (isRecord(raw.hops)) {
    for (const [k, v] of Object.entries(raw.hops).slice(0, 4 * MAX_HOPS)) {
      const h = Number(k)
      if (!Number.isInteger(h) || h < 0) continue
      const key = String(Math.min(h, MAX_HOPS))
      hops[key] = (hops[key] ?? 0) + count(v)
    }
  }
  return {
    id,
    role: raw.role === 'source' ? 'source' : 'viewer',
    parents,
    children,
    sources: Array.isArray(raw.sources) ? addrList(raw.sources).slice(0, MAX_STRIPES) : [],
    fedBy: addrCounts(raw.fedBy),
    uploadedBytes: count(raw.uploadedBytes),
    receivedBytes: count(raw.receivedBytes),
    receivedFromSourceBytes: count(raw.receivedFromSourceBytes),
    duplicateBytes: count(raw.duplicateBytes),
    producedBytes: count(raw.producedBytes),
    headBytes: count(head.bytes),
    headTime: count(head.time),
    verifiedChunks: count(raw.verifiedChunks),
    delayMs: { p50: count(delay.p50), p95: count(delay.p95), p99: count(delay.p99), count: count(delay.count) },
    hops,
  }
}

function addrList(list: unknown[]): string[] {
  const out = new Set<string>()
  for (const a of list.slice(0, MAX_ADDRS_PER_LIST)) {
    const v = addr(a)
    if (v) out.add(v)
  }
  return [...out]
}

function addrCounts(raw: unknown): Record<string, number> {
  const out: Record<string, number> = {}
  if (!isRecord(raw)) return out
  for (const [k, v] of Object.entries(raw).slice(0, MAX_ADDRS_PER_LIST)) {
    const a = addr(k)
    if (a) out[a] = count(v)
  }
  return out
}

/** A `host:port` peer address (IPv4, [IPv6] or a name); anything else is not an address. */
export function addr(v: unknown): string | null {
  if (typeof v !== 'string' || v.length > MAX_ADDR_LENGTH) return null
  return /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+|[0-9A-Fa-f:]+):\d{1,5}$/.test(v) ? reachable(v) : null
}

/** An http(s) base URL without a trailing slash, or null. */
export function httpUrl(v: unknown): string | null {
  if (typeof v !== 'string' || v.length > MAX_TEXT_LENGTH) return null
  let u: URL
  try {
    u = new URL(v)
  } catch {
    return null
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password) return null
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`
}

function count(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0
}

function text(v: unknown, max: number): string {
  return typeof v === 'string' ? v.slice(0, max) : ''
}

/** A plain object, typed as the contract's `T` with every value still unchecked. */
function isRecord<T = Record<string, unknown>>(v: unknown): v is Unchecked<T> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
