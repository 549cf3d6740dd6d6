// Every cjp2p metric, defined once. Names follow Prometheus conventions: one `cjp2p_` prefix, base
// units (`_bytes`, `_seconds`), `_total` on counters, small fixed label sets (never a peer, chunk or
// stream id: those grow with what strangers send us).
//
// The series an operator reads first:
//   cjp2p_stream_produced_bytes_total{role="source"}   bytes the source appended to its streams
//   cjp2p_stream_uploaded_bytes_total{role}            chunk payload bytes uploaded (source | relay)
//     copies the source uploads = cjp2p_stream_uploaded_bytes_total{role="source"}
//                                 / cjp2p_stream_produced_bytes_total          (both at the source)
//   cjp2p_udp_sent_bytes_total{kind,role}              wire bytes sent (stream | file | control)
//   cjp2p_udp_received_bytes_total{kind}               wire bytes received
//   cjp2p_chunks_received_total{result}                new | duplicate | late | rejected
//   cjp2p_chunk_delay_seconds                          source's signed publish time -> verified here
//   cjp2p_chunk_hops                                   relays between the source and here
//   cjp2p_playback_stalls_total, cjp2p_playback_stall_seconds_total
//   cjp2p_node_info{role}, cjp2p_build_info{version,nodejs}
//   cjp2p_bandwidth_limit_bytes_per_second{direction}  --max-upload / --max-download (0: none)
//   cjp2p_bandwidth_rate_bytes_per_second{direction}   what the node sends / receives now
//   cjp2p_port_mapped{protocol}                        1 for the protocol through which the router forwards our UDP port (pcp | nat-pmp | upnp-igd)
// Derived series (copies, P2P offload, delay quantiles) are recording rules in deploy/prometheus/rules.yml.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { REJECT_CAUSES } from '../store/stream-types.ts'
import { DEFAULT_PROTOCOLS } from '../mesh/nat/gateway-mapper.ts'
import type {
  BandwidthDirection, ChunkResult, DropReason, NodeRole, PenaltyReason, StreamRole, TrafficKind, TrafficRole, TransferResult,
} from './types.ts'

// Every value of every label, so each series can be created at zero from the start: a rate() over a
// series that appears only at its first event misses that event, and absent series break ratios.
export const TRAFFIC_KINDS: readonly TrafficKind[] = ['stream', 'file', 'control']
export const TRAFFIC_ROLES: readonly TrafficRole[] = ['source', 'relay']
export const CHUNK_RESULTS: readonly ChunkResult[] = ['new', 'duplicate', 'late', 'rejected']
export const DROP_REASONS: readonly DropReason[] = [
  'oversize', 'not_utf8', 'not_json', 'not_array', 'too_many_messages',
  'bad_message', 'unknown_type', 'rate_limited', 'banned', 'amplification', 'self',
  'bad_seal', 'unknown_session', 'plain_from_sealed',
]
export const PENALTY_REASONS: readonly PenaltyReason[] = [
  'bad_chunk', 'bad_signature', 'bad_field', 'bad_file_block', 'stale_head', 'flood', 'lie', 'bad_seal',
]
export const TRANSFER_RESULTS: readonly TransferResult[] = ['completed', 'failed']
export const NODE_ROLES: readonly NodeRole[] = ['source', 'viewer', 'node']
export const STREAM_ROLES: readonly StreamRole[] = ['source', 'viewer']
export const BANDWIDTH_DIRECTIONS: readonly BandwidthDirection[] = ['upload', 'download']

/** Live latency lives between tens of milliseconds (one LAN hop) and seconds (a deep relay tree or
 * a late catch-up); buckets are dense around 0.2..3 s where the p95 of a healthy swarm sits. */
export const CHUNK_DELAY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10]
/** One bucket per hop up to 16; a longer path is a scheduling bug worth seeing as +Inf. */
export const HOP_BUCKETS = Array.from({ length: 17 }, (_, i) => i)

export const METRIC_NAMES = [
  'cjp2p_build_info',
  'cjp2p_node_info',
  'cjp2p_stream_produced_bytes_total',
  'cjp2p_stream_uploaded_bytes_total',
  'cjp2p_streams',
  'cjp2p_udp_sent_bytes_total',
  'cjp2p_udp_sent_datagrams_total',
  'cjp2p_udp_received_bytes_total',
  'cjp2p_udp_received_datagrams_total',
  'cjp2p_udp_dropped_datagrams_total',
  'cjp2p_chunks_received_total',
  'cjp2p_stream_rejects_total',
  'cjp2p_chunk_delay_seconds',
  'cjp2p_chunk_hops',
  'cjp2p_peers_known',
  'cjp2p_peers_active',
  'cjp2p_relay_fanout_peers',
  'cjp2p_peer_penalties_total',
  'cjp2p_peer_bans_total',
  'cjp2p_playback_stalls_total',
  'cjp2p_playback_stall_seconds_total',
  'cjp2p_http_requests_total',
  'cjp2p_file_transfers_total',
  'cjp2p_bandwidth_limit_bytes_per_second',
  'cjp2p_bandwidth_rate_bytes_per_second',
  'cjp2p_bandwidth_deferred_bytes_total',
  'cjp2p_bandwidth_dropped_bytes_total',
  'cjp2p_port_mapped',
] as const
export type MetricName = (typeof METRIC_NAMES)[number]

/** Creates every metric in `registry` (which must not already hold them). */
export function defineMetrics(registry: Registry) {
  const registers = [registry]
  return {
    buildInfo: new Gauge({
      name: 'cjp2p_build_info', registers, labelNames: ['version', 'nodejs'] as const,
      help: 'Always 1; labels carry the cjp2p-stream version and the Node.js version running it.',
    }),
    nodeInfo: new Gauge({
      name: 'cjp2p_node_info', registers, labelNames: ['role'] as const,
      help: 'Always 1; role is source (publishes a stream), viewer (watches one) or node (relays only).',
    }),
    streamProduced: new Counter({
      // The constant role="source" label lets `uploaded{role="source"} / produced` match one-to-one.
      name: 'cjp2p_stream_produced_bytes_total', registers, labelNames: ['role'] as const,
      help: 'Bytes the source appended to its live streams (the stream itself, one copy).',
    }),
    streamUploaded: new Counter({
      name: 'cjp2p_stream_uploaded_bytes_total', registers, labelNames: ['role'] as const,
      help: 'Stream chunk payload bytes this node uploaded to peers, by role (source or relay).',
    }),
    streams: new Gauge({
      name: 'cjp2p_streams', registers, labelNames: ['role'] as const,
      help: 'Live streams this node currently carries, by its role in each (source or viewer).',
    }),
    sentBytes: new Counter({
      name: 'cjp2p_udp_sent_bytes_total', registers, labelNames: ['kind', 'role'] as const,
      help: 'UDP datagram bytes sent, by traffic kind (stream, file, control) and role (source, relay).',
    }),
    sentDatagrams: new Counter({
      name: 'cjp2p_udp_sent_datagrams_total', registers, labelNames: ['kind', 'role'] as const,
      help: 'UDP datagrams sent, by traffic kind and role.',
    }),
    receivedBytes: new Counter({
      name: 'cjp2p_udp_received_bytes_total', registers, labelNames: ['kind'] as const,
      help: 'UDP datagram bytes received and decoded, by traffic kind.',
    }),
    receivedDatagrams: new Counter({
      name: 'cjp2p_udp_received_datagrams_total', registers, labelNames: ['kind'] as const,
      help: 'UDP datagrams received and decoded, by traffic kind.',
    }),
    droppedDatagrams: new Counter({
      name: 'cjp2p_udp_dropped_datagrams_total', registers, labelNames: ['reason'] as const,
      help: 'Received UDP datagrams dropped before use, by reason.',
    }),
    chunksReceived: new Counter({
      name: 'cjp2p_chunks_received_total', registers, labelNames: ['result'] as const,
      help: 'Stream chunks received, by verdict: new, duplicate, late (outside the live window) or rejected.',
    }),
    chunkDelay: new Histogram({
      name: 'cjp2p_chunk_delay_seconds', registers, buckets: CHUNK_DELAY_BUCKETS,
      help: "Seconds from the source's signed publish time of a chunk to its verification here.",
    }),
    chunkHops: new Histogram({
      name: 'cjp2p_chunk_hops', registers, buckets: HOP_BUCKETS,
      help: 'Relay hops between the source and this node for each verified chunk (0 = from the source).',
    }),
    peersKnown: new Gauge({
      name: 'cjp2p_peers_known', registers,
      help: 'Peers in the peer table (addresses heard of, proven or not).',
    }),
    peersActive: new Gauge({
      name: 'cjp2p_peers_active', registers,
      help: 'Peers with a proven address that exchanged datagrams recently.',
    }),
    relayFanout: new Gauge({
      name: 'cjp2p_relay_fanout_peers', registers,
      help: 'Peers this node uploaded stream chunks to during the last scheduler interval.',
    }),
    rejects: new Counter({
      name: 'cjp2p_stream_rejects_total', registers, labelNames: ['cause'] as const,
      help: 'Stream records, blocks and chunks that failed their check, by cause (bad_field, bad_signature, bad_hash, wrong_stream).',
    }),
    penalties: new Counter({
      name: 'cjp2p_peer_penalties_total', registers, labelNames: ['reason'] as const,
      help: 'Penalties charged to peers, by reason.',
    }),
    bans: new Counter({
      name: 'cjp2p_peer_bans_total', registers, labelNames: ['reason'] as const,
      help: 'Peers banned, by the reason of the penalty that crossed the ban threshold.',
    }),
    stalls: new Counter({
      name: 'cjp2p_playback_stalls_total', registers,
      help: 'Times local playback stopped to wait for data.',
    }),
    stallSeconds: new Counter({
      name: 'cjp2p_playback_stall_seconds_total', registers,
      help: 'Seconds local playback spent stalled.',
    }),
    httpRequests: new Counter({
      name: 'cjp2p_http_requests_total', registers, labelNames: ['route', 'code'] as const,
      help: 'HTTP requests served, by route template and status code.',
    }),
    fileTransfers: new Counter({
      name: 'cjp2p_file_transfers_total', registers, labelNames: ['result'] as const,
      help: 'File downloads finished, by result (completed or failed).',
    }),
    bandwidthLimit: new Gauge({
      name: 'cjp2p_bandwidth_limit_bytes_per_second', registers, labelNames: ['direction'] as const,
      help: 'The node\'s bandwidth limit (--max-upload, --max-download) in bytes a second; 0 when there is none.',
    }),
    bandwidthRate: new Gauge({
      name: 'cjp2p_bandwidth_rate_bytes_per_second', registers, labelNames: ['direction'] as const,
      help: 'Bytes a second the node sent (upload) or received (download) over the last five seconds, all traffic.',
    }),
    bandwidthDeferred: new Counter({
      name: 'cjp2p_bandwidth_deferred_bytes_total', registers, labelNames: ['direction'] as const,
      help: 'Bytes the bandwidth limit held back: datagrams that waited to be sent (upload), answer bytes of file requests that waited (download).',
    }),
    bandwidthDropped: new Counter({
      name: 'cjp2p_bandwidth_dropped_bytes_total', registers, labelNames: ['direction'] as const,
      help: 'Bytes the upload limit dropped (its queue full, or waited too long); download never drops.',
    }),
    portMapped: new Gauge({
      name: 'cjp2p_port_mapped', registers, labelNames: ['protocol'] as const,
      help: '1 for the protocol (pcp, nat-pmp, upnp-igd) through which the home router forwards the node\'s UDP port (--port-mapping); all 0 while it does not, or without the flag.',
    }),
  }
}
export type MetricSet = ReturnType<typeof defineMetrics>

/** Creates every known labelled series at zero, so rates and ratios exist before the first event. */
export function initialiseSeries(m: MetricSet): void {
  m.streamProduced.inc({ role: 'source' }, 0)
  for (const role of TRAFFIC_ROLES) m.streamUploaded.inc({ role }, 0)
  for (const role of STREAM_ROLES) m.streams.set({ role }, 0)
  for (const kind of TRAFFIC_KINDS) {
    for (const role of TRAFFIC_ROLES) {
      m.sentBytes.inc({ kind, role }, 0)
      m.sentDatagrams.inc({ kind, role }, 0)
    }
    m.receivedBytes.inc({ kind }, 0)
    m.receivedDatagrams.inc({ kind }, 0)
  }
  for (const reason of DROP_REASONS) m.droppedDatagrams.inc({ reason }, 0)
  for (const result of CHUNK_RESULTS) m.chunksReceived.inc({ result }, 0)
  for (const cause of REJECT_CAUSES) m.rejects.inc({ cause }, 0)
  for (const reason of PENALTY_REASONS) {
    m.penalties.inc({ reason }, 0)
    m.bans.inc({ reason }, 0)
  }
  for (const result of TRANSFER_RESULTS) m.fileTransfers.inc({ result }, 0)
  for (const direction of BANDWIDTH_DIRECTIONS) {
    m.bandwidthLimit.set({ direction }, 0)
    m.bandwidthRate.set({ direction }, 0)
    m.bandwidthDeferred.inc({ direction }, 0)
    m.bandwidthDropped.inc({ direction }, 0)
  }
  for (const protocol of DEFAULT_PROTOCOLS) m.portMapped.set({ protocol }, 0)
  m.peersKnown.set(0)
  m.peersActive.set(0)
  m.relayFanout.set(0)
  m.stalls.inc(0)
  m.stallSeconds.inc(0)
}
