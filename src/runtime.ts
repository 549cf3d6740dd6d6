// One running cjp2p-stream node with everything attached: UDP node, file sharing, stream swarms,
// metrics and the local HTTP endpoint. The CLI commands, the demo and the benchmarks start these.
import { join } from 'node:path'
import { mkdir } from 'node:fs/promises'
import { CjNode } from './mesh/node.ts'
import { UdpTransport } from './mesh/transport.ts'
import type { Transport } from './mesh/transport.ts'
import { ShapedTransport } from './mesh/link.ts'
import type { LinkModel } from './mesh/link.ts'
import { seededRandom } from './util/timers.ts'
import { StreamRegistry } from './mesh/stream-registry.ts'
import { FileServer } from './mesh/file-server.ts'
import { FileStore } from './store/file-store.ts'
import type { KeepPolicy } from './store/retention.ts'
import { StreamLog } from './store/stream-log.ts'
import { loadOrCreateKey } from './store/keys.ts'
import { bindPort } from './port-binding.ts'
import type { MediaFormat, StreamLogReader } from './store/stream-types.ts'
import { PrometheusMetrics } from './metrics/prometheus-sink.ts'
import { createPlayerApp, startHttpServer } from './player/app.ts'
import type { RunningHttpServer } from './player/app.ts'
import type { Logger } from './util/logger.ts'
import type { StreamSwarm } from './mesh/stream-swarm.ts'

export interface RuntimeOptions {
  dir: string
  host?: string
  port?: number
  /** Local HTTP endpoint; null for none (file commands). */
  httpPort?: number | null
  httpHost?: string
  peers?: string[]
  logger: Logger
  role?: 'source' | 'viewer' | 'node'
  link?: LinkModel
  /** Collect prom-client's process metrics (off when many nodes share one process). */
  processMetrics?: boolean
  probeIntervalMs?: number
  /** Host names the HTTP endpoint answers to besides IP literals and localhost. */
  httpAllowedHosts?: string[]
  /** Largest datagram to send peers that say they take it (loopback and LANs carry 64 KiB). */
  maxDatagramBytes?: number
  /** Ports that are only defaults: when taken, bind any free port instead of failing. */
  anyPortIfTaken?: { udp?: boolean; http?: boolean }
}

export class Runtime {
  readonly streams: StreamRegistry
  readonly logs = new Map<string, StreamLog>()
  http: RunningHttpServer | null = null
  /** Other nodes' HTTP endpoints whose status the dashboard may read (the demo sets these). */
  dashboardPeers: string[] = []
  /** What this node's player pages reported (summed over streams), for /status.json and the dashboard. */
  readonly playback = { reports: 0, stalls: 0, stallSeconds: 0, latencySeconds: null as number | null }
  private fanoutTimer: NodeJS.Timeout
  private closed = false

  private constructor(
    readonly opts: RuntimeOptions,
    readonly node: CjNode,
    readonly metrics: PrometheusMetrics,
    readonly files: FileStore,
    readonly fileServer: FileServer,
  ) {
    this.streams = new StreamRegistry(node)
    // The relay fan-out gauge: how many peers this node fed in the last interval, over all streams.
    this.fanoutTimer = setInterval(() => {
      let fed = 0
      for (const s of this.streams.list()) {
        fed += s.takeFanout()
        const st = s.status()
        this.metrics.setStreamStats({ stream: s.id, role: st.role, producedBytes: st.producedBytes, uploadedBytes: st.uploadedBytes })
      }
      this.metrics.relayFanout(fed)
    }, 5000).unref()
  }

  static async start(opts: RuntimeOptions): Promise<Runtime> {
    // The disk first: a folder we cannot write must fail before any socket exists to leak.
    await mkdir(opts.dir, { recursive: true })
    const files = await FileStore.open(opts.dir)
    let udp: UdpTransport
    try {
      udp = await bindPort('udp', opts.port ?? 0, opts.anyPortIfTaken?.udp ?? false,
        (port) => UdpTransport.bind({ host: opts.host ?? '127.0.0.1', port }),
        (port) => opts.logger.info(`udp port ${port} is taken (another node on this machine?): using any free port`))
    } catch (err) {
      await files.close()
      throw err
    }
    const transport: Transport = opts.link ? new ShapedTransport(udp, opts.link, { random: seededRandom(hashPort(udp.address)) }) : udp
    const metrics = new PrometheusMetrics({ role: opts.role ?? 'node', processMetrics: opts.processMetrics ?? true })
    const node = new CjNode({ transport, logger: opts.logger.child('node'), metrics }, {
      bootstrap: opts.peers ?? [], peersFile: join(opts.dir, 'peers.json'), probeIntervalMs: opts.probeIntervalMs,
      ourDatagramBytes: opts.maxDatagramBytes,
    })
    // Replies are sized per peer from the node's datagram limit for it (CjNode.datagramLimit).
    const fileServer = new FileServer({ node, store: files, logger: opts.logger.child('files'), metrics })
    const rt = new Runtime(opts, node, metrics, files, fileServer)
    try {
      await node.start()
      if (opts.httpPort !== null && opts.httpPort !== undefined) await rt.startHttp(opts.httpPort, opts.httpHost ?? '127.0.0.1')
    } catch (err) {
      await rt.close()
      throw err
    }
    return rt
  }

  get udpAddress(): string { return this.node.address }
  get httpUrl(): string | null { return this.http?.url ?? null }

  private async startHttp(port: number, host: string): Promise<void> {
    const directory = {
      list: (): StreamLogReader[] => [...this.logs.values()],
      get: (id: string): StreamLogReader | undefined => this.logs.get(id),
    }
    const app = createPlayerApp({
      streams: directory,
      status: () => this.status(),
      metrics: this.metrics,
      metricsSink: this.metrics,
      logger: this.opts.logger.child('http'),
      onPlaybackReport: (id, r) => {
        this.playback.reports++
        this.playback.stalls += r.stalls
        this.playback.stallSeconds += r.stallSeconds
        if (r.latencySeconds !== null) this.playback.latencySeconds = r.latencySeconds
        this.opts.logger.debug('playback report', { stream: id, ...r })
      },
    }, { allowedHosts: this.opts.httpAllowedHosts })
    this.http = await bindPort('http', port, this.opts.anyPortIfTaken?.http ?? false, (p) => startHttpServer(app, { host, port: p }),
      (p) => this.opts.logger.info(`http port ${p} is taken (another node on this machine?): using any free port`))
  }

  /** Starts a stream we are the source of, signed with the key in `keyFile` (default
   * <dir>/keys/<name>.key), made on first use: the same key is the same stream id. */
  async startSource(name: string, opts: { format: MediaFormat; targetDuration: number; keyFile?: string; onKeyCreated?: (file: string) => void; keep?: KeepPolicy }): Promise<{ log: StreamLog; swarm: StreamSwarm }> {
    const key = await loadOrCreateKey(opts.keyFile ?? join(this.opts.dir, 'keys', `${name}.key`), opts.onKeyCreated)
    const log = await StreamLog.createSource(this.opts.dir, key, name, {
      format: opts.format, targetDuration: opts.targetDuration, keep: opts.keep, logger: this.opts.logger.child('store'),
    })
    this.logs.set(log.id, log)
    this.metrics.setNodeRole('source')
    return { log, swarm: this.streams.add(log) }
  }

  /** Joins a stream as a viewer: a replica log filled from peers, relayed to others. */
  async watch(id: string, bootstrap: string[], opts: { keep?: KeepPolicy } = {}): Promise<{ log: StreamLog; swarm: StreamSwarm }> {
    const log = await StreamLog.openReplica(this.opts.dir, id, { keep: opts.keep, logger: this.opts.logger.child('store') })
    this.logs.set(log.id, log)
    if (this.opts.role !== 'source') this.metrics.setNodeRole('viewer')
    const peers = bootstrap.length ? bootstrap : this.node.peers.active().map((p) => p.addr)
    return { log, swarm: this.streams.add(log, { bootstrap: peers }) }
  }

  status(): Record<string, unknown> {
    const peers = this.node.peers.all().filter((p) => p.lastHeard > 0).map((p) => ({
      addr: p.addr, verified: p.verified, rttMs: p.rttMs === undefined ? null : Math.round(p.rttMs * 10) / 10,
      lastHeardMsAgo: Date.now() - p.lastHeard, banned: this.node.peers.isBanned(p), penalty: Math.round(p.penalty),
      speaksStreams: p.speaksStreams,
    }))
    const streams = this.streams.list().map((s) => {
      const st = s.status()
      return { ...st, bytesFromPeers: st.receivedBytes - st.receivedFromSourceBytes, bytesFromSource: st.receivedFromSourceBytes }
    })
    return {
      node: { udp: this.node.address, http: this.httpUrl, dir: this.opts.dir, role: this.opts.role ?? 'node', pid: process.pid, uptimeSeconds: Math.round(process.uptime()) },
      counters: this.node.counters,
      peers,
      streams,
      playback: { ...this.playback, stallSeconds: Math.round(this.playback.stallSeconds * 1000) / 1000 },
      dashboardPeers: this.dashboardPeers,
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.fanoutTimer)
    await this.streams.close()
    await Promise.all([...this.logs.values()].map((l) => l.close().catch(() => {})))
    await this.http?.close()
    await this.fileServer.close?.()
    await this.node.close()
    await this.files.close()
    this.metrics.close()
  }
}

function hashPort(addr: string): number {
  return Number(addr.slice(addr.lastIndexOf(':') + 1)) || 1
}
