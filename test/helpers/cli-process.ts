// Runs the real command as child processes for end-to-end tests: the sources (src/main.ts) through
// tsx, so a test sees the code as it is now, not the last build in dist/; under scripts/run-tests.js,
// which builds dist/ first, bin/ (test/e2e/cli-package.test.ts checks the built package). Every process gets
// its own process group (so ffmpeg started by `ingest` dies with it), its stderr is kept for the
// failure message, and t.after stops it: SIGTERM first (a clean shutdown is part of what we test),
// SIGKILL to the whole group if it lingers. A process-exit hook kills whatever a crashed test left.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { TestContext } from 'node:test'

export const REPO = resolve(import.meta.dirname, '..', '..')
export const BIN = join(REPO, 'bin', 'cjp2p-stream')
/** The node arguments that run the command from source (tsx by URL: a test's cwd may be anywhere). */
export const CLI_FROM_SOURCE = ['--import', import.meta.resolve('tsx'), join(REPO, 'src', 'main.ts')]
/** What the tests run: the sources, unless scripts/run-tests.js has just built dist/ from them
 * (CJP2P_TEST_CLI=dist): then bin/ as users run it, which starts in ~0.5 s where tsx takes ~1.5 s
 * (it transforms and loads ~190 modules), over the hundreds of commands the suite starts. */
export const CLI = process.env.CJP2P_TEST_CLI === 'dist' ? [BIN] : CLI_FROM_SOURCE
/** Time a clean SIGTERM shutdown may take on a busy 2-core machine before we SIGKILL. */
const STOP_GRACE_MS = 8000
/** tsx compiles the sources on first start; a loaded machine needs a while. */
const READY_TIMEOUT_MS = 30_000
/** Kept stderr per process: enough for the last log lines of a failure. */
const MAX_STDERR_CHARS = 64 * 1024

const live = new Set<CliProcess>()
/** Stream keys go to $XDG_DATA_HOME unless --dir or --key says otherwise: never the real home's. */
const DATA_HOME = mkdtempSync(join(tmpdir(), 'cjp2p-test-xdg-'))
process.on('exit', () => {
  for (const p of live) killGroup(p.proc, 'SIGKILL')
  rmSync(DATA_HOME, { recursive: true, force: true })
})

function killGroup(p: ChildProcess, sig: NodeJS.Signals): void {
  if (p.pid === undefined) return
  try { process.kill(-p.pid, sig) } catch { /* already gone */ }
}

export interface Exit { code: number | null; signal: NodeJS.Signals | null }

export interface CliOptions {
  env?: Record<string, string | undefined>
  cwd?: string
  /** Give up on the first JSON line after this long. */
  readyTimeoutMs?: number
}

export class CliProcess {
  readonly exited: Promise<Exit>
  exit: Exit | null = null
  private out = ''
  private err = ''

  constructor(readonly args: string[], readonly proc: ChildProcess) {
    live.add(this)
    proc.stdout!.setEncoding('utf8').on('data', (s: string) => { this.out += s })
    proc.stderr!.setEncoding('utf8').on('data', (s: string) => {
      this.err += s
      if (this.err.length > MAX_STDERR_CHARS) this.err = this.err.slice(-MAX_STDERR_CHARS / 2)
    })
    this.exited = new Promise((res) => proc.once('close', (code, signal) => {
      live.delete(this)
      // Anything the process started (ffmpeg) goes with it.
      killGroup(proc, 'SIGKILL')
      this.exit = { code, signal }
      res(this.exit)
    }))
  }

  get pid(): number { return this.proc.pid! }
  get stdout(): string { return this.out }
  get stderr(): string { return this.err }

  /** The first complete stdout line parsed as JSON (the `--json` contract of long-running commands). */
  async firstJson<T = Record<string, unknown>>(timeoutMs = READY_TIMEOUT_MS): Promise<T> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const nl = this.out.indexOf('\n')
      if (nl >= 0) return JSON.parse(this.out.slice(0, nl)) as T
      if (this.exit) break
      await sleep(50)
    }
    throw new Error(`${this.describe()} printed no JSON line ${this.exit ? `(exited ${JSON.stringify(this.exit)})` : `in ${timeoutMs} ms`}; stderr:\n${this.err.slice(-4000)}`)
  }

  /** SIGTERM and wait; SIGKILL the group after the grace period. Idempotent. */
  async stop(sig: NodeJS.Signals = 'SIGTERM', graceMs = STOP_GRACE_MS): Promise<Exit> {
    if (this.exit) return this.exit
    try { this.proc.kill(sig) } catch { /* gone */ }
    const timer = setTimeout(() => killGroup(this.proc, 'SIGKILL'), graceMs)
    const e = await this.exited
    clearTimeout(timer)
    return e
  }

  /** kill -9 of the process and everything it started, as a user's `kill -9` (or a power cut) would. */
  async kill9(): Promise<Exit> {
    killGroup(this.proc, 'SIGKILL')
    return this.exited
  }

  describe(): string { return `cjp2p-stream ${this.args.join(' ')}`.slice(0, 200) }
}

/** The CLI as a child in its own process group (so its ffmpeg dies with it). */
function spawnCli(args: string[], opts: CliOptions): CliProcess {
  const proc = spawn(process.execPath, [...CLI, ...args], {
    cwd: opts.cwd ?? REPO,
    env: { ...process.env, NO_COLOR: '1', XDG_DATA_HOME: DATA_HOME, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  return new CliProcess(args, proc)
}

/** Starts a long-running command; t.after stops it. */
export function startCli(t: TestContext, args: string[], opts: CliOptions = {}): CliProcess {
  const p = spawnCli(args, opts)
  t.after(() => p.stop())
  return p
}

/** Runs a command to completion (killed after timeoutMs) and returns its exit and output. */
export async function runCli(args: string[], opts: CliOptions & { timeoutMs?: number } = {}): Promise<Exit & { stdout: string; stderr: string }> {
  const p = spawnCli(args, opts)
  const timer = setTimeout(() => killGroup(p.proc, 'SIGKILL'), opts.timeoutMs ?? 60_000)
  const e = await p.exited
  clearTimeout(timer)
  return { ...e, stdout: p.stdout, stderr: p.stderr }
}

/** A temp folder removed after the test, once every CLI process has stopped. */
export async function tempDir(t: TestContext, prefix = 'cjp2p-cli-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix))
  // Hooks run in registration order, so the folder is made before (and its hook runs before) the
  // processes using it are stopped: stop them first, then remove it.
  t.after(async () => {
    await Promise.all([...live].map((p) => p.stop()))
    await rm(d, { recursive: true, force: true, maxRetries: 3 })
  })
  return d
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Polls until probe returns a truthy value; the error names what we waited for and the last value. */
export async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const v = await probe()
      if (v) return v
      last = v
    } catch (err) { last = err }
    await sleep(everyMs)
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`)
}

/** Common flags for a node process on loopback with a free port. */
export function loopbackFlags(dir: string, extra: { httpPort?: number | null } = {}): string[] {
  const http = extra.httpPort === null ? [] : ['--http-port', String(extra.httpPort ?? 0)]
  return ['--host', '127.0.0.1', '--port', '0', ...http, '--dir', dir]
}
