// `npm run soak -- --minutes N [--viewers K] [--every S] [--dir D] [--keep 30m]`: a real source
// (`ingest testsrc`) and K real viewers (`watch`, each peered with the source), all CLI processes
// on loopback, for N minutes. Each viewer is played like a player would: its playlist polled every
// 500 ms and every new segment fetched through media.ts. Prints one table row every S seconds:
// segments ingested, stalls (a viewer that got no new segment for more than STALL_MS), errors,
// unexpected warnings, the RSS of each process (ffmpeg too), the disk viewer1 uses (MiB) and the
// disk the source's running ffmpeg file takes (`src run`, MiB; freed as it is ingested).
// Ends with the verdict the stream must meet: 0 errors, 0 unexpected warnings and, on runs of 30
// minutes or more, flat memory (each process's last 10 minutes within 10 % of minutes 10-20).
// Exit code 0 when it holds. Not part of `npm test`: it runs for as long as it is told.
// The processes run the built command (bin/ -> dist/, built first), as a user runs it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { scriptFlags } from './script-args.ts'

const REPO = resolve(import.meta.dirname, '..')
const BIN = join(REPO, 'bin', 'cjp2p-stream')
/** A viewer with three 1 s segments of buffer stalls after about this long without a new one. */
const STALL_MS = 3000
const POLL_MS = 500
/** A request counts as an error when it fails or outlasts what hls.js gives it before its own
 * retry logic kicks in (manifestLoadingTimeOut, fragLoadingTimeOut); slower is a stall, not an error. */
const PLAYLIST_TIMEOUT_MS = 10_000
const SEGMENT_TIMEOUT_MS = 20_000
/** Warnings a healthy run may print (none today); anything else counts as unexpected. */
const EXPECTED_WARNINGS: RegExp[] = []

const args = scriptFlags('soak', 'npm run soak -- --minutes N [--viewers 1..16] [--every seconds] [--dir folder] [--keep 30m]', {
  minutes: { type: 'string', default: '60' },
  viewers: { type: 'string', default: '3' },
  every: { type: 'string' },
  dir: { type: 'string' },
  keep: { type: 'string' },
})
const minutes = Number(args.minutes)
const viewerCount = Math.round(Number(args.viewers))
if (!(minutes > 0) || !(viewerCount >= 1 && viewerCount <= 16)) {
  console.error('usage: npm run soak -- --minutes N [--viewers 1..16] [--every seconds] [--dir folder] [--keep 30m]')
  process.exit(2)
}
const everyMs = 1000 * Number(args.every ?? (minutes >= 10 ? 60 : 15))

interface Started { id: string; udp: string; http: string }

class Proc {
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
  out = ''
  errors: string[] = []
  warnings: string[] = []
  private partial = ''

  constructor(readonly name: string, argv: string[]) {
    this.child = spawn(process.execPath, [BIN, ...argv], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } })
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => { this.out += s })
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => this.onStderr(s))
    this.exited = new Promise((res) => this.child.once('exit', (code) => res(code)))
  }

  get pid(): number { return this.child.pid! }

  private onStderr(s: string): void {
    const lines = (this.partial + s).split(/\r?\n|\r/)
    this.partial = lines.pop() ?? ''
    for (const line of lines) {
      if (/^error: /.test(line) || /^\s*at |Error:|Unhandled|uncaught/i.test(line)) this.errors.push(report(this.name, line))
      else if (/^warn: /.test(line) && !EXPECTED_WARNINGS.some((re) => re.test(line))) this.warnings.push(report(this.name, line))
    }
  }

  async firstJson(): Promise<Started> {
    for (let i = 0; i < 600; i++) {
      const nl = this.out.indexOf('\n')
      if (nl >= 0) return JSON.parse(this.out.slice(0, nl)) as Started
      if (this.child.exitCode !== null) break
      await sleep(100)
    }
    throw new Error(`${this.name} printed no JSON line; errors: ${this.errors.join(' | ')}`)
  }
}

/** A viewer's HTTP endpoint played like a player: newest segment seen, stalls, fetch failures. */
class PlayerProbe {
  newest = -1
  lastNewAt = Date.now()
  stalls = 0
  stalled = false
  errors: string[] = []
  ended = false

  constructor(readonly name: string, readonly http: string, readonly id: string) {}

  async poll(): Promise<void> {
    let text: string
    try {
      const res = await fetch(`${this.http}/streams/${this.id}/index.m3u8`, { signal: AbortSignal.timeout(PLAYLIST_TIMEOUT_MS) })
      if (res.status === 503) return
      text = await res.text()
      if (!res.ok) throw new Error(`playlist answered ${res.status}: ${text.slice(0, 100)}`)
    } catch (err) {
      this.errors.push(report(this.name, `playlist: ${(err as Error).message}`))
      return
    }
    const seq = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? NaN)
    const ranges = [...text.matchAll(/#EXT-X-BYTERANGE:(\d+)@(\d+)\n([^\n#]+)\n/g)]
    this.ended = text.includes('#EXT-X-ENDLIST')
    const newest = seq + ranges.length - 1
    if (ranges.length > 0 && newest > this.newest) {
      const [, length, offset, uri] = ranges.at(-1)!
      await this.fetchSegment(uri, Number(offset), Number(length))
      this.newest = newest
      this.lastNewAt = Date.now()
      this.stalled = false
    } else if (!this.ended && !this.stalled && this.newest >= 0 && Date.now() - this.lastNewAt > STALL_MS) {
      this.stalled = true
      this.stalls++
    }
  }

  private async fetchSegment(uri: string, offset: number, length: number): Promise<void> {
    try {
      const res = await fetch(`${this.http}/streams/${this.id}/${uri}`, {
        headers: { range: `bytes=${offset}-${offset + length - 1}` }, signal: AbortSignal.timeout(SEGMENT_TIMEOUT_MS),
      })
      const body = Buffer.from(await res.arrayBuffer())
      if (res.status !== 206 || body.length !== length) throw new Error(`answered ${res.status} with ${body.length} of ${length} bytes`)
    } catch (err) {
      this.errors.push(report(this.name, `segment ${uri} ${offset}+${length}: ${(err as Error).message}`))
    }
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
const started = Date.now()

/** Prints an error or unexpected warning as it happens (the table only counts them) and returns it. */
function report(name: string, text: string): string {
  console.log(`! ${((Date.now() - started) / 60_000).toFixed(1)} min ${name}: ${text.slice(0, 300)}`)
  return text
}

async function rssMiB(pid: number | undefined): Promise<number> {
  if (pid === undefined) return NaN
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : NaN
  } catch { return NaN }
}

async function childPid(pid: number): Promise<number | undefined> {
  try {
    const kids = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim().split(/\s+/).filter(Boolean).map(Number)
    for (const k of kids) if ((await readFile(`/proc/${k}/comm`, 'utf8')).trim() === 'ffmpeg') return k
  } catch { /* gone */ }
  return undefined
}

async function duMiB(dir: string): Promise<number> {
  let total = 0
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, e.name)
      if (e.isDirectory()) await walk(p)
      else total += (await stat(p).catch(() => ({ blocks: 0 }))).blocks * 512
    }
  }
  await walk(dir)
  return total / 2 ** 20
}

const pad = (s: string | number, n: number) => String(s).padStart(n)

async function main(): Promise<void> {
  const build = spawnSync(process.execPath, [join(REPO, 'scripts', 'build.js')], { cwd: REPO, stdio: 'inherit' })
  if (build.status !== 0) throw new Error('npm run build failed')
  const dir = args.dir ? resolve(args.dir) : await mkdtemp(join(tmpdir(), 'cjp2p-soak-'))
  const net = ['--host', '127.0.0.1', '--port', '0', '--http-port', '0']
  const keep = args.keep ? ['--keep', args.keep] : []
  const source = new Proc('source', ['ingest', 'testsrc', '--name', 'soak', '--json', ...net, '--dir', join(dir, 'source')])
  const src = await source.firstJson()
  const viewers: Proc[] = []
  const probes: PlayerProbe[] = []
  for (let i = 1; i <= viewerCount; i++) {
    const v = new Proc(`viewer${i}`, ['watch', src.id, '--peer', src.udp, '--json', ...net, ...keep, '--dir', join(dir, `viewer${i}`)])
    viewers.push(v)
    probes.push(new PlayerProbe(v.name, (await v.firstJson()).http, src.id))
  }
  const sourceProbe = new PlayerProbe('source', src.http, src.id)
  const procs = [source, ...viewers]
  console.log(`soak: ${minutes} min, ${viewerCount} viewers, stream ${src.id}, data in ${dir}`)
  const head = ['min', 'segments', 'stalls', 'errors', 'warnings', 'src MiB', 'ffmpeg', ...viewers.map((v) => `${v.name.replace('viewer', 'v')} MiB`), 'v1 disk', 'src run']
  console.log(head.map((h) => pad(h, Math.max(8, h.length))).join(' '))
  const rss = new Map<string, Array<{ t: number; mib: number }>>()
  const t0 = Date.now()
  let stop = false
  const onSignal = () => { stop = true }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const exitedEarly: string[] = []
  for (const p of procs) void p.exited.then((code) => { if (!stop) exitedEarly.push(`${p.name} exited with ${code}`) })

  const polling = (async () => {
    while (!stop) {
      await Promise.all([...probes, sourceProbe].map((p) => p.poll()))
      await sleep(POLL_MS)
    }
  })()
  const errors = () => procs.reduce((n, p) => n + p.errors.length, 0) + probes.reduce((n, p) => n + p.errors.length, 0) +
    sourceProbe.errors.length + exitedEarly.length
  const warnings = () => procs.reduce((n, p) => n + p.warnings.length, 0)
  let nextRow = t0 + everyMs
  while (!stop && Date.now() - t0 < minutes * 60_000 && exitedEarly.length === 0) {
    await sleep(Math.max(0, Math.min(nextRow, t0 + minutes * 60_000) - Date.now()))
    if (Date.now() < nextRow && Date.now() - t0 < minutes * 60_000) continue
    nextRow += everyMs
    const t = (Date.now() - t0) / 60_000
    const ff = await childPid(source.pid)
    const mibs = await Promise.all([source.pid, ff, ...viewers.map((v) => v.pid)].map(rssMiB))
    ;['source', 'ffmpeg', ...viewers.map((v) => v.name)].forEach((name, i) => {
      if (!rss.has(name)) rss.set(name, [])
      if (Number.isFinite(mibs[i])) rss.get(name)!.push({ t, mib: mibs[i] })
    })
    const row = [t.toFixed(1), sourceProbe.newest + 1, probes.reduce((n, p) => n + p.stalls, 0), errors(), warnings(),
      ...mibs.map((m) => m.toFixed(1)), (await duMiB(join(dir, 'viewer1'))).toFixed(0), (await duMiB(join(dir, 'source', 'ingest'))).toFixed(0)]
    console.log(row.map((c, i) => pad(c, Math.max(8, head[i].length))).join(' '))
  }
  stop = true
  await polling

  // The end of a stream is part of the soak: Ctrl-C the source, let viewers see ENDLIST, then them.
  source.child.kill('SIGINT')
  const sourceCode = await Promise.race([source.exited, sleep(20_000).then(() => 'timeout')])
  const endDeadline = Date.now() + 15_000
  while (Date.now() < endDeadline && !probes.every((p) => p.ended)) {
    await Promise.all(probes.map((p) => p.poll()))
    await sleep(POLL_MS)
  }
  for (const v of viewers) v.child.kill('SIGINT')
  const viewerCodes = await Promise.all(viewers.map((v) => Promise.race([v.exited, sleep(20_000).then(() => 'timeout')])))
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL')

  const problems: string[] = []
  if (sourceCode !== 0) problems.push(`source exited with ${sourceCode} after SIGINT`)
  viewerCodes.forEach((c, i) => { if (c !== 0) problems.push(`viewer${i + 1} exited with ${c} after SIGINT`) })
  const unended = probes.filter((p) => !p.ended).map((p) => p.name)
  if (unended.length) problems.push(`no ENDLIST at ${unended.join(', ')}`)
  problems.push(...exitedEarly)
  for (const p of [...procs, ...probes, sourceProbe]) problems.push(...p.errors.slice(0, 5).map((e) => `error ${p.name}: ${e}`))
  for (const p of procs) problems.push(...p.warnings.slice(0, 5).map((w) => `unexpected warning ${p.name}: ${w}`))
  const elapsed = (Date.now() - t0) / 60_000
  console.log(`\nafter ${elapsed.toFixed(1)} min: ${sourceProbe.newest + 1} segments, ${probes.reduce((n, p) => n + p.stalls, 0)} stalls, ` +
    `${errors()} errors, ${warnings()} unexpected warnings`)
  if (elapsed >= 30) {
    for (const [name, samples] of rss) {
      const avg = (from: number, to: number) => {
        const s = samples.filter((x) => x.t >= from && x.t <= to)
        return s.reduce((a, x) => a + x.mib, 0) / Math.max(1, s.length)
      }
      const early = avg(10, 20)
      const late = avg(elapsed - 10, elapsed)
      const change = (late - early) / early
      console.log(`memory ${name}: minutes 10-20 ${early.toFixed(1)} MiB, last 10 ${late.toFixed(1)} MiB (${(100 * change).toFixed(1)} %)`)
      if (Math.abs(change) > 0.10) problems.push(`memory of ${name} moved ${(100 * change).toFixed(1)} % (limit 10 %)`)
    }
  } else {
    console.log('memory: run 30 minutes or more to judge flatness (minutes 10-20 against the last 10)')
  }
  for (const p of problems) console.log(`FAIL ${p}`)
  console.log(problems.length === 0 ? 'PASS' : `FAIL (${problems.length} problems)`)
  if (!args.dir) await rm(dir, { recursive: true, force: true })
  process.exit(problems.length === 0 ? 0 : 1)
}

await main()
