// What domain code reports. Mesh, store, ingest and player call these optional hooks; only
// src/metrics/ turns them into Prometheus series, so nothing else imports prom-client.
// Every label below has a small fixed value set (no peer or chunk labels).
import type { RejectCause } from '../store/stream-types.ts'
import type { MappingProtocol } from '../mesh/nat/gateway-mapper.ts'

export type TrafficKind = 'stream' | 'file' | 'control'
export type TrafficRole = 'source' | 'relay'
export type ChunkResult = 'new' | 'duplicate' | 'late' | 'rejected'
export type DropReason =
  | 'oversize' | 'not_utf8' | 'not_json' | 'not_array' | 'too_many_messages'
  | 'bad_message' | 'unknown_type' | 'rate_limited' | 'banned' | 'amplification' | 'self'
  | 'bad_seal' | 'unknown_session' | 'plain_from_sealed'
export type PenaltyReason = 'bad_chunk' | 'bad_signature' | 'bad_field' | 'bad_file_block' | 'stale_head' | 'flood' | 'lie' | 'bad_seal'
export type TransferResult = 'completed' | 'failed'
/** What a node is doing, for `cjp2p_node_info{role}`: publishing a stream, watching one, or only relaying. */
export type NodeRole = 'source' | 'viewer' | 'node'
/** A node's part in one stream: its source, or anyone else holding it (who uploads as a relay). */
export type StreamRole = 'source' | 'viewer'

/** Cumulative totals for one stream since its owner object was created. */
export interface StreamStats {
  /** A stable local key for the stream (its id). Only used to difference successive totals, never a label. */
  stream?: string
  role: StreamRole
  /** Bytes appended to the stream log here (non-zero only at the source). */
  producedBytes: number
  /** Chunk payload bytes this node uploaded for the stream. */
  uploadedBytes: number
}

/** The audience a source's telemetry merged (src/mesh/telemetry/), over its window. */
export interface AudienceStats {
  viewers: number
  /** Viewers at each depth of the report tree (index 0: the source, always 0). */
  byDepth: number[]
  onTime: number
  late: number
  missed: number
  /** [bucket upper bound ms, chunks] */
  delay: Array<[number, number]>
  stalls: number
  stallSeconds: number
  offload: number | null
  suspect: number
  windowMs: number
  /** Viewers by the NAT they classified themselves behind. */
  nat: { none: number; cone: number; symmetric: number; unknown: number }
}

/** One direction of the node's bandwidth limit (src/mesh/bandwidth/): cumulative byte counts. */
export interface BandwidthStats {
  direction: BandwidthDirection
  /** Null: no limit. */
  limitBytesPerSecond: number | null
  rateBytesPerSecond: number
  /** Upload: bytes that waited in the limiter's queue. Download: answer bytes of file requests held back. */
  deferredBytes: number
  /** Upload: bytes the limiter dropped (queue full, waited too long). Download: always 0. */
  droppedBytes: number
}
export type BandwidthDirection = 'upload' | 'download'

export interface MetricsSink {
  datagramSent(kind: TrafficKind, role: TrafficRole, bytes: number): void
  datagramReceived(kind: TrafficKind, bytes: number): void
  datagramDropped(reason: DropReason): void
  /** Payload bytes of stream chunks as they leave in datagrams, by role: the wire tally of the
   * bench and the simulator (WireTally). Not a path into the exported stream counters, which read
   * the swarms' statistics alone (readStreams, streamClosed). */
  streamBytesUploaded?(role: TrafficRole, bytes: number): void
  chunkReceived(result: ChunkResult): void
  /** Seconds from the source's signed publish time to verified here, and relay hops. */
  chunkVerified(ageSeconds: number, hops: number): void
  peerPenalised(reason: PenaltyReason, banned: boolean): void
  peersGauge(known: number, active: number): void
  relayFanout(peersFedLastInterval: number): void
  playbackStall(seconds: number): void
  httpRequest(route: string, status: number): void
  fileTransfer(result: TransferResult): void
  // Added after the first release of this interface, so optional: call as `metrics.setNodeRole?.(r)`.
  /** Sets `cjp2p_node_info{role}` (one series, value 1). */
  setNodeRole?(role: NodeRole): void
  /** Every stream's cumulative totals as its swarm statistics (SwarmStats) count them, read at
   * each scrape (the runtime's swarms). With streamClosed, the only way stream bytes reach the
   * exported stream counters. */
  readStreams?(read: () => StreamStats[]): void
  /** A stream's final totals as its swarm closes, so bytes sent since the last scrape (or by a
   * stream never scraped) are counted; its baseline is then forgotten. */
  streamClosed?(final: StreamStats): void
  /** A stream record, block or chunk failed its check, by what was wrong with it. */
  streamRejected?(cause: RejectCause): void
  /** The audience of the stream this node is the source of (from a status loop). */
  setAudience?(audience: AudienceStats): void
  /** The bandwidth limits and what they did, both directions (from a status loop). */
  setBandwidth?(stats: BandwidthStats[]): void
  /** The protocol through which the router forwards our UDP port now, null while it does not (--port-mapping). */
  setPortMapped?(protocol: MappingProtocol | null): void
}

/** A sink that does nothing, for code run without metrics (tests, tools). */
export const noMetrics: MetricsSink = {
  datagramSent() {}, datagramReceived() {}, datagramDropped() {},
  streamBytesUploaded() {}, chunkReceived() {}, chunkVerified() {}, peerPenalised() {},
  peersGauge() {}, relayFanout() {}, playbackStall() {}, httpRequest() {}, fileTransfer() {},
  setNodeRole() {}, readStreams() {}, streamClosed() {}, streamRejected() {}, setAudience() {}, setBandwidth() {}, setPortMapped() {},
}
