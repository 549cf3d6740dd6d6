// The audience telemetry measured on the simulated swarm: N viewers join, and the source's merged
// view is compared with the truth the simulator knows (who is present, every chunk's delay at every
// viewer), 10 s after the last join and again 10 s after a share of the viewers left at once. Also
// the telemetry's cost at every node against the stream bytes it moved. The test and
// `npm run simulate -- --audience` both run this.
import type { LinkModel } from '../mesh/link.ts'
import type { Message } from '../mesh/messages.ts'
import { EPOCH, VirtualSwarm, type Departure, type SwarmMember } from './virtual-swarm.ts'
import { LEAD_MS, PROGRESS_STEP_MS } from './simulation.ts'
import type { AudienceView } from '../mesh/telemetry/audience-view.ts'
import { windowPercentile } from './audience-truth.ts'
import { reportingCount } from './stripe-trees.ts'

export interface AudienceRunOptions {
  viewers: number
  seed: number
  bitrateBps: number
  link: LinkModel
  joinSpreadMs: number
  /** How long after the last join, and after the departure, the source's count is read. */
  settleMs: number
  /** How long the swarm runs steadily before the delays and the cost are read. */
  steadyMs: number
  /** Share of the viewers that leave at once after the first reading. */
  leaveShare: number
  /** How they leave: killed (the default: no goodbye reaches anyone), with their goodbyes
   * (StopSendingMe to their parents, as a clean `cjp2p-stream` exit), or every other one each way.
   * The tree loses them differently: a killed child is dropped by its parent only once silent
   * (SILENT_KID_MS), one that says goodbye at once. */
  departure?: AudienceDeparture
  /** The last `count` joiners lie in their summaries, rewritten by `lie` on the way out. */
  liars?: { count: number; lie: (audience: Record<string, unknown>) => Record<string, unknown> }
  /** Told each reading as it is taken: a long run (10,000 viewers) shows what it reached if cut short. */
  progress?: (line: string) => void
}

export type AudienceDeparture = Departure | 'both'
export const AUDIENCE_DEPARTURES: readonly AudienceDeparture[] = ['kill', 'goodbye', 'both']
/** The scripts' one-line usage error for a `--departure` that names none of them. */
export const DEPARTURE_USAGE = `--departure must be one of ${AUDIENCE_DEPARTURES.join(', ')}`

/** `--departure`'s value (undefined: the default, kill), or undefined when it names none. */
export function parseDeparture(value: string | undefined): AudienceDeparture | undefined {
  const v = value ?? 'kill'
  return (AUDIENCE_DEPARTURES as readonly string[]).includes(v) ? (v as AudienceDeparture) : undefined
}

/** How the `i`th of the viewers leaving at once leaves: with 'both', every other one each way. */
export function departureOf(how: AudienceDeparture, i: number): Departure {
  return how === 'both' ? (i % 2 === 0 ? 'kill' : 'goodbye') : how
}

/** A run its `stop` ended early (asked every PROGRESS_STEP_MS of virtual time, as simulate()'s
 * budget: a virtual second of a 10,000-viewer join wave takes minutes of wall time; true ends the run there:
 * `--wall-limit`): how far it got (virtual ms after the first join) and the count it read once the
 * joins had settled, if it got that far. */
export interface AudienceRunStopped { stoppedAtMs: number; joined?: CountReading }

/** Raised inside audienceRun when `stop` says so. */
class Stopped extends Error {}

/** `attached`: present viewers whose chain of report parents reaches the source, the audience
 * the report tree can see (the rest wait for the tree to take them back, uncounted). */
export interface CountReading { present: number; counted: number; error: number; attached: number }
export interface AudienceRunResult {
  joined: CountReading
  afterLeave: CountReading
  p95: { trueMs: number; mergedMs: number; error: number; trueP99Ms: number }
  /** Viewers below the liars (themselves included) as their own honest view counts them. */
  liarSubtrees: number
  /** Telemetry bytes (sent and received) over stream payload bytes received, at the worst node and
   * overall: in the steady state, and since each node joined (the join wave and its catch-up included,
   * as bench:audience reads real processes). */
  cost: Omit<Cost, 'perNode'>
  wholeRun: Omit<Cost, 'perNode'>
  view: AudienceView
  liars: string[]
}

export function audienceRun(o: AudienceRunOptions): Promise<AudienceRunResult>
export function audienceRun(o: AudienceRunOptions, stop: (() => boolean) | undefined): Promise<AudienceRunResult | AudienceRunStopped>
export async function audienceRun(o: AudienceRunOptions, stop?: () => boolean): Promise<AudienceRunResult | AudienceRunStopped> {
  const sim = await VirtualSwarm.create({ seed: o.seed, bitrateBps: o.bitrateBps, link: o.link, verifyOncePerProcess: true, handover: true })
  // Without a budget the clock moves in one run per phase: stepping adds turns of the event loop
  // at times no event is due, which a promise chain may straddle.
  const runTo = async (until: number): Promise<void> => {
    if (!stop) return sim.run(until)
    for (let t = sim.timers.now(); t < until;) {
      t = Math.min(until, t + PROGRESS_STEP_MS)
      await sim.run(t)
      // As simulate(): not before the first join, so a stopped run says how far the joins got.
      if (stop() && t > t0) throw new Stopped()
    }
  }
  let joined: CountReading | undefined
  const present: SwarmMember[] = []
  const liars: string[] = []
  const t0 = EPOCH + LEAD_MS
  for (let k = 0; k < o.viewers; k++) {
    sim.timers.queue.at(t0 + (o.joinSpreadMs * k) / Math.max(1, o.viewers), () => {
      void sim.join().then((m) => {
        present.push(m)
        // The last joiners lie: near the leaves, as most viewers are (a liar at the top of the
        // tree distorts the whole audience below it, which is its own subtree).
        if (o.liars && k >= o.viewers - o.liars.count) { liars.push(m.node.address); lieOnTheWay(m, o.liars.lie) }
      })
    })
  }
  try {
    const joinedAt = t0 + o.joinSpreadMs + o.settleMs
    await runTo(joinedAt)
    joined = reading(sim, present)
    o.progress?.(`joined: ${JSON.stringify(joined)}`)
    // The delays and the cost are read in the steady state: the merged window lags the exact one by
    // the time summaries take to climb, and the join wave's catch-up delays must have left both.
    const before = telemetryCost(sim, present)
    await runTo(sim.timers.now() + o.steadyMs)
    const view = sim.swarm(sim.source).audienceView()
    const window = view.delayWindow ?? { from: 0, to: 0 }
    const p95 = truePercentile(sim, present, window, 0.95)
    const p99 = truePercentile(sim, present, window, 0.99)
    const liarSubtrees = present.filter((m) => liars.includes(m.node.address)).reduce((t, m) => t + sim.swarm(m).audienceView().viewers, 0)
    const merged = view.delayMs.p95 ?? 0
    const cost = telemetryCost(sim, present, before)
    const { perNode: _whole, ...wholeRun } = telemetryCost(sim, present)
    o.progress?.(`steady: p95 merged ${merged} ms, exact ${p95} ms; telemetry worst node ${cost.worstNode}, overall ${cost.overall}`)

    const leaving = Math.round(present.length * o.leaveShare)
    const departure = o.departure ?? 'kill'
    for (let i = 0; i < leaving; i++) {
      // Never a liar: the liar test wants it to stay in the tree.
      let j = Math.floor(sim.random() * present.length)
      while (liars.includes(present[j].node.address)) j = (j + 1) % present.length
      void sim.leave(present.splice(j, 1)[0], departureOf(departure, i))
    }
    await runTo(sim.timers.now() + o.settleMs)
    const afterLeave = reading(sim, present)
    const { perNode: _, ...costFigures } = cost
    return { joined, afterLeave, p95: { trueMs: p95, mergedMs: merged, error: p95 > 0 ? Math.abs(merged - p95) / p95 : 0, trueP99Ms: p99 }, cost: costFigures, wholeRun, view, liars, liarSubtrees }
  } catch (err) {
    if (!(err instanceof Stopped)) throw err
    return { stoppedAtMs: sim.timers.now() - t0, ...(joined ? { joined } : {}) }
  } finally {
    await sim.close()
  }
}

function reading(sim: VirtualSwarm, members: SwarmMember[]): CountReading {
  const present = members.length
  const counted = sim.swarm(sim.source).audienceView().viewers
  const attached = reportingCount(sim, members)
  return { present, counted, error: present > 0 ? Math.abs(counted - present) / present : 0, attached }
}

/** Percentile `p` of every chunk delay at every present viewer over the chunks the source's view
 * covers, exactly. */
function truePercentile(sim: VirtualSwarm, present: SwarmMember[], window: { from: number; to: number }, p: number): number {
  return windowPercentile(present.map((m) => m.recorder.verified), (n) => sim.source.log.chunkRecord(n)?.time, window, p)
}

type NodeBytes = Map<SwarmMember, { tel: number; stream: number }>
interface Cost { worstNode: number; overall: number; telemetryBytes: number; streamBytes: number; perNode: NodeBytes }

/** Telemetry and stream bytes at each node (since `since` was read, if given). */
function telemetryCost(sim: VirtualSwarm, present: SwarmMember[], since?: Cost): Cost {
  let worstNode = 0
  let telemetryBytes = 0
  let streamBytes = 0
  const perNode: NodeBytes = new Map()
  for (const m of [sim.source, ...present]) {
    const st = sim.swarm(m).status()
    const t = st.audience.traffic
    // The source receives no stream: its stream bytes are what it produced.
    const now = { tel: t.sentBytes + t.receivedBytes, stream: m === sim.source ? st.producedBytes : st.receivedBytes }
    perNode.set(m, now)
    const was = since?.perNode.get(m)
    if (since && !was) continue
    const tel = now.tel - (was?.tel ?? 0)
    const stream = now.stream - (was?.stream ?? 0)
    telemetryBytes += tel
    streamBytes += stream
    if (stream > 0) worstNode = Math.max(worstNode, tel / stream)
  }
  return { worstNode, overall: streamBytes > 0 ? telemetryBytes / streamBytes : 0, telemetryBytes, streamBytes, perNode }
}

/** Rewrites the member's outgoing summaries: a lying viewer, as a hostile peer would run one. */
function lieOnTheWay(m: SwarmMember, lie: (a: Record<string, unknown>) => Record<string, unknown>): void {
  const send = m.node.send.bind(m.node)
  m.node.send = (to, messages, ...rest) => send(to, messages.map((msg): Message =>
    msg.type === 'HereIsMyAudience' ? { ...msg, audience: lie(msg.audience as unknown as Record<string, unknown>) as never } : msg), ...rest)
}
