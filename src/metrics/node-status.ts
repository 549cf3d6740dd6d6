// The status contract: what a node serves as /status.json, declared once. The runtime builds it,
// the dashboard (player/pages/dashboard-status.ts, which checks every field of a remote node's
// copy), `cjp2p-stream status` / `peers` (cli/inspect.ts), the player page (static/player.js, by
// the keys in PlayerStatusHints) and the test and lab tools read it. A field renamed here breaks
// the build of every reader that names it, not a dashboard at run time.
import type { SwarmStatus } from '../mesh/stream/swarm-status.ts'
import type { AnnounceVerdict } from '../mesh/dht/provider-store.ts'
import type { NamedVerdict } from '../mesh/dht/keyword-store.ts'
import type { NatKind } from '../mesh/messages.ts'
import type { NatStatus } from '../mesh/nat/nat-traversal.ts'
import type { PortMappingStatus } from '../mesh/nat/port-mapping.ts'
import type { SecureCounters } from '../mesh/secure/secure-sessions.ts'
import type { UploadStatus } from '../mesh/bandwidth/upload-pacer.ts'
import type { DownloadStatus } from '../mesh/bandwidth/download-pacer.ts'
import type { StreamSwarm } from '../mesh/stream/stream-swarm.ts'

export type { SwarmStatus } from '../mesh/stream/swarm-status.ts'

export interface PeerStatus {
  addr: string
  verified: boolean
  /** Smoothed round trip, 0.1 ms resolution; null before the first probe answered. */
  rttMs: number | null
  lastHeardMsAgo: number
  banned: boolean
  penalty: number
  speaksStreams: boolean
  /** What it told us of its own NAT (IAmBehind), if it did. */
  nat: NatKind | null
  /** Its router forwards the address we know it by to it (IAmBehind.mapped): reachable by anyone. */
  mapped: boolean
}

/** One stream this node carries: the swarm's own status plus the player page's two figures. */
export interface StreamStatus extends SwarmStatus {
  bytesFromPeers: number
  bytesFromSource: number
}

/** A swarm's entry in /status.json, made here for the runtime and the bench's source dashboard
 * alike. A source adds its last hour of audience figures: the dashboard's chart survives a reload. */
export function streamStatus(s: StreamSwarm): StreamStatus {
  const st = s.status()
  return {
    ...st, bytesFromPeers: st.receivedBytes - st.receivedFromSourceBytes, bytesFromSource: st.receivedFromSourceBytes,
    ...(s.isSource ? { audienceHistory: s.audienceHistory() } : {}),
  }
}

export interface NodeStatus {
  node: { udp: string; http: string | null; dir: string; role: string; pid: number; uptimeSeconds: number }
  /** Wire counters of the node (datagrams, bytes, drops by reason, anti-amplification figures). */
  counters: { datagramsIn: number; datagramsOut: number; bytesIn: number; bytesOut: number; dropped: Record<string, number>; ampMaxRatio: number; ampHelloBytes: number }
  peers: PeerStatus[]
  streams: StreamStatus[]
  /** What this node's player pages reported, summed over streams. */
  playback: { reports: number; stalls: number; stallSeconds: number; latencySeconds: number | null }
  /** Other nodes' HTTP endpoints whose status the dashboard may read. */
  dashboardPeers: string[]
  /** Our NAT as peers see us, and the introductions, keepalives and key proofs (src/mesh/nat/). */
  nat: NatStatus & { portMapping: PortMappingStatus | null }
  /** Encrypted sessions with our peers: handshakes, sealed and opened datagrams, refusals. */
  secure: SecureCounters | null
  /** --max-upload and --max-download: the limits, the rates now, what the limits held back (src/mesh/bandwidth/). */
  bandwidth: { upload: UploadStatus; download: DownloadStatus }
  dht: {
    id: string; contacts: number; providerKeys: number
    queries: number; answers: number; timeouts: number; announcesSent: number; announces: Partial<Record<AnnounceVerdict | 'unverified', number>>
    /** Names and search (src/mesh/dht/name-index.ts): files we list, words we hold announcements for. */
    names: {
      shared: number; words: number; namedSent: number; searches: number; listings: number
      named: Partial<Record<NamedVerdict | 'unverified' | 'not_in_name', number>>
    }
  }
}

/** A status from elsewhere before it is checked: the contract's keys, every value unknown. */
export type Unchecked<T> = { [K in keyof T]?: unknown }
