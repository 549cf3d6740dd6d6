// One simulated run: a source publishing 16 KiB chunks at a bitrate, N viewers joining in a wave,
// the swarm (sim-swarm.ts) on a virtual clock, and the same figures the benchmark reports.
import { seededRandom } from '../util/timers.ts'
import { CHUNK_SIZE } from '../store/stream-types.ts'
import { EventQueue } from '../util/event-queue.ts'
import { SimNetwork } from './sim-network.ts'
import { SIM, SimSwarm } from './sim-swarm.ts'

export interface SimOptions {
  viewers: number
  seconds: number
  bitrateBps: number
  delayMs: number
  jitterMs: number
  loss: number
  /** Viewers' upload capacity in copies of the stream. */
  uploadCapacity: number
  /** The source's upload capacity in copies of the stream. */
  sourceCapacity: number
  /** Viewers join evenly over this many ms, starting once the stream has a few segments. */
  joinSpreadMs: number
  seed: number
}

export interface SimFigures {
  viewers: number
  sourceCopies: number
  uploadPerViewerCopies: { median: number; p99: number; max: number }
  delayMs: { p50: number; p95: number; p99: number; max: number }
  completeness: { worst: number; mean: number }
  duplicateShare: number
  startupMs: { median: number; max: number }
  events: number
  wallMs: number
}

const q = (a: Float64Array | number[], p: number) => (a.length ? a[Math.min(a.length - 1, Math.floor(p * a.length))] : 0)

export function simulate(o: SimOptions): SimFigures {
  const wall = Date.now()
  const rnd = seededRandom(o.seed)
  const bytesPerMs = o.bitrateBps / 8 / 1000
  const chunkMs = CHUNK_SIZE / bytesPerMs
  const chunks = Math.floor((o.seconds * 1000) / chunkMs)
  const queue = new EventQueue()
  const net = new SimNetwork(queue, o.viewers + 1, { delayMs: o.delayMs, jitterMs: o.jitterMs, loss: o.loss },
    (i) => (i === 0 ? o.sourceCapacity : o.uploadCapacity) * bytesPerMs * 1000, rnd)
  const swarm = new SimSwarm(queue, net, o.viewers, chunks, CHUNK_SIZE, chunkMs, Math.max(1, Math.round(1000 / chunkMs)))
  swarm.startSource()
  const firstJoin = 4000
  const joined: number[] = []
  for (let k = 1; k <= o.viewers; k++) {
    queue.at(firstJoin + (o.joinSpreadMs * (k - 1)) / Math.max(1, o.viewers), () => {
      // Bootstrap: the source plus two viewers already there (what a tracker or PEX hands out).
      const boot = [swarm.source.addr]
      for (let b = 0; b < 2 && joined.length; b++) boot.push(swarm.nodes[joined[Math.floor(rnd() * joined.length)]].addr)
      swarm.join(swarm.nodes[k], boot)
      joined.push(k)
    })
  }
  const end = chunks * chunkMs
  queue.run(end + 100)
  return measure(swarm, net.uploaded, end, Date.now() - wall, queue.processed)
}

function measure(swarm: SimSwarm, uploaded: Float64Array, end: number, wallMs: number, events: number): SimFigures {
  const pub = swarm.publishedAt
  const viewers = swarm.nodes.slice(1)
  const firstStart = Math.min(...viewers.map((v) => (v.startChunk < 0 ? Infinity : v.startChunk)))
  const streamBytes = (swarm.chunks - firstStart) * swarm.chunkBytes
  const delays: number[] = []
  const complete: number[] = []
  const ups: number[] = []
  const startups: number[] = []
  let received = 0
  let dups = 0
  for (const v of viewers) {
    let due = 0
    let ok = 0
    let playableAt = -1
    for (let n = 0; n < swarm.chunks; n++) {
      const t = v.recvAt[n]
      if (pub[n] >= v.joinAt) {
        if (t >= 0) delays.push(t - pub[n])
        if (pub[n] + SIM.PLAYOUT_DELAY_MS <= Math.min(end, v.leftAt)) { due++; if (t >= 0 && t - pub[n] <= SIM.PLAYOUT_DELAY_MS) ok++ }
      }
    }
    // Startup: the first segment after the start point whose chunks are all here.
    if (v.startChunk >= 0) {
      let last = -1
      for (let n = v.startChunk; n < v.startChunk + swarm.chunksPerSegment && n < swarm.chunks; n++) last = v.recvAt[n] < 0 ? Infinity : Math.max(last, v.recvAt[n])
      if (Number.isFinite(last)) playableAt = last
    }
    if (playableAt >= 0) startups.push(playableAt - v.joinAt)
    if (due) complete.push(ok / due)
    ups.push(uploaded[v.i] / Math.max(1, (end - v.joinAt) * (swarm.chunkBytes / swarm.chunkMs)))
    received += v.received
    dups += v.duplicates
  }
  // Sorting millions of numbers in a plain array is slow; a typed array sorts numerically and fast.
  const d = Float64Array.from(delays).sort()
  delays.length = 0
  ups.sort((a, b) => a - b)
  startups.sort((a, b) => a - b)
  const p50 = q(d, 0.5)
  return {
    viewers: viewers.length,
    sourceCopies: uploaded[0] / Math.max(1, streamBytes),
    uploadPerViewerCopies: { median: q(ups, 0.5), p99: q(ups, 0.99), max: ups.at(-1) ?? 0 },
    delayMs: { p50, p95: q(d, 0.95), p99: q(d, 0.99), max: d.length ? d[d.length - 1] : 0 },
    completeness: { worst: complete.length ? Math.min(...complete) : 0, mean: complete.reduce((a, b) => a + b, 0) / Math.max(1, complete.length) },
    duplicateShare: dups / Math.max(1, received),
    startupMs: { median: q(startups, 0.5), max: startups.at(-1) ?? 0 },
    events,
    wallMs,
  }
}
