// `status`, `peers` and `ls`: ask a running node over its local JSON API.
import { DEFAULT_HTTP_PORT } from '../mesh/default-ports.ts'
import type { AudienceView } from '../mesh/telemetry/audience-view.ts'
import { formatAudience } from './audience-format.ts'
import type { NodeStatus } from '../metrics/node-status.ts'
import type { PortMappingStatus } from '../mesh/nat/port-mapping.ts'
import { PROTOCOL_NAMES } from '../mesh/nat/gateway-mapper.ts'
import { bytes, bitrate } from './format.ts'
import { NodeUnreachable, callApi, httpBase } from './node-api.ts'

export { NodeUnreachable } from './node-api.ts'

/** Reads answer quickly or not at all. */
const READ_TIMEOUT_MS = 5000

/** The node's status (a local node of ours, so in the shape of the contract; a stranger answering
 * on the port is caught by the shape check). */
async function fetchStatus(host: string, port: number): Promise<NodeStatus> {
  const base = httpBase(host, port)
  const body = await callApi<Partial<NodeStatus> | null>(base, 'GET', '/api/status', { timeoutMs: READ_TIMEOUT_MS })
  if (typeof body !== 'object' || body === null || typeof body.node !== 'object' || !Array.isArray(body.peers) || !Array.isArray(body.streams)) {
    throw new NodeUnreachable(`${base}/api/status is not a cjp2p-stream node's status`)
  }
  return body as NodeStatus
}

interface Listing {
  shared: Array<{ id: string; name: string | null; size: number }>
  fetches: Array<{ id: string; name: string | null; state: string; size: number | null; bytes: number; rateBps: number; peers: number; error: string | null }>
}

export async function runLs(flags: { httpHost: string; httpPort?: number; json?: boolean }): Promise<void> {
  const base = httpBase(flags.httpHost, flags.httpPort ?? DEFAULT_HTTP_PORT)
  const list = await callApi<Listing>(base, 'GET', '/api/files', { timeoutMs: READ_TIMEOUT_MS })
  if (flags.json) { process.stdout.write(JSON.stringify(list, null, 2) + '\n'); return }
  for (const f of list.shared) process.stdout.write(`${f.id}  ${bytes(f.size).padStart(10)}  shared       ${f.name ?? ''}\n`)
  for (const f of list.fetches.filter((x) => x.state !== 'done')) {
    const pct = f.size ? `${Math.floor((100 * f.bytes) / f.size)}%` : '?'
    const what = f.state === 'downloading' ? `${pct} ${bitrate(f.rateBps)} ${f.peers} peer(s)` : `${f.state}${f.error ? `: ${f.error}` : ''}`
    process.stdout.write(`${f.id}  ${f.size === null ? '?'.padStart(10) : bytes(f.size).padStart(10)}  ${what}  ${f.name ?? ''}\n`)
  }
  if (list.shared.length === 0 && list.fetches.length === 0) process.stdout.write('no files\n')
  process.stdout.write(`play any of them at ${base}/content/<id>\n`)
}

export async function runStatus(flags: { httpHost: string; httpPort?: number; json?: boolean; audience?: boolean }): Promise<void> {
  const st = await fetchStatus(flags.httpHost, flags.httpPort ?? DEFAULT_HTTP_PORT)
  if (flags.audience) {
    const streams = (st.streams as Array<{ id: string; role: string; audience?: AudienceView; pathToSource?: string[]; sources?: string[] }>).filter((s) => s.audience)
    if (flags.json) { process.stdout.write(JSON.stringify(streams.map((s) => ({ id: s.id, role: s.role, audience: s.audience })), null, 2) + '\n'); return }
    for (const s of streams) process.stdout.write(formatAudience(s.id, s.role, s.audience as AudienceView, s.pathToSource, s.sources).join('\n') + '\n')
    if (streams.length === 0) process.stdout.write('no streams on this node\n')
    return
  }
  if (flags.json) { process.stdout.write(JSON.stringify(st, null, 2) + '\n'); return }
  const { node, peers, streams } = st
  process.stdout.write(`node  udp ${node.udp}  http ${node.http}  role ${node.role}  up ${node.uptimeSeconds}s\n`)
  process.stdout.write(`peers ${peers.length} (${peers.filter((p) => p.verified).length} verified, ${peers.filter((p) => p.banned).length} banned)\n`)
  if (st.bandwidth) process.stdout.write(bandwidthLines(st.bandwidth).join('\n') + '\n')
  const pm = st.nat?.portMapping
  if (pm) process.stdout.write(portMappingLine(pm) + '\n')
  for (const s of streams) {
    const head = s.head
    process.stdout.write(`stream ${s.id}  ${s.role}  chunks ${s.verifiedChunks}/${head?.chunks ?? '?'}  segments ${head?.segments ?? '?'}${head?.ended ? ' (ended)' : ''}  uploaded ${s.uploadedBytes} B  copies ${Number(s.copiesUploaded).toFixed(2)}\n`)
  }
}

export async function runPeers(flags: { httpHost: string; httpPort?: number; json?: boolean }): Promise<void> {
  const st = await fetchStatus(flags.httpHost, flags.httpPort ?? DEFAULT_HTTP_PORT)
  const peers = st.peers
  if (flags.json) { process.stdout.write(JSON.stringify(peers, null, 2) + '\n'); return }
  for (const p of peers) {
    process.stdout.write(`${String(p.addr).padEnd(24)} ${p.verified ? 'verified  ' : 'unverified'} rtt ${p.rttMs ?? '?'} ms  heard ${Math.round(Number(p.lastHeardMsAgo) / 1000)}s ago${p.banned ? '  BANNED' : ''}\n`)
  }
  if (peers.length === 0) process.stdout.write('no peers yet\n')
}

/** One line a direction: the rate now against the limit, and what the limit held back. */
export function bandwidthLines(b: NodeStatus['bandwidth']): string[] {
  const limit = (l: number | null) => (l === null ? 'no limit' : `limit ${bitrate(l)}`)
  const up = b.upload
  const down = b.download
  return [
    `upload   ${bitrate(up.rateBytesPerSecond)} (${limit(up.limitBytesPerSecond)})  sent ${bytes(up.sentBytes)}  deferred ${bytes(up.deferredBytes)}  dropped ${bytes(up.droppedBytes)}`,
    `download ${bitrate(down.rateBytesPerSecond)} (${limit(down.limitBytesPerSecond)})  received ${bytes(down.receivedBytes)}  requests held ${bytes(down.deferredBytes)}`,
  ]
}

/** --port-mapping: where the router forwards from, and through which protocol, or why it does not. */
export function portMappingLine(pm: PortMappingStatus): string {
  if (pm.state === 'mapped') return `port mapping  ${pm.externalAddress} -> ${pm.internalAddress}  (${PROTOCOL_NAMES[pm.protocol ?? 'upnp-igd']} at ${pm.gateway}, renewed ${pm.renewals}x)`
  return `port mapping  ${pm.state}${pm.lastError ? `: ${pm.lastError}` : ''}`
}
