// One running cjp2p-stream node with everything attached: UDP node, file sharing, stream swarms,
// metrics and the local HTTP endpoint. The CLI commands, the demo and the benchmarks start these.
import { join } from 'node:path'
import { mkdir } from 'node:fs/promises'
import PQueue from 'p-queue'
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
import { loadOrCreateKey, type StreamKey } from './store/keys.ts'
import { isStoreError } from './store/errors.ts'
import { epochName, newestEpoch } from './store/stream-epochs.ts'
import { makeStreamId } from './store/stream-id.ts'
import { bindPort } from './port-binding.ts'
import type { MediaFormat, StreamLogReader } from './store/stream-types.ts'
import type { PrometheusMetrics } from './metrics/prometheus-sink.ts'
import { noMetrics, type MetricsSink } from './metrics/types.ts'
import type { RunningHttpServer } from './player/app.ts'
import type { Logger } from './util/logger.ts'
import type { StreamSwarm } from './mesh/stream/stream-swarm.ts'
import { streamStatus, type NodeStatus, type PeerStatus } from './metrics/node-status.ts'
import { Dht } from './mesh/dht/dht.ts'
import { NameIndex } from './mesh/dht/name-index.ts'
import { StateDb } from './store/state-db.ts'
import { StateKeeper } from './state-keeper.ts'
import { FileRouter } from './mesh/file-router.ts'
import { FileFetches } from './mesh/file-fetches.ts'
import { ApiFile } from './api-file.ts'
import { NatTraversal } from './mesh/nat/nat-traversal.ts'
import { PortMapping } from './mesh/nat/port-mapping.ts'
import type { MappingProtocol } from './mesh/nat/gateway-mapper.ts'
import { SecureSessions } from './mesh/secure/secure-sessions.ts'
import { chunkShareOfWire } from './mesh/bandwidth/upload-pacer.ts'
import type { AudienceView } from './mesh/telemetry/audience-view.ts'
import { DELAY_BUCKETS_MS } from './mesh/telemetry/audience-summary.ts'
import type { AudienceStats, BandwidthStats, StreamStats } from './metrics/types.ts'

/** While a download or a stream wants providers, the DHT is asked again this often. */
const DISCOVER_EVERY_MS = 15_000

export interface RuntimeOptions {
  dir: string
  /** The node's identity key (its DHT position); default <dir>/node.key. */
  nodeKeyFile?: string
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
  /** /content/<id> refuses bytes of a file until the whole file matched its id. */
  verifiedOnly?: boolean
  /** Keep the node's state in <dir>/state.db (default); false: a short-lived command that only
   * reads it (get, list, search beside a node that owns the folder). */
  saveState?: boolean
  /** Start again the transfers that were in progress when the node last stopped (`node`). */
  resumeTransfers?: boolean
  /** Encrypt everything between us and other cjp2p-stream nodes (src/mesh/secure/): --encrypt,
   * --no-encrypt, or the CLI's ENCRYPT_BY_DEFAULT. Classic peers get plain JSON either way. */
  encrypt?: boolean
  /** --max-upload, --max-download: bytes a second over all the node's traffic (src/mesh/bandwidth/). */
  maxUploadBytesPerSecond?: number
  maxDownloadBytesPerSecond?: number
  /** --port-mapping: ask the home router (PCP, NAT-PMP or UPnP IGD) to forward our UDP port (src/mesh/nat/port-mapping.ts). */
  portMapping?: boolean
  /** With portMapping: the protocols tried, in order, and the PCP / NAT-PMP server (else the default gateway). */
  portMappingProtocols?: MappingProtocol[]
  portMappingGateway?: string
  /** The hidden --port-mapping-epoch-check-ms: how often PCP / NAT-PMP read the gateway's epoch
   * between renewals (EPOCH_CHECK_MS by default); the NAT-lab test shortens it so it need not wait
   * a minute for a gateway restart to show. */
  portMappingEpochCheckMs?: number
  /** --punch-probes: probes per birthday punch (src/mesh/nat/birthday-punch.ts); 0 turns it off. */
  punchProbes?: number
}

export class Runtime {
  readonly streams: StreamRegistry
  /** Observed addresses, NAT kind, introductions and keepalives (src/mesh/nat/). */
  readonly nat: NatTraversal
  /** The router's forwarding of our UDP port (--port-mapping); null without the flag. */
  readonly portMapping: PortMapping | null
  /** Encrypted sessions with our peers (src/mesh/secure/); null without encryption. */
  readonly secure: SecureSessions | null
  readonly logs = new Map<string, StreamLog>()
  http: RunningHttpServer | null = null
  /** Other nodes' HTTP endpoints whose status the dashboard may read (the demo sets these). */
  dashboardPeers: string[] = []
  /** What this node's player pages reported (summed over streams), for /status.json and the dashboard. */
  readonly playback = { reports: 0, stalls: 0, stallSeconds: 0, latencySeconds: null as number | null }
  /** Downloads made for the HTTP gateway and the local API (one per id). */
  readonly fetches: FileFetches
  /** Shared files by name: listings for peers, keyword announcements, search (src/mesh/dht/name-index.ts). */
  readonly names: NameIndex
  /** The node's state in <dir>/state.db: peers, DHT, announcements, files, transfers. */
  readonly state: StateKeeper
  /** <dir>/api.json: where the local API is and its token, for the CLI. */
  private apiFile: ApiFile | null = null
  private fanoutTimer: NodeJS.Timeout
  private discoveries = new Set<AbortController>()
  private closed = false

  private constructor(
    readonly opts: RuntimeOptions,
    readonly node: CjNode,
    /** Counters for /metrics; noMetrics on a node that serves no HTTP (a `get`). */
    readonly metrics: MetricsSink,
    /** The same object when /metrics is served, else null. */
    private readonly prometheus: PrometheusMetrics | null,
    readonly files: FileStore,
    readonly fileServer: FileServer,
    readonly dht: Dht,
    nodeKey: StreamKey,
    private readonly db: StateDb,
  ) {
    // The stream byte counters: each swarm's statistics, read at every scrape and once more as it
    // closes (what it sent since the last scrape), their only source.
    this.streams = new StreamRegistry(node, { onClosed: (s) => this.metrics.streamClosed?.(swarmTotals(s)) })
    this.names = new NameIndex({ node, dht })
    this.state = new StateKeeper({ db, node, dht, names: this.names, files, logger: opts.logger.child('state') }, { save: opts.saveState })
    this.fetches = new FileFetches({
      node, store: files, logger: opts.logger, metrics,
      discover: (id, signal) => void this.discover(id, signal),
      provide: (id) => void this.provideFile(id),
      journal: opts.saveState === false ? undefined : this.state.journal,
    })
    // Side sockets for birthday punches bind where the node's own socket does, on any free port.
    const host = opts.host ?? '127.0.0.1'
    this.nat = new NatTraversal({ node, key: nodeKey, openSocket: () => UdpTransport.bind({ host, port: 0, recvBufferBytes: 1 << 20 }) }, { punchProbes: opts.punchProbes })
    this.secure = opts.encrypt === true ? new SecureSessions({ node, key: nodeKey }) : null
    this.portMapping = opts.portMapping === true
      ? new PortMapping({ timers: node.timers, log: opts.logger.child('port-mapping'), selves: node.selves, metrics, onMapped: (a) => this.nat.setMapped(a) }, { localAddress: node.address, protocols: opts.portMappingProtocols, gateway: opts.portMappingGateway, epochCheckMs: opts.portMappingEpochCheckMs })
      : null
    this.metrics.readStreams?.(() => this.streams.list().map(swarmTotals))
    // The relay fan-out gauge: how many peers this node fed in the last interval, over all streams.
    this.fanoutTimer = setInterval(() => {
      let fed = 0
      for (const s of this.streams.list()) {
        fed += s.takeFanout()
        if (s.isSource) this.metrics.setAudience?.(audienceStats(s.status().audience))
      }
      this.metrics.relayFanout(fed)
      this.metrics.setBandwidth?.(bandwidthStats(this.node))
    }, 5000).unref()
  }

  static async start(opts: RuntimeOptions): Promise<Runtime> {
    // The disk first: a folder we cannot write must fail before any socket exists to leak.
    await mkdir(opts.dir, { recursive: true })
    const files = await FileStore.open(opts.dir)
    // The node's identity in the DHT: its place in the id space is the hash of this key, kept
    // beside peers.json so that a restart keeps the place (and the announcements made from it).
    const nodeKey = await loadOrCreateKey(opts.nodeKeyFile ?? join(opts.dir, 'node.key')).catch(async (err) => { await files.close(); throw err })
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
    // prom-client is loaded only where /metrics is served: it cost a `get` (no HTTP) ~60 ms of start-up.
    const serveHttp = opts.httpPort !== null && opts.httpPort !== undefined
    const prometheus = serveHttp
      ? new (await import('./metrics/prometheus-sink.ts')).PrometheusMetrics({ role: opts.role ?? 'node', processMetrics: opts.processMetrics ?? true })
      : null
    const metrics = prometheus ?? noMetrics
    const db = StateDb.open(opts.dir, opts.logger.child('state'))
    const node = new CjNode({ transport, logger: opts.logger.child('node'), metrics }, {
      // peers.json only where no SQLite binding works: state.db holds the peers otherwise.
      bootstrap: opts.peers ?? [], peersFile: db.persistent ? undefined : join(opts.dir, 'peers.json'), probeIntervalMs: opts.probeIntervalMs,
      ourDatagramBytes: opts.maxDatagramBytes,
      maxUploadBytesPerSecond: opts.maxUploadBytesPerSecond, maxDownloadBytesPerSecond: opts.maxDownloadBytesPerSecond,
    })
    // Replies are sized per peer from the node's datagram limit for it (CjNode.datagramLimit).
    const fileServer = new FileServer({ node, store: files, logger: opts.logger.child('files'), metrics })
    const dht = new Dht({ node, key: nodeKey })
    const rt = new Runtime(opts, node, metrics, prometheus, files, fileServer, dht, nodeKey, db)
    try {
      rt.state.restore()
      await node.start()
      rt.nat.start()
      rt.portMapping?.start()
      rt.secure?.startTimer()
      dht.start()
      rt.names.start()
      rt.state.start()
      void rt.announceShared(await files.list())
      for (const id of await files.blake3Ids()) dht.provide(id)
      if (opts.resumeTransfers) {
        for (const t of rt.state.transfers()) {
          rt.fetches.start(t.id, { name: t.name ?? undefined }).catch((err: unknown) => opts.logger.warn(`could not resume ${t.id}: ${(err as Error).message}`))
        }
      }
      if (serveHttp) await rt.startHttp(opts.httpPort!, opts.httpHost ?? '127.0.0.1')
    } catch (err) {
      await rt.close()
      throw err
    }
    return rt
  }

  get udpAddress(): string { return this.node.address }
  get httpUrl(): string | null { return this.http?.url ?? null }

  private async startHttp(port: number, host: string): Promise<void> {
    const token = ApiFile.newToken()
    const directory = {
      list: (): StreamLogReader[] => [...this.logs.values()],
      get: (id: string): StreamLogReader | undefined => this.logs.get(id),
    }
    // Loaded here, not at the top: express and its ~30 CommonJS modules cost a `get` (which serves
    // no HTTP) about a third of a second of start-up.
    const { createPlayerApp, startHttpServer } = await import('./player/app.ts')
    const app = createPlayerApp({
      streams: directory,
      status: () => this.status(),
      metrics: this.prometheus ?? undefined,
      metricsSink: this.metrics,
      content: this.fetches,
      logger: this.opts.logger.child('http'),
      onPlaybackReport: (id, r) => {
        this.playback.reports++
        this.playback.stalls += r.stalls
        this.playback.stallSeconds += r.stallSeconds
        if (r.latencySeconds !== null) this.playback.latencySeconds = r.latencySeconds
        this.streams.get(id)?.notePlayback(r.stalls, r.stallSeconds)
        this.opts.logger.debug('playback report', { stream: id, ...r })
      },
    }, { allowedHosts: this.opts.httpAllowedHosts, verifiedOnly: this.opts.verifiedOnly, apiToken: token })
    this.http = await bindPort('http', port, this.opts.anyPortIfTaken?.http ?? false, (p) => startHttpServer(app, { host, port: p }),
      (p) => this.opts.logger.info(`http port ${p} is taken (another node on this machine?): using any free port`))
    this.apiFile = await ApiFile.write(this.opts.dir, { http: this.http.url, token, pid: process.pid, udp: this.node.address })
  }

  /** Announces the files shared at start-up in the background, a few at a time: each is stat'ed,
   * and a folder of thousands held up the HTTP server and the first answers when it ran in line. */
  private async announceShared(ids: string[]): Promise<void> {
    const queue = new PQueue({ concurrency: 8 })
    try {
      await queue.addAll(ids.map((id) => () => this.provideFile(id)))
    } catch (err) {
      this.opts.logger.warn(`could not announce the shared files: ${(err as Error).message}`)
    }
  }

  /** Announces a shared file in the DHT, by id and by the words of its name, and lists it to peers. */
  async provideFile(id: string): Promise<void> {
    if (this.closed) return
    this.dht.provide(id)
    const st = await this.files.stat(id)
    if (!st || this.closed) return
    const name = this.files.names.get(id)
    this.names.provide({ id, name, size: st.size })
    this.state.shared(id, name, st.size)
  }

  /** Starts a stream we are the source of, signed with the key in `keyFile` (default
   * <dir>/keys/<name>.key), made on first use: the same key is the same stream id. */
  async startSource(name: string, opts: {
    format: MediaFormat; targetDuration: number; keyFile?: string; onKeyCreated?: (file: string) => void; keep?: KeepPolicy
    /** The stream under `name` had ended, so this run is a new stream, `newId`. */
    onEnded?: (endedId: string, newId: string) => void
  }): Promise<{ log: StreamLog; swarm: StreamSwarm }> {
    const key = await loadOrCreateKey(opts.keyFile ?? join(this.opts.dir, 'keys', `${name}.key`), opts.onKeyCreated)
    const create = (k: number): Promise<StreamLog> => StreamLog.createSource(this.opts.dir, key, epochName(name, k), {
      format: opts.format, targetDuration: opts.targetDuration, keep: opts.keep, logger: this.opts.logger.child('store'),
    })
    // An ended stream stays ended; running its name again starts the next one (stream-epochs.ts).
    const k = await newestEpoch(this.opts.dir, key.publicKeyHex, name)
    let log: StreamLog
    try {
      log = await create(k)
    } catch (err) {
      if (!isStoreError(err, 'ERR_ENDED')) throw err
      log = await create(k + 1)
      opts.onEnded?.(makeStreamId(key.publicKeyHex, epochName(name, k)), log.id)
    }
    this.logs.set(log.id, log)
    this.metrics.setNodeRole?.('source')
    this.dht.provide(log.id)
    return { log, swarm: this.streams.add(log) }
  }

  /** Joins a stream as a viewer: a replica log filled from peers, relayed to others. */
  async watch(id: string, bootstrap: string[], opts: { keep?: KeepPolicy; maxUploadBps?: number } = {}): Promise<{ log: StreamLog; swarm: StreamSwarm }> {
    const log = await StreamLog.openReplica(this.opts.dir, id, { keep: opts.keep, logger: this.opts.logger.child('store') })
    this.logs.set(log.id, log)
    if (this.opts.role !== 'source') this.metrics.setNodeRole?.('viewer')
    const peers = bootstrap.length ? bootstrap : this.node.peers.active().map((p) => p.addr)
    // --max-upload is wire bytes; the children it carries are counted in chunk bytes.
    const maxUploadBps = opts.maxUploadBps === undefined ? undefined : opts.maxUploadBps * chunkShareOfWire(this.secure !== null)
    const swarm = this.streams.add(log, { bootstrap: peers, maxUploadBps })
    // A viewer relays what it has, so it provides the stream too.
    this.dht.provide(id)
    void this.discover(id)
    return { log, swarm }
  }

  /** Who provides `id`, found through the DHT from whatever peers this node knows. */
  async findProviders(id: string): Promise<string[]> {
    return (await this.dht.findProviders(id)).providers
  }

  /** Looks for providers of `id` until `signal` aborts or the runtime closes, and hands them to the
   * download or stream swarm for `id`: a download takes them as hints; a stream swarm learns a
   * holder from its answer to a head request, as from any peer. */
  async discover(id: string, signal?: AbortSignal): Promise<void> {
    const stop = new AbortController()
    this.discoveries.add(stop)
    const done = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal
    let told = false
    try {
      while (!done.aborted) {
        const found = await this.findProviders(id)
        if (done.aborted) break
        if (found.length > 0) {
          if (!told) this.opts.logger.info(`the DHT names ${found.length} provider(s) of ${id}: ${found.slice(0, 4).join(' ')}`)
          told = true
          FileRouter.of(this.node).downloading(id)?.hints(found, '')
          if (this.logs.has(id)) for (const p of found) this.node.send(p, [{ type: 'PleaseSendStreamHead', id }])
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, found.length > 0 ? DISCOVER_EVERY_MS : DISCOVER_EVERY_MS / 5)
          done.addEventListener('abort', () => { clearTimeout(t); resolve() }, { once: true })
        })
      }
    } finally {
      this.discoveries.delete(stop)
    }
  }

  status(): NodeStatus {
    // A ban shows even before the banned address speaks again (bans come back from state.db).
    const peers = this.node.peers.all().filter((p) => p.lastHeard > 0 || this.node.peers.isBanned(p)).map((p): PeerStatus => ({
      addr: p.addr, verified: p.verified, rttMs: p.rttMs === undefined ? null : Math.round(p.rttMs * 10) / 10,
      lastHeardMsAgo: Date.now() - p.lastHeard, banned: this.node.peers.isBanned(p), penalty: Math.round(p.penalty),
      speaksStreams: p.speaksStreams, nat: p.nat ?? null, mapped: p.mapped === true,
    }))
    const streams = this.streams.list().map(streamStatus)
    return {
      node: { udp: this.node.address, http: this.httpUrl, dir: this.opts.dir, role: this.opts.role ?? 'node', pid: process.pid, uptimeSeconds: Math.round(process.uptime()) },
      counters: this.node.counters,
      peers,
      streams,
      playback: { ...this.playback, stallSeconds: Math.round(this.playback.stallSeconds * 1000) / 1000 },
      dashboardPeers: this.dashboardPeers,
      nat: { ...this.nat.status(), portMapping: this.portMapping?.status() ?? null },
      secure: this.secure ? { ...this.secure.counters } : null,
      bandwidth: { upload: this.node.upload.status(), download: this.node.download.status() },
      dht: {
        id: this.dht.id.toString('hex'), contacts: this.dht.table.size, providerKeys: this.dht.providers.keys, ...this.dht.counters,
        names: { shared: this.names.shared().length, words: this.names.keywords.words, ...this.names.counters },
      },
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.fanoutTimer)
    for (const d of this.discoveries) d.abort()
    await this.apiFile?.remove()
    await this.fetches.close()
    this.state.close()
    this.names.close()
    this.dht.close()
    this.nat.close()
    await this.portMapping?.close()
    await this.streams.close()
    await Promise.all([...this.logs.values()].map((l) => l.close().catch(() => {})))
    await this.http?.close()
    await this.fileServer.close?.()
    // Last before the socket: the goodbyes above (the streams' StopSendingMe) must go sealed. A peer
    // we sealed to refuses our plain datagrams, so a goodbye sent after this was dropped, and our
    // parents kept pushing to us until we expired there.
    this.secure?.close()
    await this.node.close()
    await this.files.close()
    this.db.close()
    this.prometheus?.close()
  }
}

function swarmTotals(s: StreamSwarm): StreamStats {
  return { stream: s.id, role: s.isSource ? 'source' : 'viewer', ...s.byteTotals() }
}

function audienceStats(a: AudienceView): AudienceStats {
  return {
    viewers: a.viewers, byDepth: a.byDepth, onTime: a.chunks.onTime, late: a.chunks.late, missed: a.chunks.missed,
    delay: a.delay.map(([i, n]) => [DELAY_BUCKETS_MS[i], n]), stalls: a.stalls, stallSeconds: a.stallSeconds,
    offload: a.offload, suspect: a.suspect, windowMs: a.windowMs, nat: a.nat,
  }
}

function bandwidthStats(node: CjNode): BandwidthStats[] {
  const up = node.upload.status()
  const down = node.download.status()
  return [
    { direction: 'upload', limitBytesPerSecond: up.limitBytesPerSecond, rateBytesPerSecond: up.rateBytesPerSecond, deferredBytes: up.deferredBytes, droppedBytes: up.droppedBytes },
    { direction: 'download', limitBytesPerSecond: down.limitBytesPerSecond, rateBytesPerSecond: down.rateBytesPerSecond, deferredBytes: down.deferredBytes, droppedBytes: 0 },
  ]
}

function hashPort(addr: string): number {
  return Number(addr.slice(addr.lastIndexOf(':') + 1)) || 1
}
