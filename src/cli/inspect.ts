// `status` and `peers`: ask a running node over its local HTTP endpoint.
import { DEFAULT_HTTP_PORT } from '../mesh/default-ports.ts'
import type { AudienceView } from '../mesh/telemetry/audience-view.ts'
import { formatAudience } from './audience-format.ts'
import { CodedError } from '../util/coded-error.ts'
import type { NodeStatus } from '../metrics/node-status.ts'

export class NodeUnreachable extends CodedError<'ERR_NO_NODE'> {
  constructor(message: string) { super('ERR_NO_NODE', message) }
}

/** The node's status (a local node of ours, so in the shape of the contract; a stranger answering
 * on the port is caught by the shape check). */
async function fetchStatus(host: string, port: number): Promise<NodeStatus> {
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/status.json`
  let res: Response
  try { res = await fetch(url, { signal: AbortSignal.timeout(5000) }) } catch (err) {
    throw new NodeUnreachable(`no node answers at ${url} (${(err as Error).message}); start one with "cjp2p-stream node" or pass --http-port`)
  }
  if (!res.ok) throw new NodeUnreachable(`${url} answered ${res.status}`)
  const body = (await res.json()) as Partial<NodeStatus> | null
  if (typeof body !== 'object' || body === null || typeof body.node !== 'object' || !Array.isArray(body.peers) || !Array.isArray(body.streams)) {
    throw new NodeUnreachable(`${url} is not a cjp2p-stream node's status`)
  }
  return body as NodeStatus
}

export async function runStatus(flags: { httpHost: string; httpPort?: number; json?: boolean; audience?: boolean }): Promise<void> {
  const st = await fetchStatus(flags.httpHost, flags.httpPort ?? DEFAULT_HTTP_PORT)
  if (flags.audience) {
    const streams = (st.streams as Array<{ id: string; role: string; audience?: AudienceView }>).filter((s) => s.audience)
    if (flags.json) { process.stdout.write(JSON.stringify(streams.map((s) => ({ id: s.id, role: s.role, audience: s.audience })), null, 2) + '\n'); return }
    for (const s of streams) process.stdout.write(formatAudience(s.id, s.role, s.audience as AudienceView).join('\n') + '\n')
    if (streams.length === 0) process.stdout.write('no streams on this node\n')
    return
  }
  if (flags.json) { process.stdout.write(JSON.stringify(st, null, 2) + '\n'); return }
  const { node, peers, streams } = st
  process.stdout.write(`node  udp ${node.udp}  http ${node.http}  role ${node.role}  up ${node.uptimeSeconds}s\n`)
  process.stdout.write(`peers ${peers.length} (${peers.filter((p) => p.verified).length} verified, ${peers.filter((p) => p.banned).length} banned)\n`)
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
