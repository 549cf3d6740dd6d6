// `npm run bench:audience -- [--viewers 50] [--leave 20%] [--settle 10] [--nodes-per-process 10] [--seed 1] [--bitrate 2M] [--departure kill|goodbye|both] [--screenshot file.png]`
// Issue 15's goal on real processes: a real source and N real viewer nodes (bench-source.ts,
// bench-viewers.ts: real UDP on 127.0.0.1) join in a staggered wave; 10 s after the last join the
// source's audience count is read against the viewers present (and those whose stripe-0 chain
// reaches the source, in brackets); after 10 s more of steady stream its merged delay p95 against the
// true p95 of every viewer's delays for the same chunks (AudienceView.delayWindow), and the
// telemetry's bytes against the stream bytes at every node; then a share of the viewers vanish at
// once and the count is read again 10 s later. Prints one table. With --screenshot, the source also
// serves its dashboard (bench-dashboard.ts) and headless Chromium saves the page with the whole
// swarm on it, after the steady readings and before the departures, and `cjp2p-stream status
// --audience` is run against the same source at that moment (its output on stderr).
import { existsSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { scriptFlags, UsageError, exitUsage, orExitUsage } from './script-args.ts'
import { parseBitrate } from './bench-args.ts'
import { Child, HLS_POLL_MS, STAGGER_MS, collectReports, sleep } from './bench-run.ts'
import type { AudienceReading } from './bench-ipc.ts'
import { LEAD_MS } from '../src/sim/simulation.ts'
import { SEGMENT_MS } from '../src/sim/virtual-swarm.ts'
import { windowPercentile } from '../src/sim/audience-truth.ts'
import { DEPARTURE_USAGE, departureOf, parseDeparture } from '../src/sim/audience-run.ts'
import { CHROMIUM, screenshotPage, statusAudience } from './bench-dashboard.ts'

const USAGE = `npm run bench:audience -- [--viewers 50] [--leave 20%] [--settle 10] [--nodes-per-process 10] [--seed 1] [--bitrate 2M] [--departure kill|goodbye|both] [--screenshot file.png]
A real source and N real viewer processes; prints the source's audience count, merged delay p95 and
telemetry bytes against the truth, before and after a share of the viewers leave (--departure: killed,
with their goodbyes, or every other one each way, as \`npm run simulate -- --audience\`); --screenshot saves
the source's dashboard page (headless Chromium, CHROMIUM_PATH or /usr/bin/chromium) with the swarm on it
and prints \`cjp2p-stream status --audience\` of the same source beside it.`
const values = scriptFlags('bench:audience', USAGE, {
  viewers: { type: 'string' }, leave: { type: 'string' }, settle: { type: 'string' }, 'nodes-per-process': { type: 'string' }, seed: { type: 'string' },
  screenshot: { type: 'string' }, bitrate: { type: 'string' }, departure: { type: 'string' },
})
const num = (v: string | undefined, name: string, dflt: number, min: number, max: number): number => {
  const n = v === undefined ? dflt : Number(v.replace(/%$/, '')) / (v.endsWith('%') ? 100 : 1)
  if (!Number.isFinite(n) || n < min || n > max) exitUsage('bench:audience', new UsageError(`--${name} must be from ${min} to ${max}`))
  return n
}
const viewers = num(values.viewers, 'viewers', 50, 1, 500)
const leaveShare = num(values.leave, 'leave', 0.2, 0, 0.9)
const settleMs = num(values.settle, 'settle', 10, 1, 600) * 1000
const perProcess = num(values['nodes-per-process'], 'nodes-per-process', 10, 1, 100)
const seed = num(values.seed, 'seed', 1, 0, 2 ** 31)
const screenshot = values.screenshot
const departure = parseDeparture(values.departure) ?? exitUsage('bench:audience', new UsageError(DEPARTURE_USAGE))
// A lower bitrate needs less CPU per viewer (on a loaded machine 50 processes at 2 Mb/s fall tens of
// seconds behind) and is the harder case for the 1 % telemetry budget: fewer stream bytes to pay it.
const bitrateBps = orExitUsage('bench:audience', () => (values.bitrate === undefined ? 2e6 : parseBitrate(values.bitrate)))
if (!(bitrateBps >= 64e3 && bitrateBps <= 20e6)) exitUsage('bench:audience', new UsageError('--bitrate must be from 64k to 20M'))
if (screenshot !== undefined && !screenshot.endsWith('.png')) exitUsage('bench:audience', new UsageError('--screenshot must name a .png file'))
// Checked before the swarm starts: a missing browser found after minutes of swarm lost the figures.
if (screenshot !== undefined && !existsSync(CHROMIUM)) exitUsage('bench:audience', new UsageError(`--screenshot needs Chromium at ${CHROMIUM} (set CHROMIUM_PATH)`))
const log = (s: string) => process.stderr.write(s + '\n')

async function main(): Promise<void> {
  const loadAtStart = loadavg()
  const startedAt = Date.now()
  const children: Child[] = []
  try {
    const src = new Child('bench-source.ts')
    children.push(src)
    src.send({ type: 'init', source: { mode: 'p2p', bitrateBps, segmentMs: SEGMENT_MS, seed, dashboard: screenshot !== undefined } })
    const ready = await src.next()
    if (ready.type !== 'ready' || !ready.streamId || !ready.address) throw new Error('the source did not start')
    const procs = Math.ceil(viewers / perProcess)
    const views = Array.from({ length: procs }, () => new Child('bench-viewers.ts'))
    children.push(...views)
    for (const v of views) v.send({ type: 'init', viewers: { mode: 'p2p', streamId: ready.streamId, source: ready.address, link: null, seed, pollMs: HLS_POLL_MS } })
    await Promise.all(views.map((v) => v.next()))
    await sleep(LEAD_MS)
    const present: number[] = []
    for (let slot = 0; slot < viewers; slot++) {
      views[slot % procs].send({ type: 'join', slot, peers: [ready.address] })
      present.push(slot)
      await sleep(STAGGER_MS)
    }
    const read = async (): Promise<AudienceReading> => {
      src.send({ type: 'audience' })
      const m = await src.next()
      if (m.type !== 'audience') throw new Error('the source sent no audience reading')
      return m.audience
    }
    // Viewers whose chain of stripe-0 parents reaches the source: those the telemetry can count (the
    // rest wait for the tree to take them). Tells a slow count from a tree not yet formed.
    const attached = async (): Promise<number> => {
      const parentOf = new Map<string, string | null>()
      for (const v of views) {
        v.send({ type: 'parents' })
        const m = await v.next()
        if (m.type !== 'parents') throw new Error('a viewer process sent no parents')
        for (const [a, p] of m.parents) parentOf.set(a, p)
      }
      let n = 0
      for (const a of parentOf.keys()) {
        let at: string | null | undefined = a
        for (let hops = 0; at && at !== ready.address && hops <= parentOf.size; hops++) at = parentOf.get(at)
        if (at === ready.address) n++
      }
      return n
    }
    log(`${viewers} viewers joined; reading the source's audience in ${settleMs / 1000} s`)
    await sleep(settleMs)
    const joined = await read()
    const joinedAttached = await attached()
    const joinedPresent = present.length
    await sleep(settleMs)
    const steady = await read()
    const reports = await collectReports(src, views)
    const reportedAt = Date.now()
    if (screenshot !== undefined && ready.dashboardUrl) {
      // The figures below matter more than the picture: a failed screenshot is logged, not thrown.
      // Beside it, what the terminal says of the same source meanwhile (stderr: stdout is the table).
      const why = (e: unknown) => (e instanceof Error ? e.message.split('\n')[0] : String(e))
      await Promise.all([
        screenshotPage(ready.dashboardUrl, screenshot)
          .then(() => log(`the source's dashboard (${ready.dashboardUrl}) saved as ${screenshot}`))
          .catch((e: unknown) => log(`the screenshot failed: ${why(e)}`)),
        statusAudience(ready.dashboardUrl)
          .then((out) => log(`$ cjp2p-stream status --audience  (the same source)\n${out.trimEnd()}`))
          .catch((e: unknown) => log(`status --audience failed: ${why(e)}`)),
      ])
    }
    const gone = Math.round(present.length * leaveShare)
    for (let i = 0; i < gone; i++) {
      const slot = present.splice((i * 7919 + seed) % present.length, 1)[0]
      views[slot % procs].send({ type: 'leave', slot, goodbye: departureOf(departure, i) === 'goodbye' })
    }
    log(`${gone} viewers left at once (${departure}); reading again in ${settleMs / 1000} s`)
    await sleep(settleMs)
    const afterLeave = await read()
    const leftAttached = await attached()
    const { source, viewers: reps } = reports
    const chunkTime = (n: number) => source.chunkTimes[n]
    const stayed = reps.flatMap((r) => r.viewers).filter((v) => v.leftAt === null || v.leftAt > steady.at)
    const trueP95 = windowPercentile(stayed.map((v) => v.verified), chunkTime, steady.delayWindow ?? { from: 0, to: 0 }, 0.95)
    const telemetry = stayed.reduce((t, v) => t + (v.telemetryBytes ?? 0), steady.telemetryBytes)
    const stream = stayed.reduce((t, v) => t + v.receivedBytes, steady.producedBytes)
    const share = (v: { receivedBytes: number; telemetryBytes?: number }) => (v.receivedBytes > 0 ? (v.telemetryBytes ?? 0) / v.receivedBytes : 0)
    const worstViewer = stayed.reduce<(typeof stayed)[number] | null>((w, v) => (w === null || share(v) > share(w) ? v : w), null)
    const worst = Math.max(steady.producedBytes > 0 ? steady.telemetryBytes / steady.producedBytes : 0, worstViewer ? share(worstViewer) : 0)
    // Which node, so a reading over the budget can be traced: a late joiner has few stream bytes to pay with.
    if (worstViewer) {
      log(`worst viewer: slot ${worstViewer.slot}, joined ${((worstViewer.joinAt - startedAt) / 1000).toFixed(1)} s in, ` +
        `${worstViewer.telemetryBytes ?? 0} telemetry bytes (${JSON.stringify(worstViewer.telemetryFlows ?? {})}) for ${worstViewer.receivedBytes} stream bytes, uploaded ${worstViewer.uploadedBytes}`)
    }
    const pct = (x: number) => `${(x * 100).toFixed(2)} %`
    const dw = steady.delayWindow
    const window = dw ? `${Math.round((dw.endedMsAgo + dw.to - dw.from) / 1000)}-${Math.round(dw.endedMsAgo / 1000)} s before` : '(none)'
    const rows: Array<[string, string, string, string]> = [
      ['reading', 'true (attached)', 'source says', 'error (goal)'],
      [`viewers ${settleMs / 1000} s after the last join`, `${joinedPresent} (${joinedAttached})`, String(joined.viewers), `${pct(Math.abs(joined.viewers - joinedPresent) / joinedPresent)} (<= 1 %)`],
      [`viewers ${settleMs / 1000} s after ${gone} left at once (${departure})`, `${present.length} (${leftAttached})`, String(afterLeave.viewers), `${pct(Math.abs(afterLeave.viewers - present.length) / Math.max(1, present.length))} (<= 1 %)`],
      [`chunk delay p95, chunks published ${window}`, `${trueP95} ms`, `${steady.p95Ms ?? '-'} ms`, `${trueP95 > 0 && steady.p95Ms !== null ? pct(Math.abs(steady.p95Ms - trueP95) / trueP95) : '-'} (<= 10 %)`],
      ['telemetry bytes / stream bytes, all nodes', pct(stream > 0 ? telemetry / stream : 0), '', '(<= 1 %)'],
      ['telemetry bytes / stream bytes, worst node', pct(worst), '', '(<= 1 %)'],
    ]
    const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length)))
    // The load beside the figures: 50 processes on a shared machine form their tree only as fast as they get CPU.
    const load = (l: number[]) => l.map((x) => x.toFixed(1)).join(' / ')
    // And the CPU the swarm got: the source's and the viewers' processes until the steady reading.
    const wall = (reportedAt - startedAt) / 1000
    const viewerCpu = reps.reduce((t, r) => t + r.cpuSeconds, 0)
    const cpu = `CPU until the steady reading: source ${source.cpuSeconds.toFixed(0)} s, viewers ${viewerCpu.toFixed(0)} s in ${wall.toFixed(0)} s (${((source.cpuSeconds + viewerCpu) / wall).toFixed(2)} cores)`
    process.stdout.write(`audience telemetry, ${viewers} real viewer nodes in ${procs} processes, ${(bitrateBps / 1e6).toFixed(2)} Mb/s, loopback, seed ${seed}; load average (1/5/15 min) ${load(loadAtStart)} at the start, ${load(loadavg())} at the end on ${cpus().length} cores; ${cpu}\n`)
    for (const r of rows) process.stdout.write(r.map((c, i) => c.padEnd(w[i])).join(' | ') + '\n')
  } finally {
    await Promise.all(children.map((c) => c.stop()))
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:audience failed: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
})
