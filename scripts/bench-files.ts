// File transfer benchmark: a 64 MiB random file seeded by 1 and by 3 seeder processes on loopback,
// downloaded by another process. Prints throughput, CPU seconds per MiB on each side and peak RSS.
// BENCH_VERBOSE=1 also prints the downloader's request stats; BENCH_PROF=<dir> writes CPU profiles.
//   npm run bench:files [-- --mib 64]
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os, { tmpdir } from 'node:os'
import { join } from 'node:path'

const MIB = 1024 * 1024
const argMib = process.argv.indexOf('--mib')
const sizeMiB = argMib > 0 ? Number(process.argv[argMib + 1]) : 64
const WORKER = new URL('./file-node-worker.ts', import.meta.url).pathname

interface Worker { proc: ChildProcess; address: string; call(m: object): Promise<Record<string, unknown>> }

async function spawnWorker(dir: string, ours: boolean): Promise<Worker> {
  // BENCH_PROF=<dir> writes a V8 CPU profile of every worker there (open in Chrome DevTools).
  const prof = process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : []
  const proc = fork(WORKER, ours ? [dir, 'ours'] : [dir], { execArgv: [...prof, '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let waiting: ((m: Record<string, unknown>) => void) | undefined
  const address = await new Promise<string>((resolve, reject) => {
    proc.once('error', reject)
    proc.once('exit', (code) => reject(new Error(`worker exited with ${code}`)))
    proc.on('message', (m: Record<string, unknown>) => {
      if (m.ready) resolve(m.address as string)
      else { const w = waiting; waiting = undefined; w?.(m) }
    })
  })
  const call = (m: object) => new Promise<Record<string, unknown>>((resolve, reject) => {
    waiting = (r) => (r.ok ? resolve(r) : reject(new Error(String(r.error))))
    proc.send(m)
  })
  return { proc, address, call }
}

async function stop(w: Worker): Promise<void> {
  if (w.proc.exitCode !== null) return
  const exited = new Promise((r) => w.proc.once('exit', r))
  w.proc.send({ cmd: 'exit' })
  const t = setTimeout(() => w.proc.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(t)
}

/** `ours`: every node knows the others speak our extension, so requests are batched and answers
 * carry 40 KiB (loopback carries such datagrams; the internet would fragment them). */
async function scenario(root: string, file: string, seeders: number, ours: boolean) {
  const workers: Worker[] = []
  try {
    for (let i = 0; i < seeders; i++) workers.push(await spawnWorker(await mkdtemp(join(root, `seed${i}-`)), ours))
    let id = ''
    for (const w of workers) id = (await w.call({ cmd: 'share', path: file })).id as string
    const seedBefore = await Promise.all(workers.map((w) => w.call({ cmd: 'stats' })))
    const getter = await spawnWorker(await mkdtemp(join(root, 'get-')), ours)
    workers.push(getter)
    if (ours) {
      for (const w of workers.slice(0, seeders)) {
        await w.call({ cmd: 'ours', addr: getter.address })
        await getter.call({ cmd: 'ours', addr: w.address })
      }
    }
    const t0 = process.hrtime.bigint()
    const got = await getter.call({ cmd: 'get', id, peers: workers.slice(0, seeders).map((w) => w.address) })
    if (process.env.BENCH_VERBOSE) console.error(JSON.stringify((got.result as { stats: unknown }).stats), JSON.stringify(got.node))
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9
    const seedAfter = await Promise.all(workers.slice(0, seeders).map((w) => w.call({ cmd: 'stats' })))
    const seedCpu = seedAfter.reduce((n, s, i) => n + (s.cpuSeconds as number) - (seedBefore[i].cpuSeconds as number), 0)
    const seedRss = Math.max(...seedAfter.map((s) => s.peakRssMiB as number))
    return {
      scenario: `${seeders} seeder${seeders > 1 ? 's' : ''}${ours ? ', our peers (40 KiB)' : ''}`,
      'MiB/s': (sizeMiB / seconds).toFixed(1),
      'get CPU s/MiB': ((got.cpuSeconds as number) / sizeMiB).toFixed(4),
      'seed CPU s/MiB': (seedCpu / sizeMiB).toFixed(4),
      'get peak RSS MiB': (got.peakRssMiB as number).toFixed(0),
      'seed peak RSS MiB': seedRss.toFixed(0),
    }
  } finally {
    await Promise.all(workers.map(stop))
  }
}

const root = await mkdtemp(join(tmpdir(), 'cjp2p-bench-files-'))
try {
  const file = join(root, 'random.bin')
  await writeFile(file, randomBytes(sizeMiB * MIB))
  const rows = []
  for (const ours of [false, true]) for (const n of [1, 3]) rows.push(await scenario(root, file, n, ours))
  console.log(`${sizeMiB} MiB file over loopback UDP on ${os.cpus().length} CPUs; 4096-byte blocks unless noted`)
  console.table(rows)
} finally {
  await rm(root, { recursive: true, force: true })
}
