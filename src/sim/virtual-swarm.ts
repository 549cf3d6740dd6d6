// A whole swarm in one process on virtual time: one source (a real source StreamLog fed by
// SyntheticFeed) and any number of viewers, each a real CjNode with its StreamRegistry and
// StreamSwarm, over the in-process network (src/mesh/link.ts). The simulator and the swarm tests
// build on it. Replaced, and declared in docs/SCHEDULER.md: logs live in memory (one copy of each
// chunk for the process), and with `verifyOncePerProcess` each record and chunk is verified once
// for the process and each verified record is held once for it (one frozen copy every node
// keeps); datagrams are real JSON bytes; scheduling, joining, repair and serving are the
// shipped code.
import { CjNode } from '../mesh/node.ts'
import { chunkShareOfWire } from '../mesh/bandwidth/upload-pacer.ts'
import { MemoryNetwork, type LinkModel } from '../mesh/link.ts'
import type { Transport } from '../mesh/transport.ts'
import { StreamRegistry } from '../mesh/stream-registry.ts'
import { SecureSessions } from '../mesh/secure/secure-sessions.ts'
import type { StreamSwarm, SwarmStatus } from '../mesh/stream/stream-swarm.ts'
import { SyntheticFeed } from '../ingest/synthetic-feed.ts'
import { ViewerRecorder } from '../metrics/viewer-recorder.ts'
import { WireTally } from '../metrics/wire-tally.ts'
import { generateStreamKey } from '../store/keys.ts'
import { ChunkPool, memoryStorage } from '../store/memory-stream-files.ts'
import type { KeepPolicy } from '../store/retention.ts'
import type { RecordVerifier } from '../store/record-verifier.ts'
import { StreamLog } from '../store/stream-log.ts'
import type { StreamStorage } from '../store/stream-log-load.ts'
import { VirtualTimers, seededRandom } from '../util/timers.ts'
import type { Logger } from '../util/logger.ts'
import { SharedVerifier } from './shared-verifier.ts'
import { SharedRecords } from './shared-records.ts'

/** As the bench: one-second segments. */
export const SEGMENT_MS = 1000
/** Virtual time starts at a fixed date: records carry the source's clock. */
export const EPOCH = Date.UTC(2026, 0, 1)

export interface VirtualSwarmInit {
  seed: number
  bitrateBps: number
  link: LinkModel
  /** Upload capacities in copies of the stream (0: unlimited). */
  uploadCapacity?: number
  sourceCapacity?: number
  /** Each record and chunk verified once for the process (shared-verifier.ts), and each verified
   * record held once for it (shared-records.ts): docs/SCHEDULER.md's declared shortcuts. */
  verifyOncePerProcess?: boolean
  /** Hand datagrams over as decoded messages (sizes still charged) instead of JSON bytes. */
  handover?: boolean
  /** Every node runs encrypted sessions with its peers, as `--encrypt` (src/mesh/secure/): real
   * handshakes and sealed frames, so datagrams must travel as bytes (not with `handover`). */
  encrypt?: boolean
}

/** How a viewer leaves: its process killed, or closed cleanly with its goodbyes (leave()). */
export type Departure = 'kill' | 'goodbye'

export interface SwarmMember {
  slot: number
  node: CjNode
  reg: StreamRegistry
  log: StreamLog
  tally: WireTally
  recorder: ViewerRecorder
  secure: SecureSessions | null
  joinAt: number
  leftAt: number | null
  /** The swarm's status when the member left (a closed registry forgets its swarms). */
  lastStatus?: SwarmStatus
}

export class VirtualSwarm {
  readonly timers: VirtualTimers
  readonly net: MemoryNetwork
  readonly verifier: SharedVerifier | undefined
  /** With `verifyOncePerProcess`: the one copy of each verified record every node keeps. */
  readonly records: SharedRecords | undefined
  readonly members = new Map<number, SwarmMember>()
  private readonly rnd: () => number
  private readonly copyBytesPerSecond: number
  private nextSlot = 0
  private closed = false

  private constructor(
    private init: VirtualSwarmInit, timers: VirtualTimers, net: MemoryNetwork,
    readonly source: SwarmMember & { feed: SyntheticFeed },
    rnd: () => number, verifier: SharedVerifier | undefined, private readonly storage: StreamStorage,
  ) {
    this.timers = timers
    this.net = net
    this.rnd = rnd
    this.verifier = verifier
    this.records = verifier ? new SharedRecords() : undefined
    this.copyBytesPerSecond = init.bitrateBps / 8
  }

  static async create(init: VirtualSwarmInit): Promise<VirtualSwarm> {
    if (init.encrypt && init.handover) throw new Error('encrypted sessions seal bytes: a swarm with encrypt cannot hand datagrams over decoded')
    const timers = new VirtualTimers({ seed: init.seed, start: EPOCH })
    const rnd = seededRandom(init.seed ^ 0x5eed)
    const net = new MemoryNetwork({ timers }, { link: init.link, seed: init.seed, handover: init.handover })
    const verifier = init.verifyOncePerProcess ? new SharedVerifier() : undefined
    const storage = memoryStorage(new ChunkPool())
    const tally = new WireTally()
    const node = new CjNode({ transport: net.createTransport({ uploadBytesPerSecond: (init.sourceCapacity ?? 0) * init.bitrateBps / 8 }), timers, metrics: tally },
      { probeIntervalMs: 10_000, secret: secretFrom(rnd) })
    const secure = secureFor(node, init)
    await node.start()
    const log = await StreamLog.createSource('sim', generateStreamKey(), 'sim', { format: 'ts', targetDuration: SEGMENT_MS / 1000, clock: () => timers.now(), storage })
    const reg = new StreamRegistry(node)
    reg.add(log)
    const feed = new SyntheticFeed({ log, timers, bytes: (n) => bytesFrom(rnd, n) }, { bitrateBps: init.bitrateBps, segmentMs: SEGMENT_MS })
    feed.start()
    const recorder = new ViewerRecorder(log, () => timers.now(), () => 0)
    return new VirtualSwarm(init, timers, net, { slot: -1, node, reg, log, tally, recorder, secure, joinAt: timers.now(), leftAt: null, feed }, rnd, verifier, storage)
  }

  get id(): string { return this.source.log.id }
  /** A draw from the swarm's own seeded generator (who churns, ...). */
  random(): number { return this.rnd() }
  swarm(m: SwarmMember): StreamSwarm { return m.reg.get(this.id) as StreamSwarm }

  /** A new viewer; by default it knows only the source's address, as in the bench, and has the
   * swarm's upload capacity. `declared: false`: a capped viewer started without `--max-upload`,
   * whose link alone is weak (it measures it: src/mesh/bandwidth/uplink-estimate.ts). */
  async join(bootstrap: string[] = [this.source.node.address], opts: { uploadCapacity?: number; declared?: boolean; wrap?: (t: Transport) => Transport; maxPeers?: number; heardOnly?: boolean; transport?: Transport; logger?: Logger; storage?: StreamStorage; keep?: KeepPolicy } = {}): Promise<SwarmMember> {
    const slot = this.nextSlot++
    const tally = new WireTally()
    // `transport`: the viewer sits behind something (an in-process NAT router: test/helpers/memory-nat.ts).
    // A capped viewer's uplink, in wire bytes a second (0: unlimited).
    const link = (opts.uploadCapacity ?? this.init.uploadCapacity ?? 0) * this.copyBytesPerSecond
    const endpoint = opts.transport ?? this.net.createTransport({ uploadBytesPerSecond: link })
    // What its --max-upload says (0: no flag).
    const uplink = opts.declared === false ? 0 : link
    // A test's misbehaving member (one that tampers with what it sends) wraps its endpoint.
    const transport = opts.wrap ? opts.wrap(endpoint) : endpoint
    // A capped viewer is one started with `watch --max-upload` at its uplink's rate, as the runtime
    // wires it: the node paces every datagram to the cap (control before stream, src/mesh/bandwidth/
    // upload-pacer.ts), and the swarm counts the children that cap carries in chunk bytes. Without
    // the pacer a capped viewer's control datagrams waited in its modem's queue behind its pushes:
    // in the uneven-uplink scenario (seed 1) a half-copy viewer's subscriptions timed out one
    // after another and it had no parent in one stripe for over 20 s (docs/SCHEDULER.md).
    const node = new CjNode({ transport, timers: this.timers, metrics: tally, ...(opts.logger ? { logger: opts.logger } : {}) }, { bootstrap: opts.heardOnly ? [] : bootstrap, probeIntervalMs: 10_000, secret: secretFrom(this.rnd), ...(opts.maxPeers ? { maxPeers: opts.maxPeers } : {}), ...(uplink > 0 ? { maxUploadBytesPerSecond: uplink } : {}) })
    // `storage`: a test's viewer whose store behaves differently (a slow disk).
    // `keep`: a viewer started with `watch --keep` (its retention window).
    const log = await StreamLog.openReplica(`sim/${slot}`, this.id, { clock: () => this.timers.now(), storage: opts.storage ?? this.storage, verifier: this.verifier as RecordVerifier | undefined, keeper: this.records, ...(opts.keep ? { keep: opts.keep } : {}) })
    const reg = new StreamRegistry(node)
    const recorder = new ViewerRecorder(log, () => this.timers.now(), () => reg.get(this.id)?.startChunk ?? -1)
    const m: SwarmMember = { slot, node, reg, log, tally, recorder, secure: secureFor(node, this.init), joinAt: this.timers.now(), leftAt: null }
    this.members.set(slot, m)
    await node.start()
    // `heardOnly`: the bootstrap peers are entries like any heard of (evictable), not configured ones.
    if (opts.heardOnly) for (const b of bootstrap) node.peers.touch(b, 'heard')
    reg.add(log, { bootstrap, ...(uplink > 0 ? { maxUploadBps: uplink * chunkShareOfWire(this.init.encrypt === true) } : {}) })
    return m
  }

  /** The member's swarm status, now or as it was when it left. */
  status(m: SwarmMember): SwarmStatus | undefined { return m.reg.get(this.id)?.status() ?? m.lastStatus }

  /** A departure. `kill` (the default, as in the bench): the endpoint goes first, so no goodbye
   * reaches anyone. `goodbye`: as Runtime.close() orders it, the streams close first (each tells
   * its parents StopSendingMe) while the endpoint can still send, then the endpoint. */
  async leave(m: SwarmMember, how: Departure = 'kill'): Promise<void> {
    if (m.leftAt !== null) return
    m.leftAt = this.timers.now()
    m.lastStatus = m.reg.get(this.id)?.status()
    m.recorder.stop()
    if (how === 'goodbye') await m.reg.close()
    m.secure?.close()
    await m.node.close()
    await m.reg.close()
    await m.log.close()
  }

  run(until: number): Promise<void> { return this.timers.run(until) }
  runFor(ms: number): Promise<void> { return this.timers.runFor(ms) }

  /** Closes every node, lets datagrams in flight land, and returns the timers still set (an
   * orphan timer is a bug: every long-lived object must clear its own on close). */
  async close(): Promise<number> {
    if (this.closed) return this.timers.active
    this.closed = true
    this.source.feed.stop()
    for (const m of this.members.values()) await this.leave(m)
    await this.leave(this.source)
    await this.timers.runFor(10_000)
    return this.timers.active
  }
}

function secureFor(node: CjNode, init: VirtualSwarmInit): SecureSessions | null {
  if (!init.encrypt) return null
  const secure = new SecureSessions({ node, key: generateStreamKey() })
  secure.startTimer()
  return secure
}

function secretFrom(rnd: () => number): Buffer {
  return Buffer.from(Array.from({ length: 32 }, () => Math.floor(rnd() * 256)))
}

/** Stream bytes from the seed: a run replays byte for byte. */
function bytesFrom(rnd: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  let i = 0
  for (; i + 4 <= n; i += 4) b.writeUInt32LE(Math.floor(rnd() * 2 ** 32), i)
  for (; i < n; i++) b[i] = Math.floor(rnd() * 256)
  return b
}
