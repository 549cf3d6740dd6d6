// One simulated run: the shipped swarm (VirtualSwarm: real CjNode + StreamSwarm per viewer) on
// virtual time, viewers joining in a wave after four segments, with churn as the bench applies it,
// and each node's own record of the run. The same options give the same run byte for byte.
import type { LinkModel } from '../mesh/link.ts'
import type { ViewerReport } from '../metrics/viewer-recorder.ts'
import type { Wire } from '../metrics/wire-tally.ts'
import type { UploadCause } from '../mesh/stream/swarm-stats.ts'
import { EPOCH, SEGMENT_MS, VirtualSwarm, type SwarmMember } from './virtual-swarm.ts'

export interface SimOptions {
  viewers: number
  seconds: number
  bitrateBps: number
  /** The path between any two nodes: one-way delay, jitter, loss (as the bench's --link). */
  link: LinkModel
  /** Viewers' upload capacity, in copies of the stream (0: unlimited). */
  uploadCapacity: number
  /** Uneven uplinks: these shares of the viewers (drawn per joiner) get these capacities instead. */
  uplinks: Array<{ share: number; copies: number }>
  /** Viewers on a capped uplink start without `--max-upload`: only their link is weak, and they
   * must learn it (src/mesh/bandwidth/uplink-estimate.ts). Off: each is started with the flag at
   * its link's rate. */
  undeclared?: boolean
  /** The source's upload capacity, in copies of the stream (0: unlimited). */
  sourceCapacity: number
  /** Viewers join evenly over this many ms, once the stream has a few segments. */
  joinSpreadMs: number
  /** Share of the viewers replaced per minute (a random one leaves abruptly, a new one joins). */
  churnPerMin: number
  /** Viewers already present that a joiner is told of besides the source (what a tracker or peer
   * exchange hands out); 0 is the bench: every viewer knows only the source. */
  bootstrapViewers: number
  /** Datagrams as decoded messages instead of JSON bytes (see docs/SCHEDULER.md, Simulation). */
  handover: boolean
  /** Every node encrypts to its peers (as `--encrypt`); needs `handover` off. */
  encrypt?: boolean
  seed: number
}

/** A chunk counts as on time within 3 s of its publication (the bench's figure too). */
export const DEADLINE_MS = 3000
/** Viewers start joining once the source has four segments (the bench waits as long). */
export const LEAD_MS = 4 * SEGMENT_MS

/** A simulated viewer reports what a bench viewer process reports. */
export type SimViewer = ViewerReport

export interface SimRun {
  options: SimOptions
  /** Virtual seconds simulated after the first join: `options.seconds`, or less if stopped early. */
  seconds: number
  endAt: number
  source: { chunkTimes: number[]; chunkBytes: number[]; producedBytes: number; uploadedBytes: number; uploadedBy: Partial<Record<UploadCause, number>>; wire: Wire }
  viewers: SimViewer[]
  events: number
  network: { delivered: number; lost: number; queueDrops: number }
  /** Timers left set after every node closed: 0 unless something leaks. */
  orphanTimers: number
}

/** How often (virtual ms) `onProgress` is asked whether to stop: a virtual second of 10,000 joining
 * viewers on a loaded machine took more than half an hour of wall time, far past a --wall-limit
 * checked once a virtual second. */
export const PROGRESS_STEP_MS = 100

/** `onProgress` is called every PROGRESS_STEP_MS of virtual time; returning true ends the run there
 * (a time budget). `onEnd` is called once when virtual time is over, while every node is still
 * live (before the report is built and the nodes close): where the simulator measures its heap. */
export async function simulate(o: SimOptions, onProgress?: (virtualMs: number) => boolean | void, onEnd?: () => void): Promise<SimRun> {
  const sim = await VirtualSwarm.create({ seed: o.seed, bitrateBps: o.bitrateBps, link: o.link, uploadCapacity: o.uploadCapacity, sourceCapacity: o.sourceCapacity, verifyOncePerProcess: true, handover: o.handover, encrypt: o.encrypt })
  const t0 = EPOCH + LEAD_MS
  let end = t0 + o.seconds * 1000
  const present: SwarmMember[] = []
  const join = (): void => {
    const peers = [sim.source.node.address]
    for (let k = 0; k < o.bootstrapViewers && present.length > 0; k++) peers.push(present[Math.floor(sim.random() * present.length)].node.address)
    let r = sim.random()
    const uplink = o.uplinks.find((u) => (r -= u.share) < 0)
    void sim.join([...new Set(peers)], { uploadCapacity: uplink?.copies, declared: o.undeclared !== true }).then((m) => present.push(m))
  }
  for (let k = 0; k < o.viewers; k++) sim.timers.queue.at(t0 + (o.joinSpreadMs * k) / Math.max(1, o.viewers), join)
  if (o.churnPerMin > 0) {
    const every = 60_000 / (o.churnPerMin * o.viewers)
    const churn = (): void => {
      if (present.length > 0) {
        void sim.leave(present.splice(Math.floor(sim.random() * present.length), 1)[0])
        join()
      }
      if (sim.timers.now() + every < end) sim.timers.queue.after(every, churn)
    }
    sim.timers.queue.at(t0 + o.joinSpreadMs + every, churn)
  }
  for (let t = EPOCH; t < end;) {
    t = Math.min(end, t + PROGRESS_STEP_MS)
    await sim.run(t)
    if (onProgress?.(t - t0) === true && t > t0) end = t
  }
  onEnd?.()

  const src = sim.source.log
  const chunkTimes: number[] = []
  const chunkBytes: number[] = []
  for (let n = 0; n < (src.head()?.chunks ?? 0); n++) {
    const r = src.chunkRecord(n)
    chunkTimes.push(r?.time ?? 0)
    chunkBytes.push(r?.length ?? 0)
  }
  const report = (m: SwarmMember): SimViewer => {
    const st = sim.status(m)
    return {
      slot: m.slot, joinAt: m.joinAt, leftAt: m.leftAt, startChunk: st?.startChunk ?? -1, verified: m.recorder.verified,
      firstPlayableAt: m.recorder.firstPlayableAt, uploadedBytes: st?.uploadedBytes ?? 0, receivedBytes: st?.receivedBytes ?? 0,
      duplicateBytes: st?.duplicateBytes ?? 0, wire: m.tally.wire,
    }
  }
  const viewers = [...sim.members.values()].map(report)
  const sourceStatus = sim.status(sim.source)
  const sourceUploaded = sourceStatus?.uploadedBytes ?? 0
  const events = sim.timers.queue.processed
  const orphanTimers = await sim.close()
  return {
    options: o, seconds: (end - t0) / 1000, endAt: end,
    source: { chunkTimes, chunkBytes, producedBytes: chunkBytes.reduce((a, b) => a + b, 0), uploadedBytes: sourceUploaded, uploadedBy: sourceStatus?.uploadedBy ?? {}, wire: sim.source.tally.wire },
    viewers, events, orphanTimers,
    network: { delivered: sim.net.delivered, lost: sim.net.lost, queueDrops: sim.net.queueDrops },
  }
}
