// The one MetricsSink that turns domain hooks into Prometheus series. It owns two registries: the
// project's own metrics (lint-clean, what `promtool check metrics` sees) and prom-client's default
// process metrics (whose names predate the lint rules). `/metrics` serves both.
import { Registry, collectDefaultMetrics } from 'prom-client'
import { packageVersion } from '../util/package-version.ts'
import { AudienceMetrics } from './audience-metrics.ts'
import { BANDWIDTH_DIRECTIONS, defineMetrics, initialiseSeries, NODE_ROLES, type MetricSet } from './definitions.ts'
import { DEFAULT_PROTOCOLS, type MappingProtocol } from '../mesh/nat/gateway-mapper.ts'
import { StreamTotals, validBytes, type StreamSeries } from './stream-totals.ts'
import { REJECT_CAUSES, type RejectCause } from '../store/stream-types.ts'
import type {
  AudienceStats, BandwidthDirection, BandwidthStats, ChunkResult, DropReason, MetricsSink, NodeRole, PenaltyReason, StreamStats, TrafficKind,
  TrafficRole, TransferResult,
} from './types.ts'

/** Routes are templates chosen by our own router; a caller that passes raw URLs by mistake must not
 * grow a series per URL a browser asks for. Past the cap, new routes count as "other". */
export const MAX_HTTP_ROUTES = 32
const MAX_ROUTE_LENGTH = 64

export interface PrometheusMetricsInit {
  /** cjp2p-stream version for cjp2p_build_info; defaults to package.json's. */
  version?: string
  /** Initial cjp2p_node_info role. Default 'node'. */
  role?: NodeRole
  /** Collect prom-client's default process metrics (CPU, memory, event loop, GC). Default true.
   * Each instance adds its own event-loop monitor: pass false for many nodes in one process. */
  processMetrics?: boolean
  /** Route templates to create at zero (code 200), so their rates exist before the first request. */
  httpRoutes?: readonly string[]
}

export class PrometheusMetrics implements MetricsSink {
  /** The project's metrics only. */
  readonly registry = new Registry()
  /** prom-client default process and Node.js metrics, empty when processMetrics is false. */
  readonly processRegistry = new Registry()
  readonly contentType: string = Registry.PROMETHEUS_CONTENT_TYPE
  private readonly m: MetricSet
  private readonly totals = new StreamTotals()
  private streamReader: (() => StreamStats[]) | undefined
  private readonly routes = new Set<string>()
  private audience: AudienceMetrics | undefined
  private role: NodeRole
  /** The cumulative totals of the last setBandwidth, to count only what grew since. */
  private bandwidthSeen: Record<BandwidthDirection, { deferred: number; dropped: number }> = { upload: { deferred: 0, dropped: 0 }, download: { deferred: 0, dropped: 0 } }
  private closed = false

  constructor(init: PrometheusMetricsInit = {}) {
    this.m = defineMetrics(this.registry)
    initialiseSeries(this.m)
    this.m.buildInfo.set({ version: init.version ?? packageVersion(), nodejs: process.version }, 1)
    this.role = NODE_ROLES.includes(init.role as NodeRole) ? init.role as NodeRole : 'node'
    this.m.nodeInfo.set({ role: this.role }, 1)
    for (const route of init.httpRoutes ?? []) this.m.httpRequests.inc({ route: this.routeLabel(route), code: '200' }, 0)
    if (init.processMetrics ?? true) collectDefaultMetrics({ register: this.processRegistry })
  }

  /** The /metrics body: project metrics, then process metrics. */
  async text(): Promise<string> {
    if (this.closed) return ''
    this.syncStreams()
    const own = await this.registry.metrics()
    const proc = await this.processRegistry.metrics()
    if (proc.trim() === '') return own
    return own.endsWith('\n') ? own + proc : own + '\n' + proc
  }

  /** Drops every series; later hook calls are ignored. Idempotent. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.registry.clear()
    this.processRegistry.clear()
  }

  datagramSent(kind: TrafficKind, role: TrafficRole, bytes: number): void {
    if (this.closed || !validBytes(bytes)) return
    this.m.sentBytes.inc({ kind, role }, bytes)
    this.m.sentDatagrams.inc({ kind, role })
  }

  datagramReceived(kind: TrafficKind, bytes: number): void {
    if (this.closed || !validBytes(bytes)) return
    this.m.receivedBytes.inc({ kind }, bytes)
    this.m.receivedDatagrams.inc({ kind })
  }

  datagramDropped(reason: DropReason): void {
    if (this.closed) return
    this.m.droppedDatagrams.inc({ reason })
  }

  /** The stream counters' one source: the swarms' statistics, read at every scrape (text()). */
  readStreams(read: () => StreamStats[]): void {
    this.streamReader = read
  }

  /** A stream's last reading, as it closes: what it sent since the last scrape is counted too. */
  streamClosed(final: StreamStats): void {
    if (this.closed || typeof final !== 'object' || final === null) return
    for (const [series, delta] of this.totals.close(final)) this.grow(series, delta)
    this.updateStreamGauge()
  }

  /** The audience gauges exist only on a node that is a source (created on the first report). */
  setAudience(a: AudienceStats): void {
    if (this.closed) return
    this.audience ??= new AudienceMetrics(this.registry)
    this.audience.set(a)
  }

  setPortMapped(held: MappingProtocol | null): void {
    if (this.closed) return
    for (const protocol of DEFAULT_PROTOCOLS) this.m.portMapped.set({ protocol }, protocol === held ? 1 : 0)
  }

  /** Limits and rates are set; the deferred and dropped totals grow by what they grew since the last report. */
  setBandwidth(stats: BandwidthStats[]): void {
    if (this.closed || !Array.isArray(stats)) return
    for (const b of stats) {
      if (!BANDWIDTH_DIRECTIONS.includes(b.direction)) continue
      const direction = b.direction
      const limit = b.limitBytesPerSecond ?? 0
      this.m.bandwidthLimit.set({ direction }, validBytes(limit) ? limit : 0)
      if (validBytes(b.rateBytesPerSecond)) this.m.bandwidthRate.set({ direction }, b.rateBytesPerSecond)
      const last = this.bandwidthSeen[direction]
      if (validBytes(b.deferredBytes) && b.deferredBytes > last.deferred) { this.m.bandwidthDeferred.inc({ direction }, b.deferredBytes - last.deferred); last.deferred = b.deferredBytes }
      if (validBytes(b.droppedBytes) && b.droppedBytes > last.dropped) { this.m.bandwidthDropped.inc({ direction }, b.droppedBytes - last.dropped); last.dropped = b.droppedBytes }
    }
  }

  setNodeRole(role: NodeRole): void {
    if (this.closed || !NODE_ROLES.includes(role) || role === this.role) return
    // An info metric has exactly one series: drop the old role rather than setting it to 0.
    this.m.nodeInfo.remove({ role: this.role })
    this.role = role
    this.m.nodeInfo.set({ role }, 1)
  }

  chunkReceived(result: ChunkResult): void {
    if (this.closed) return
    this.m.chunksReceived.inc({ result })
  }

  chunkVerified(ageSeconds: number, hops: number): void {
    if (this.closed) return
    // A negative age means the source's clock runs ahead of ours; it still arrived, so count it as
    // instant rather than losing the sample.
    if (Number.isFinite(ageSeconds)) this.m.chunkDelay.observe(Math.max(0, ageSeconds))
    if (Number.isFinite(hops) && hops >= 0) this.m.chunkHops.observe(Math.floor(hops))
  }

  streamRejected(cause: RejectCause): void {
    if (this.closed || !REJECT_CAUSES.includes(cause)) return
    this.m.rejects.inc({ cause })
  }

  peerPenalised(reason: PenaltyReason, banned: boolean): void {
    if (this.closed) return
    this.m.penalties.inc({ reason })
    if (banned) this.m.bans.inc({ reason })
  }

  peersGauge(known: number, active: number): void {
    if (this.closed) return
    if (validBytes(known)) this.m.peersKnown.set(known)
    if (validBytes(active)) this.m.peersActive.set(active)
  }

  relayFanout(peersFedLastInterval: number): void {
    if (this.closed || !validBytes(peersFedLastInterval)) return
    this.m.relayFanout.set(peersFedLastInterval)
  }

  playbackStall(seconds: number): void {
    if (this.closed) return
    this.m.stalls.inc()
    if (validBytes(seconds)) this.m.stallSeconds.inc(seconds)
  }

  httpRequest(route: string, status: number): void {
    if (this.closed) return
    const code = Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : 'other'
    this.m.httpRequests.inc({ route: this.routeLabel(route), code })
  }

  fileTransfer(result: TransferResult): void {
    if (this.closed) return
    this.m.fileTransfers.inc({ result })
  }

  /** Reads every stream's totals from its swarm: the counters as of this scrape. */
  private syncStreams(): void {
    if (!this.streamReader) return
    let list: StreamStats[]
    try { list = this.streamReader() } catch { return }
    if (!Array.isArray(list)) return
    for (const [series, delta] of this.totals.sync(list.filter((x) => typeof x === 'object' && x !== null))) this.grow(series, delta)
    this.updateStreamGauge()
  }

  private grow(series: StreamSeries, delta: number): void {
    if (delta <= 0) return
    if (series === 'produced') this.m.streamProduced.inc({ role: 'source' }, delta)
    else this.m.streamUploaded.inc({ role: series }, delta)
  }

  private updateStreamGauge(): void {
    const counts = this.totals.countByRole()
    this.m.streams.set({ role: 'source' }, counts.source)
    this.m.streams.set({ role: 'viewer' }, counts.viewer)
  }

  private routeLabel(route: string): string {
    const label = typeof route === 'string' && route.length > 0 ? route.slice(0, MAX_ROUTE_LENGTH) : 'other'
    if (this.routes.has(label)) return label
    if (this.routes.size >= MAX_HTTP_ROUTES) return 'other'
    this.routes.add(label)
    return label
  }
}
