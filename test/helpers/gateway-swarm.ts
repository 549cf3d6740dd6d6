// The gateway scenario for tests and `npm run bench:gateway`: a ~48 MiB faststart MP4 made with
// ffmpeg, shared by three seeders (real `cjp2p-stream node` processes), and gateway nodes that
// have none of it (gateway-node-main.ts processes, optionally with a slow downlink).
import { spawn, execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { TestContext } from 'node:test'
import { CliProcess, REPO, loopbackFlags, runCli, startCli } from './cli-process.ts'

const run = promisify(execFile)
const GATEWAY_MAIN = join(REPO, 'test', 'helpers', 'gateway-node-main.ts')
export const MP4_SECONDS = 60

/** Something that runs cleanups at the end (a TestContext, or the benchmark's own list). */
export type Cleanup = Pick<TestContext, 'after'>

/** The test video: testsrc with noise (so it does not compress to nothing) and a tone, 60 s at
 * about 6.5 Mb/s (~48 MiB), moov first. Made once per machine and reused (it is deterministic). */
export async function makeMp4(): Promise<string> {
  const file = join(tmpdir(), 'cjp2p-gateway-fixture-60s-v1.mp4')
  if (existsSync(file) && (await stat(file)).size > 40 * 2 ** 20) return file
  const tmp = `${file}.${process.pid}.tmp.mp4`
  await run('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=1280x720:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440',
    '-t', String(MP4_SECONDS), '-vf', 'noise=alls=12:allf=t', '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '6700k', '-maxrate', '7000k',
    '-bufsize', '2M', '-g', '50', '-c:a', 'aac', '-b:a', '64k', '-movflags', '+faststart', tmp], { timeout: 180_000 })
  await run('mv', [tmp, file])
  return file
}

export interface Seeders { id: string; udp: string[]; http: string[]; dirs: string[] }

/** `share` the file into n folders and run a `node` on each, all n at once (each is a process
 * start and a hash of the file, mostly waiting on the other). */
export async function startSeeders(t: Cleanup, dir: string, file: string, n = 3): Promise<Seeders> {
  const seeders = await Promise.all(Array.from({ length: n }, async (_, i) => {
    const d = join(dir, `seeder-${i}`)
    const shared = await runCli(['share', file, '--dir', d])
    if (shared.code !== 0) throw new Error(`share failed: ${shared.stderr}`)
    const node = startCli(t as TestContext, ['node', '--json', ...loopbackFlags(d)])
    const info = await node.firstJson<{ udp: string; http: string }>()
    return { id: shared.stdout.split('\n')[0], udp: info.udp, http: info.http, dir: d }
  }))
  return { id: seeders[0].id, udp: seeders.map((s) => s.udp), http: seeders.map((s) => s.http), dirs: seeders.map((s) => s.dir) }
}

export interface GatewayNode { proc: CliProcess; http: string; udp: string; dir: string }

/** A node with none of the file (or what an earlier run left in `dir`), knowing the seeders. */
export async function startGateway(t: Cleanup, dir: string, peers: string[], opts: { bytesPerSecond?: number; verifiedOnly?: boolean } = {}): Promise<GatewayNode> {
  const args = JSON.stringify({ dir, peers, ...opts })
  const proc = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), GATEWAY_MAIN, args], {
    cwd: REPO, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  })
  const p = new CliProcess(['gateway-node', args], proc)
  t.after(() => p.stop())
  const info = await p.firstJson<{ udp: string; http: string }>()
  return { proc: p, http: info.http, udp: info.udp, dir }
}

/** Runs a command, timing it from spawn to exit. */
export async function timed(cmd: string, args: string[], timeoutMs = 60_000): Promise<{ ms: number; code: number | null; stdout: string; stderr: string }> {
  const t0 = performance.now()
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr = (stderr + s).slice(-8000) })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('close', (code) => { clearTimeout(timer); resolve({ ms: performance.now() - t0, code, stdout, stderr }) })
  })
}

/** Set bits in an incoming/<id>.blocks sidecar: blocks durable on disk. */
export async function durableBlocks(file: string): Promise<number> {
  const { readFile } = await import('node:fs/promises')
  const b = await readFile(file).catch(() => null)
  if (!b || b.length <= 16) return 0
  let n = 0
  for (let i = 16; i < b.length; i++) for (let v = b[i]; v; v &= v - 1) n++
  return n
}

export const ffprobeArgs = (url: string) => ['-v', 'error', '-show_entries', 'format=duration,size:stream=codec_name', '-of', 'json', url]
export const firstFrameArgs = (url: string, out: string) => ['-v', 'error', '-y', '-i', url, '-frames:v', '1', out]
export const midFrameArgs = (url: string, out: string) => ['-v', 'error', '-y', '-ss', String(MP4_SECONDS / 2), '-i', url, '-frames:v', '1', out]
export const mpvArgs = (url: string, start = 0) => ['--no-config', '--vo=null', '--ao=null', '--length=3', `--start=${start}`, '--msg-level=all=error,cplayer=v', url]
export const MPV = '/usr/bin/mpv'

/** mpv plays 3 s from `start`; `restartMs` is spawn to its first "playback restart" (the first
 * frame decoded and playing, after the seek when start > 0). */
export async function mpvPlay(url: string, start = 0): Promise<{ code: number | null; ms: number; restartMs: number | null; stderr: string }> {
  const t0 = performance.now()
  let restartMs: number | null = null
  return new Promise((resolve) => {
    const child = spawn(MPV, mpvArgs(url, start), { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    const see = (s: string) => {
      out = (out + s).slice(-20000)
      if (restartMs === null && out.includes('playback restart complete')) restartMs = performance.now() - t0
    }
    child.stdout.setEncoding('utf8').on('data', see)
    child.stderr.setEncoding('utf8').on('data', see)
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, ms: performance.now() - t0, restartMs, stderr: out.slice(-2000) }) })
  })
}
