// Bandwidth limits with real processes on loopback: each scenario runs its nodes as `cjp2p-stream`
// processes, lets the transfers ramp up, then reads the capped node's wire counters (bytes its socket
// sent or received, from /status.json) over a measured span and prints the rate against the cap:
//   upload, files:    a `node --max-upload <cap>` seeding a big random file to N `node`s fetching it
//   upload, stream:   an `ingest testsrc --max-upload <cap>` also seeding the file: two viewers
//                     watch, two nodes fetch; the stream must keep flowing (stream before file)
//   download, files:  a `node --max-download <cap>` fetching the file from an uncapped seeder
//   download, stream: a `watch --max-download <cap>` of an uncapped source that also seeds the
//                     file, fetching it while it watches
// Viewer health is the verified chunks a second at the viewers against the source's own. The
// stream's bitrate is ffmpeg's video rate: testsrc at 150k makes about 300 kb/s of stream, about
// 420 kb/s on the wire per copy, so one copy takes under half of a 1M cap and the files the rest.
// (A source whose cap barely carries one copy does not keep up: see docs/BANDWIDTH.md.)
//   npm run bench:bandwidth [-- --cap 1M] [--seconds 60] [--warmup 10] [--mib 64] [--getters 4] [--bitrate 150k] [--only <text>]
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { scriptFlags } from './script-args.ts'
import type { TestContext } from 'node:test'
import { parseBitRate } from '../src/cli/options.ts'
import { sleep } from '../test/helpers/cli-process.ts'
import {
  type Cleanup, type RunningNode, type WireSample, fetchOn, randomFile, rates, sample, shareInto, startNode, startSource, startViewer, statusOf,
} from '../test/helpers/bandwidth-swarm.ts'

const USAGE = 'npm run bench:bandwidth [-- --cap 1M] [--seconds 60] [--warmup 10] [--mib 64] [--getters 4] [--bitrate 150k] [--only <text in a scenario name>]'
const args = scriptFlags('bench:bandwidth', USAGE, {
  cap: { type: 'string', default: '1M' }, seconds: { type: 'string', default: '60' }, warmup: { type: 'string', default: '10' },
  mib: { type: 'string', default: '64' }, getters: { type: 'string', default: '4' }, bitrate: { type: 'string', default: '150k' },
  only: { type: 'string' },
})
const cap = args.cap
const capBytes = parseBitRate(cap)
const seconds = Number(args.seconds)
const warmupMs = Number(args.warmup) * 1000
const getterCount = Math.max(1, Number(args.getters))
/** The goal: the limit holds within this over the measured span. */
const TOLERANCE = 0.05

interface Row { scenario: string; measured: number; streamKbps: string; viewers: string }

const root = await mkdtemp(join(tmpdir(), 'cjp2p-bench-bandwidth-'))
const file = await randomFile(join(root, 'big.bin'), Number(args.mib))
const rows: Row[] = []

/** Runs a scenario with its own processes, stopped at the end. */
async function scenario(name: string, run: (t: Cleanup, dir: string) => Promise<Omit<Row, 'scenario'>>): Promise<void> {
  if (args.only && !name.includes(args.only)) return
  const cleanups: Array<() => unknown> = []
  const t = { after: (fn: () => unknown) => { cleanups.push(fn) } } as unknown as TestContext
  const dir = await mkdtemp(join(root, 'run-'))
  process.stderr.write(`${name}: running (${seconds} s measured after ${warmupMs / 1000} s)\n`)
  try {
    rows.push({ scenario: name, ...(await run(t, dir)) })
  } catch (err) {
    process.stderr.write(`${name} failed: ${(err as Error).message}\n`)
    rows.push({ scenario: name, measured: NaN, streamKbps: 'failed', viewers: '' })
  } finally {
    for (const fn of cleanups.reverse()) await fn()
  }
}

/** Samples the capped node and the others at the start and end of the measured span. */
async function measure(capped: RunningNode, others: RunningNode[]): Promise<{ capped: [WireSample, WireSample]; others: Array<[WireSample, WireSample]> }> {
  await sleep(warmupMs)
  const a = await sample(capped)
  const oa = await Promise.all(others.map(sample))
  await sleep(seconds * 1000)
  const b = await sample(capped)
  const ob = await Promise.all(others.map(sample))
  return { capped: [a, b], others: others.map((_, i) => [oa[i], ob[i]]) }
}

const kbps = (bytesPerSecond: number) => `${Math.round((bytesPerSecond * 8) / 1000)}`

await scenario(`upload, files: seeder --max-upload ${cap} -> ${getterCount} getters`, async (t, dir) => {
  const id = await shareInto(join(dir, 'seeder'), file)
  const seeder = await startNode(t, join(dir, 'seeder'), ['--max-upload', cap])
  const getters: RunningNode[] = []
  for (let i = 0; i < getterCount; i++) getters.push(await startNode(t, join(dir, `getter-${i}`)))
  for (const g of getters) await fetchOn(g, id, [seeder.udp])
  const m = await measure(seeder, getters)
  const got = m.others.reduce((s, [a, b]) => s + rates(a, b).in, 0)
  return { measured: rates(...m.capped).out, streamKbps: '-', viewers: `getters got ${kbps(got)} kb/s` }
})

await scenario(`upload, stream: source ${args.bitrate} --max-upload ${cap} + file -> 2 viewers, 2 getters`, async (t, dir) => {
  const id = await shareInto(join(dir, 'source'), file)
  const source = await startSource(t, join(dir, 'source'), args.bitrate, ['--max-upload', cap])
  const viewers = [await startViewer(t, join(dir, 'v1'), source.id, source.udp), await startViewer(t, join(dir, 'v2'), source.id, source.udp)]
  const getters = [await startNode(t, join(dir, 'g1')), await startNode(t, join(dir, 'g2'))]
  for (const g of getters) await fetchOn(g, id, [source.udp])
  const m = await measure(source, viewers)
  const own = rates(...m.capped).chunksPerSecond
  const at = m.others.map(([a, b]) => rates(a, b).chunksPerSecond.toFixed(2)).join(', ')
  return { measured: rates(...m.capped).out, streamKbps: kbps(rates(...m.capped).streamOut), viewers: `chunks/s ${at} (source ${own.toFixed(2)})` }
})

await scenario(`download, files: getter --max-download ${cap} <- seeder`, async (t, dir) => {
  const id = await shareInto(join(dir, 'seeder'), file)
  const seeder = await startNode(t, join(dir, 'seeder'))
  const getter = await startNode(t, join(dir, 'getter'), ['--max-download', cap])
  await fetchOn(getter, id, [seeder.udp])
  const m = await measure(getter, [])
  return { measured: rates(...m.capped).in, streamKbps: '-', viewers: '-' }
})

await scenario(`download, stream: viewer --max-download ${cap} of a ${args.bitrate} source, fetching the file too`, async (t, dir) => {
  const id = await shareInto(join(dir, 'source'), file)
  const source = await startSource(t, join(dir, 'source'), args.bitrate)
  const viewer = await startViewer(t, join(dir, 'viewer'), source.id, source.udp, ['--max-download', cap])
  await fetchOn(viewer, id, [source.udp])
  const m = await measure(viewer, [source])
  const [sa, sb] = m.others[0]
  const st = await statusOf(viewer)
  const r = rates(...m.capped)
  return {
    measured: r.in, streamKbps: '-',
    viewers: `chunks/s ${r.chunksPerSecond.toFixed(2)} (source ${rates(sa, sb).chunksPerSecond.toFixed(2)}); requests held ${Math.round(st.bandwidth.download.deferredBytes / 1024)} KiB`,
  }
})

console.log(`\nbandwidth limits: cap ${cap} = ${capBytes} B/s of wire bytes (all traffic), measured over ${seconds} s after ${warmupMs / 1000} s; ${args.mib} MiB random file; real processes on loopback`)
const head = ['scenario', 'measured B/s', 'of cap', `within ${TOLERANCE * 100}%`, 'stream kb/s sent', 'others']
const cells = rows.map((r) => [r.scenario, Number.isFinite(r.measured) ? String(Math.round(r.measured)) : 'n/a',
  Number.isFinite(r.measured) ? `${((100 * r.measured) / capBytes).toFixed(1)}%` : 'n/a',
  Number.isFinite(r.measured) && Math.abs(r.measured / capBytes - 1) <= TOLERANCE ? 'yes' : 'NO', r.streamKbps, r.viewers])
const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)))
const line = (c: string[]) => c.map((x, i) => (i === 0 || i === c.length - 1 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ')
console.log(line(head))
for (const c of cells) console.log(line(c))
await rm(root, { recursive: true, force: true, maxRetries: 3 })
