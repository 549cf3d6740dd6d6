// File transfer benchmark over loopback UDP, every peer in its own process. Prints, in one run,
// MiB/s, CPU seconds per MiB on each side and peak RSS for:
//   ours -> ours, 3 of ours -> ours (each also by `blake3/` id), a classic peer (4096-byte blocks, no extension) -> ours, the same
//   serving 40 KiB answers as the Rust node does when asked -> ours,
//   ours -> a classic getter, the real Ruby client both ways (with --ruby <cjp2p.rb>), and a big
//   file from one seeder (memory must stay flat).
// The classic peer is scripts/classic-peer.ts. Start-up (process spawn to a bound node) is measured
// apart from the transfer. The workers run under tsx (a bench loader, ~0.3 s of start-up users never
// pay), so the row "ours -> built CLI `get`" runs the command users run (bin/cjp2p-stream -> dist/,
// built first as `npm run build`) and times it from spawn to exit: start-up included.
//   npm run bench:files [-- --mib 64] [--big-mib 1024] [--ruby path/to/cjp2p.rb] [--only ours] [--reps 3]
// With --reps N every 64 MiB row is run N times and each column shows its median (a shared machine
// makes single runs vary by 2x).
// BENCH_PROF=<dir> writes a V8 CPU profile of every worker there.
import { fork, spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream, existsSync, readFileSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os, { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { scriptFlags } from './script-args.ts'
import dgram from 'node:dgram'

const MIB = 1024 * 1024
const USAGE = 'npm run bench:files [-- --mib 64] [--big-mib 1024 (0 = no big row)] [--ruby path/to/cjp2p.rb] [--only <text in a row name>] [--reps 3]'
const args = scriptFlags('bench:files', USAGE, {
  mib: { type: 'string', default: '64' }, 'big-mib': { type: 'string', default: '1024' },
  ruby: { type: 'string' }, only: { type: 'string' }, reps: { type: 'string', default: '1' },
})
const reps = Math.max(1, Number(args.reps))
const sizeMiB = Number(args.mib)
const bigMiB = Number(args['big-mib'])
const WORKER = new URL('./file-node-worker.ts', import.meta.url).pathname
const REPO = resolve(import.meta.dirname, '..')

type Mode = 'ours' | 'classic' | 'classic-40k'
interface Worker { proc: ChildProcess; address: string; startupMs: number; call(m: object): Promise<Record<string, unknown>> }

async function spawnWorker(dir: string, mode: Mode): Promise<Worker> {
  const t0 = performance.now()
  const prof = process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : []
  const proc = fork(WORKER, [dir, mode], { execArgv: [...prof, '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let waiting: ((m: Record<string, unknown>) => void) | undefined
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    proc.once('error', reject)
    proc.once('exit', (code) => reject(new Error(`worker exited with ${code}`)))
    proc.on('message', (m: Record<string, unknown>) => {
      if (m.ready) resolve(m)
      else { const w = waiting; waiting = undefined; w?.(m) }
    })
  })
  const call = (m: object) => new Promise<Record<string, unknown>>((resolve, reject) => {
    waiting = (r) => (r.ok ? resolve(r) : reject(new Error(String(r.error))))
    proc.send(m)
  })
  return { proc, address: ready.address as string, startupMs: performance.now() - t0, call }
}

async function stop(w: Worker): Promise<void> {
  if (w.proc.exitCode !== null) return
  const exited = new Promise((r) => w.proc.once('exit', r))
  w.proc.send({ cmd: 'exit' })
  const t = setTimeout(() => w.proc.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(t)
}

interface Row { scenario: string; 'MiB/s': string; 'transfer s': string; 'get CPU s/MiB': string; 'seed CPU s/MiB': string; 'get peak RSS MiB': string; 'seed peak RSS MiB': string }
type Figures = [mib: number, seconds: number, getCpu: number, seedCpu: number, getRss: number, seedRss: number]
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2 }

/** Runs a scenario `reps` times; the row holds each figure's median (MiB/s from the median time). */
async function repeated(name: string, run: () => Promise<Figures>): Promise<Row> {
  const runs: Figures[] = []
  for (let i = 0; i < reps; i++) runs.push(await run())
  const col = (k: number) => median(runs.map((r) => r[k]))
  return row(reps > 1 ? `${name} (median of ${reps})` : name, col(0), col(1), col(2), col(3), col(4), col(5))
}

const row = (scenario: string, mib: number, seconds: number, getCpu: number, seedCpu: number, getRss: number, seedRss: number): Row => ({
  scenario, 'MiB/s': (mib / seconds).toFixed(1), 'transfer s': seconds.toFixed(2),
  'get CPU s/MiB': (getCpu / mib).toFixed(4), 'seed CPU s/MiB': (seedCpu / mib).toFixed(4),
  'get peak RSS MiB': getRss.toFixed(0), 'seed peak RSS MiB': seedRss.toFixed(0),
})

async function scenario(name: string, root: string, file: string, mib: number, seeders: Mode[], getterMode: Mode, startups?: number[], byBlake3 = false): Promise<Figures> {
  const workers: Worker[] = []
  try {
    for (const [i, m] of seeders.entries()) workers.push(await spawnWorker(await mkdtemp(join(root, `seed${i}-`)), m))
    let id = ''
    for (const w of workers) { const shared = await w.call({ cmd: 'share', path: file }); id = (byBlake3 ? shared.blake3 : shared.id) as string }
    const before = await Promise.all(workers.map((w) => w.call({ cmd: 'stats' })))
    const getter = await spawnWorker(await mkdtemp(join(root, 'get-')), getterMode)
    workers.push(getter)
    const got = await getter.call({ cmd: 'get', id, peers: workers.slice(0, seeders.length).map((w) => w.address) })
    const after = await Promise.all(workers.slice(0, seeders.length).map((w) => w.call({ cmd: 'stats' })))
    const seedCpu = after.reduce((n, s, i) => n + (s.cpuSeconds as number) - (before[i].cpuSeconds as number), 0)
    const seedRss = Math.max(...after.map((s) => s.peakRssMiB as number))
    if (process.env.BENCH_VERBOSE) console.error(name, JSON.stringify((got.result as { stats?: unknown }).stats))
    startups?.push(getter.startupMs)
    return [mib, got.seconds as number, got.cpuSeconds as number, seedCpu, got.peakRssMiB as number, seedRss]
  } finally {
    await Promise.all(workers.map(stop))
  }
}

/** Our seeder (a worker) -> `cjp2p-stream get` as users run it (the built bin/, no loader), timed
 * from spawn to exit. Its CPU and peak RSS come from GNU time (`/usr/bin/time`), which reads them
 * from wait4 when the command exits. */
async function cliGet(root: string, file: string, mib: number): Promise<Figures> {
  const seeder = await spawnWorker(await mkdtemp(join(root, 'seed-')), 'ours')
  try {
    const id = (await seeder.call({ cmd: 'share', path: file })).id as string
    const before = await seeder.call({ cmd: 'stats' })
    const dir = await mkdtemp(join(root, 'cli-get-'))
    const timeOut = join(dir, 'time.txt')
    const cmd = [join(REPO, 'bin', 'cjp2p-stream'), 'get', '--host', '127.0.0.1', '--port', '0', '--http-port', '0', '--peer', seeder.address, '--dir', dir, '--log-level', 'warn', id]
    const t0 = performance.now()
    const child = spawn('/usr/bin/time', ['-o', timeOut, '-f', '%M %U %S', process.execPath, ...cmd], { stdio: ['ignore', 'ignore', 'inherit'] })
    const code = await new Promise<number | null>((r, reject) => { child.once('error', reject); child.once('exit', r) })
    const seconds = (performance.now() - t0) / 1000
    const after = await seeder.call({ cmd: 'stats' })
    if (code !== 0) throw new Error(`cjp2p-stream get exited with ${code}`)
    const got = join(dir, 'shared', id)
    if (!existsSync(got) || createHash('sha256').update(await readFile(got)).digest('hex') !== id) throw new Error('built CLI get: the file did not arrive intact')
    const [rssKiB, user, sys] = (await readFile(timeOut, 'utf8')).trim().split('\n').at(-1)!.split(' ').map(Number)
    return [mib, seconds, user + sys, (after.cpuSeconds as number) - (before.cpuSeconds as number), rssKiB / 1024, after.peakRssMiB as number]
  } finally { await stop(seeder) }
}

// --- the real Ruby client (manual check; its script is not part of this project) ---

async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))
  const port = s.address().port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

/** A copy of the Ruby client that binds a free loopback port and knows only `peer` (its built-in
 * peer list and fixed port are replaced), or undefined if the script does not look as expected. */
async function rubyScript(dir: string, port: number, peer?: string): Promise<string | undefined> {
  let src = await readFile(args.ruby!, 'utf8')
  const peers = /\[\s*\n(?:\s*\['[^']*',\s*\d+\],?\s*\n)+\s*\]\.each do \|host, port\|/
  const bind = /\$socket\.bind\('[^']*',\s*\d+\)/
  if (!peers.test(src) || !bind.test(src)) return undefined
  const [h, p] = peer ? [peer.slice(0, peer.lastIndexOf(':')), peer.slice(peer.lastIndexOf(':') + 1)] : []
  src = src.replace(peers, `[\n${peer ? `  ['${h}', ${p}]\n` : ''}].each do |host, port|`).replace(bind, `$socket.bind('127.0.0.1', ${port})`)
  const path = join(dir, 'cjp2p.rb')
  await writeFile(path, src)
  return path
}

/** CPU seconds a child used so far (utime + stime from /proc, in clock ticks of 1/100 s on Linux). */
function cpuOfPid(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(f[11]) + Number(f[12])) / 100
  } catch { return NaN }
}

async function rubyRuns(root: string, file: string, id: string, mib: number): Promise<Row[]> {
  if (!await rubyScript(root, await freePort())) return [{ ...row('Ruby client: script not recognised, skipped', 1, 1, 0, 0, 0, 0) }]
  return [await repeated('Ruby client -> ours', () => rubySeeds(root, file, id, mib)), await repeated('ours -> Ruby client', () => rubyGets(root, file, id, mib))]
}

/** Ruby seeds, ours gets. */
async function rubySeeds(root: string, file: string, id: string, mib: number): Promise<Figures> {
  const dir = await mkdtemp(join(root, 'ruby-seed-'))
  await mkdir(join(dir, 'shared'), { recursive: true })
  await copyFile(file, join(dir, 'shared', id))
  const port = await freePort()
  const script = (await rubyScript(dir, port))!
  const ruby = spawn('ruby', [script], { cwd: dir, stdio: 'ignore' })
  try {
    await new Promise((r) => setTimeout(r, 500))
    const getter = await spawnWorker(await mkdtemp(join(root, 'get-')), 'ours')
    try {
      const got = await getter.call({ cmd: 'get', id, peers: [`127.0.0.1:${port}`] })
      return [mib, got.seconds as number, got.cpuSeconds as number, cpuOfPid(ruby.pid!), got.peakRssMiB as number, NaN]
    } finally { await stop(getter) }
  } finally { ruby.kill('SIGKILL') }
}

/** Ours seeds, Ruby gets (it never exits: done when the file lands in its shared/). */
async function rubyGets(root: string, file: string, id: string, mib: number): Promise<Figures> {
  const seeder = await spawnWorker(await mkdtemp(join(root, 'seed-')), 'ours')
  const dir = await mkdtemp(join(root, 'ruby-get-'))
  try {
    await seeder.call({ cmd: 'share', path: file })
    const before = await seeder.call({ cmd: 'stats' })
    const script = (await rubyScript(dir, await freePort(), seeder.address))!
    const t0 = performance.now()
    const ruby = spawn('ruby', [script, id], { cwd: dir, stdio: 'ignore' })
    try {
      const target = join(dir, 'shared', id)
      while (!existsSync(target) && performance.now() - t0 < 300_000) await new Promise((r) => setTimeout(r, 20))
      const seconds = (performance.now() - t0) / 1000
      const ok = existsSync(target) && createHash('sha256').update(await readFile(target)).digest('hex') === id
      const after = await seeder.call({ cmd: 'stats' })
      if (!ok) throw new Error('ours -> Ruby client: the file did not arrive intact')
      return [mib, seconds, cpuOfPid(ruby.pid!), (after.cpuSeconds as number) - (before.cpuSeconds as number), NaN, after.peakRssMiB as number]
    } finally { ruby.kill('SIGKILL') }
  } finally { await stop(seeder) }
}

async function randomFile(path: string, mib: number): Promise<void> {
  const out = createWriteStream(path)
  for (let i = 0; i < mib; i++) if (!out.write(randomBytes(MIB))) await new Promise<void>((r) => out.once('drain', () => r()))
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())))
}

const root = await mkdtemp(join(tmpdir(), 'cjp2p-bench-files-'))
try {
  const file = join(root, 'random.bin')
  await randomFile(file, sizeMiB)
  const id = createHash('sha256').update(await readFile(file)).digest('hex')
  const rows: Row[] = []
  const startups: number[] = []
  const want = (s: string) => !args.only || s.includes(args.only)
  const plan: [string, Mode[], Mode, boolean?][] = [
    ['ours -> ours', ['ours'], 'ours'],
    ['3 of ours -> ours', ['ours', 'ours', 'ours'], 'ours'],
    ['ours -> ours, blake3/ id (tree first, every block checked)', ['ours'], 'ours', true],
    ['3 of ours -> ours, blake3/ id', ['ours', 'ours', 'ours'], 'ours', true],
    ['classic peer (emulated) -> ours', ['classic'], 'ours'],
    ['classic peer, 40 KiB answers (Rust clamp, emulated) -> ours', ['classic-40k'], 'ours'],
    ['ours -> classic getter (emulated)', ['ours'], 'classic'],
  ]
  for (const [name, seeders, getter, byBlake3] of plan) {
    if (!want(name)) continue
    rows.push(await repeated(name, () => scenario(name, root, file, sizeMiB, seeders, getter, getter === 'ours' ? startups : undefined, byBlake3)))
  }
  const cliName = 'ours -> built CLI `get`, wall from spawn to exit (start-up included)'
  if (want(cliName)) {
    const build = spawnSync(process.execPath, [join(REPO, 'scripts', 'build.js')], { cwd: REPO, stdio: 'inherit' })
    if (build.status !== 0) throw new Error('npm run build failed')
    rows.push(await repeated(cliName, () => cliGet(root, file, sizeMiB)))
  }
  if (args.ruby && want('Ruby')) rows.push(...await rubyRuns(root, file, id, sizeMiB))
  if (bigMiB > 0 && want('big')) {
    const big = join(root, 'big.bin')
    await rm(file)
    await randomFile(big, bigMiB)
    rows.push(row(`ours -> ours, ${bigMiB} MiB`, ...await scenario('big', root, big, bigMiB, ['ours'], 'ours')))
  }
  console.log(`${sizeMiB} MiB file over loopback UDP on ${os.cpus().length} CPUs; each peer its own process; classic = 4096-byte blocks, no extension (its getter asks one block per datagram)`)
  console.table(rows)
  startups.sort((a, b) => a - b)
  if (startups.length) console.log(`getter start-up (fork to a bound node, under tsx; the built CLI row has no such loader): median ${startups[startups.length >> 1].toFixed(0)} ms; not included in 'transfer s'`)
  if (!args.ruby) console.log('Ruby client rows: pass --ruby <path to cjp2p.rb> (and have ruby installed)')
} finally {
  await rm(root, { recursive: true, force: true })
}
