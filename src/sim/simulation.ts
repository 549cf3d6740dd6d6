// The simulator: N real CjNode + StreamSwarm instances (the shipped code, unchanged) over the
// in-process network (src/mesh/link.ts) on virtual time (src/util/timers.ts). A seed fixes every
// draw, so the same options give the same report byte for byte.
//
// What a simulation replaces, and nothing else (docs/SCHEDULER.md lists the same):
// - the store: stream logs live in memory (memory-stream-files.ts), each verified chunk's bytes
//   held once for the whole process;
// - verification: each record and chunk is verified once for the process (shared-verifier.ts)
//   instead of once per node.
// Datagrams are real JSON bytes, sent, shaped, received and decoded by each node as on UDP.
import { CjNode } from '../mesh/node.ts'
import { MemoryNetwork, type LinkModel } from '../mesh/link.ts'
import { StreamRegistry } from '../mesh/stream-registry.ts'
import { SyntheticFeed } from '../ingest/synthetic-feed.ts'
import { ViewerRecorder } from '../metrics/viewer-recorder.ts'
import { WireTally } from '../metrics/wire-tally.ts'
import { generateStreamKey } from '../store/keys.ts'
import { ChunkPool, memoryStorage } from '../store/memory-stream-files.ts'
import { StreamLog } from '../store/stream-log.ts'
import { VirtualTimers, seededRandom } from '../util/timers.ts'
import { SharedVerifier } from './shared-verifier.ts'

export interface SimOptions {
  viewers: number
  seconds: number
  bitrateBps: number
  /** The path between any two nodes: one-way delay, jitter, loss (as the bench's --link). */
  link: LinkModel
  /** Viewers' upload capacity, in copies of the stream (0: unlimited). */
  uploadCapacity: number
  /** The source's upload capacity, in copies of the stream (0: unlimited). */
  sourceCapacity: number
  /** Viewers join evenly over this many ms, once the stream has a few segments. */
  joinSpreadMs: number
  /** Share of the viewers replaced per minute (a random one leaves abruptly, a new one joins). */
  churnPerMin: number
  seed: number
}

/** As the bench: one-second segments, four of them before the first viewer, and 3 s to deliver. */
export const SEGMENT_MS = 1000
export const DEADLINE_MS = 3000
const LEAD_MS = 4 * SEGMENT_MS
/** Virtual time starts at a fixed date: records carry the source's clock. */
const EPOCH = Date.UTC(2026, 0, 1)

export interface SimViewer {
  slot: number
  joinAt: number
  leftAt: number | null
  startChunk: number
  verified: Array<[number, number]>
  firstPlayableAt: number | null
  uploadedBytes: number
  receivedBytes: number
  duplicateBytes: number
  wire: WireTally['wire']
}

export interface SimRun {
  options: SimOptions
  endAt: number
  source: { chunkTimes: number[]; chunkBytes: number[]; producedBytes: number; uploadedBytes: number; wire: WireTally['wire'] }
  viewers: SimViewer[]
  events: number
  network: { delivered: number; lost: number; queueDrops: number }
  verifier: { hashed: number; compared: number }
}

interface Live { slot: number; node: CjNode; reg: StreamRegistry; log: StreamLog; tally: WireTally; recorder: ViewerRecorder; joinAt: number }

export async function simulate(o: SimOptions, onProgress?: (virtualMs: number) => void): Promise<SimRun> {
  const timers = new VirtualTimers({ seed: o.seed, start: EPOCH })
  const rnd = seededRandom(o.seed ^ 0x5eed)
  const copyBytesPerSecond = o.bitrateBps / 8
  const net = new MemoryNetwork({ timers }, { link: o.link, seed: o.seed })
  const pool = new ChunkPool()
  const verifier = new SharedVerifier()
  const storage = memoryStorage(pool)
  const secret = () => Buffer.from(Array.from({ length: 32 }, () => Math.floor(rnd() * 256)))
  const bytes = (n: number) => {
    const b = Buffer.allocUnsafe(n)
    let i = 0
    for (; i + 4 <= n; i += 4) b.writeUInt32LE(Math.floor(rnd() * 2 ** 32), i)
    for (; i < n; i++) b[i] = Math.floor(rnd() * 256)
    return b
  }

  const srcTally = new WireTally()
  const srcNode = new CjNode({ transport: net.createTransport({ uploadBytesPerSecond: o.sourceCapacity * copyBytesPerSecond }), timers, metrics: srcTally }, { probeIntervalMs: 10_000, secret: secret() })
  await srcNode.start()
  const srcLog = await StreamLog.createSource('sim', generateStreamKey(), 'sim', { format: 'ts', targetDuration: SEGMENT_MS / 1000, clock: () => timers.now(), storage })
  const srcReg = new StreamRegistry(srcNode)
  srcReg.add(srcLog)
  const feed = new SyntheticFeed({ log: srcLog, timers, bytes }, { bitrateBps: o.bitrateBps, segmentMs: SEGMENT_MS })
  feed.start()

  const live = new Map<number, Live>()
  const done: SimViewer[] = []
  const report = (v: Live, leftAt: number | null): SimViewer => {
    const st = v.reg.get(srcLog.id)?.status()
    return {
      slot: v.slot, joinAt: v.joinAt, leftAt, startChunk: st?.startChunk ?? -1, verified: v.recorder.verified,
      firstPlayableAt: v.recorder.firstPlayableAt, uploadedBytes: st?.uploadedBytes ?? 0, receivedBytes: st?.receivedBytes ?? 0,
      duplicateBytes: st?.duplicateBytes ?? 0, wire: v.tally.wire,
    }
  }
  const join = async (slot: number): Promise<void> => {
    const tally = new WireTally()
    const transport = net.createTransport({ uploadBytesPerSecond: o.uploadCapacity * copyBytesPerSecond })
    // As the bench: every viewer is told the source's address, and finds the rest from there.
    const peers = [srcNode.address]
    const node = new CjNode({ transport, timers, metrics: tally }, { bootstrap: peers, probeIntervalMs: 10_000, secret: secret() })
    const log = await StreamLog.openReplica(`sim/${slot}`, srcLog.id, { clock: () => timers.now(), storage, verifier })
    const reg = new StreamRegistry(node)
    const v: Live = { slot, node, reg, log, tally, joinAt: timers.now(), recorder: new ViewerRecorder(log, () => timers.now(), () => reg.get(srcLog.id)?.startChunk ?? -1) }
    live.set(slot, v)
    await node.start()
    reg.add(log, { bootstrap: peers })
  }
  const leave = async (slot: number): Promise<void> => {
    const v = live.get(slot)
    if (!v) return
    live.delete(slot)
    done.push(report(v, timers.now()))
    v.recorder.stop()
    // Abrupt, as the bench: the endpoint goes first, so no goodbye reaches anyone.
    await v.node.close()
    await v.reg.close()
    await v.log.close()
  }

  const t0 = EPOCH + LEAD_MS
  const present: number[] = []
  let nextSlot = 0
  for (let k = 0; k < o.viewers; k++) {
    timers.queue.at(t0 + (o.joinSpreadMs * k) / Math.max(1, o.viewers), () => { const s = nextSlot++; present.push(s); void join(s) })
  }
  const end = t0 + o.seconds * 1000
  if (o.churnPerMin > 0) {
    const every = 60_000 / (o.churnPerMin * o.viewers)
    const churn = (): void => {
      if (present.length > 0) {
        const gone = present.splice(Math.floor(rnd() * present.length), 1)[0]
        void leave(gone)
        const s = nextSlot++
        present.push(s)
        void join(s)
      }
      if (timers.now() + every < end) timers.queue.after(every, churn)
    }
    timers.queue.at(t0 + o.joinSpreadMs + every, churn)
  }
  for (let t = EPOCH; t < end;) {
    t = Math.min(end, t + 1000)
    await timers.run(t)
    onProgress?.(t - t0)
  }

  const head = srcLog.head()
  const chunkTimes: number[] = []
  const chunkBytes: number[] = []
  for (let n = 0; n < (head?.chunks ?? 0); n++) {
    const r = srcLog.chunkRecord(n)
    chunkTimes.push(r?.time ?? 0)
    chunkBytes.push(r?.length ?? 0)
  }
  const st = srcReg.get(srcLog.id)?.status()
  const viewers = [...done, ...[...live.values()].map((v) => report(v, null))].sort((a, b) => a.slot - b.slot)
  feed.stop()
  for (const slot of [...live.keys()]) await leave(slot)
  await srcReg.close()
  await srcNode.close()
  await srcLog.close()
  return {
    options: o, endAt: end,
    source: { chunkTimes, chunkBytes, producedBytes: chunkBytes.reduce((a, b) => a + b, 0), uploadedBytes: st?.uploadedBytes ?? 0, wire: srcTally.wire },
    viewers, events: timers.queue.processed,
    network: { delivered: net.delivered, lost: net.lost, queueDrops: net.queueDrops },
    verifier: { hashed: verifier.hashed, compared: verifier.compared },
  }
}
