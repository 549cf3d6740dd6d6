// Runs one scenario in one mode (the swarm, or the HLS baseline): forks the source process and
// ceil(N / K) viewer processes, joins viewers in a staggered wave, applies churn, then collects
// every process's own report. Every child is killed at the end, whatever happened.
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { FromChild, Mode, SourceReport, ToChild, ViewersReport } from './bench-ipc.ts'
import type { Scenario } from './bench-args.ts'
import { seededRandom } from '../src/util/timers.ts'
import { figures, type Figures } from './bench-report.ts'

// The scenario's timing is the simulator's (segments of 1 s, the 3 s deadline, joins after four
// segments), defined once so that a simulated run and a bench run measure the same thing.
import { DEADLINE_MS, LEAD_MS } from '../src/sim/simulation.ts'
import { SEGMENT_MS } from '../src/sim/virtual-swarm.ts'
export { DEADLINE_MS }
/** Viewers join one after another, not all in the same millisecond. */
export const STAGGER_MS = 100
/** How often the HLS viewers poll the playlist: half a segment, as players do for live. */
export const HLS_POLL_MS = 500

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url))

export class Child {
  readonly proc: ChildProcess
  private waiters: Array<(m: FromChild) => void> = []
  constructor(script: string) {
    // BENCH_PROF=<dir> writes a V8 CPU profile of every child there (open it in Chrome DevTools).
    const prof = process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : []
    this.proc = fork(here(script), [], { execArgv: [...process.execArgv, ...prof], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.proc.on('message', (m: FromChild) => {
      if (m.type === 'error') process.stderr.write(`bench child ${script}: ${m.message}\n`)
      const w = this.waiters.shift()
      if (w) w(m)
    })
  }
  send(m: ToChild): void { if (this.proc.connected) this.proc.send(m) }
  next(timeoutMs = 30_000): Promise<FromChild> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('a benchmark child did not answer')), timeoutMs)
      this.waiters.push((m) => { clearTimeout(t); resolve(m) })
      this.proc.once('exit', (code) => reject(new Error(`a benchmark child exited (${code})`)))
    })
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return
    this.send({ type: 'exit' })
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000)
    await new Promise((r) => this.proc.once('exit', r))
    clearTimeout(t)
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Every process's own report: the source's (chunk times, bytes) and each viewer process's. */
export async function collectReports(src: Child, views: Child[]): Promise<{ source: SourceReport; viewers: ViewersReport[] }> {
  src.send({ type: 'report' })
  const s = await src.next()
  if (s.type !== 'report' || s.report.kind !== 'source') throw new Error('the source sent no report')
  const viewers: ViewersReport[] = []
  for (const v of views) {
    v.send({ type: 'report' })
    const r = await v.next()
    if (r.type === 'report' && r.report.kind === 'viewers') viewers.push(r.report)
  }
  return { source: s.report, viewers }
}

export async function runMode(sc: Scenario, mode: Mode, seconds: number, log: (s: string) => void): Promise<Figures> {
  const children: Child[] = []
  try {
    const src = new Child('bench-source.ts')
    children.push(src)
    src.send({ type: 'init', source: { mode, bitrateBps: sc.bitrateBps, segmentMs: SEGMENT_MS, seed: sc.seed } })
    const ready = await src.next()
    if (ready.type !== 'ready' || !ready.streamId) throw new Error('the source did not start')
    const procs = Math.ceil(sc.viewers / sc.nodesPerProcess)
    const views: Child[] = []
    for (let i = 0; i < procs; i++) {
      const c = new Child('bench-viewers.ts')
      children.push(c)
      views.push(c)
      c.send({ type: 'init', viewers: { mode, streamId: ready.streamId, source: ready.address ?? '', link: sc.link, seed: sc.seed, pollMs: HLS_POLL_MS } })
    }
    await Promise.all(views.map((v) => v.next()))
    // Let the source build up a few segments, so joiners find a live edge with history behind it.
    await sleep(LEAD_MS)
    const rnd = seededRandom(sc.seed)
    // Its own draw, so the churn's picks are the same with and without uneven uplinks.
    const uplinkRnd = seededRandom(sc.seed + 7919)
    const present: number[] = []
    let nextSlot = 0
    const join = (slot: number) => {
      const peers = mode === 'hls' ? [ready.httpUrl ?? ''] : [ready.address ?? '']
      let r = uplinkRnd()
      const uplink = sc.uplinks?.find((u) => (r -= u.share) < 0)
      const maxUploadBps = uplink && mode === 'p2p' ? (uplink.copies * sc.bitrateBps) / 8 : undefined
      views[slot % procs].send({ type: 'join', slot, peers, ...(maxUploadBps !== undefined ? { maxUploadBps } : {}) })
      present.push(slot)
    }
    const t0 = Date.now()
    for (let i = 0; i < sc.viewers; i++) { join(nextSlot++); await sleep(STAGGER_MS) }
    log(`  ${mode}: ${sc.viewers} viewers joined; running ${seconds} s${sc.churnPerMin ? ` with ${(sc.churnPerMin * 100).toFixed(0)} %/min churn` : ''}`)
    const end = t0 + seconds * 1000
    const churnEvery = sc.churnPerMin > 0 ? 60_000 / (sc.churnPerMin * sc.viewers) : Infinity
    let nextChurn = Date.now() + churnEvery
    let lastTick = Date.now()
    while (Date.now() < end) {
      await sleep(Math.min(250, end - Date.now()))
      if (Date.now() - lastTick > 10_000) { lastTick = Date.now(); log(`  ${mode}: ${Math.round((Date.now() - t0) / 1000)} s`) }
      while (Date.now() >= nextChurn && Date.now() < end) {
        nextChurn += churnEvery
        const k = Math.floor(rnd() * present.length)
        const gone = present.splice(k, 1)[0]
        views[gone % procs].send({ type: 'leave', slot: gone })
        join(nextSlot++)
      }
    }
    const endAt = Date.now()
    const { source, viewers } = await collectReports(src, views)
    const stableMs = sc.churnPerMin > 0 ? Math.min(60_000, seconds * 1000 * 0.5) : (seconds * 1000) / 2
    return figures({ mode, endAt, deadlineMs: DEADLINE_MS, stableMs }, source, viewers)
  } finally {
    await Promise.all(children.map((c) => c.stop()))
  }
}
