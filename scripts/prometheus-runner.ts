// A real Prometheus for tests and demos: foreground process on 127.0.0.1, its own temp config and
// TSDB, file-based target discovery so targets can change while it runs, stopped by pid.
//   const prom = await PrometheusRunner.start({ targets: ['127.0.0.1:40123'], ruleFiles: [rules] })
//   await prom.waitForTargets({ count: 1 })
//   const [s] = (await prom.query('cjp2p_peers_active')).samples
//   await prom.close()
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CodedError } from '../src/util/coded-error.ts'

export type PrometheusRunnerErrorCode =
  | 'ERR_PROMETHEUS_MISSING' // no prometheus binary on this machine
  | 'ERR_PROMETHEUS_START' // it exited or never became ready
  | 'ERR_PROMETHEUS_TIMEOUT' // a wait ran past its deadline
  | 'ERR_PROMETHEUS_QUERY' // the HTTP API refused a query or answered garbage

export class PrometheusRunnerError extends CodedError<PrometheusRunnerErrorCode> {}

export interface PrometheusRunnerInit {
  /** `host:port` targets to scrape at /metrics (loopback only in tests). Changeable with setTargets. */
  targets?: readonly string[]
  /** Scrape and rule evaluation interval. Default '1s'. */
  scrapeInterval?: string
  /** Absolute paths of rule files to load. */
  ruleFiles?: readonly string[]
  /** Job label of the targets. Default 'cjp2p', the job deploy/prometheus/rules.yml expects. */
  job?: string
  /** Default: $PROMETHEUS_BIN, else /usr/bin/prometheus. */
  binary?: string
  /** Deadline for `/-/ready`. Default 30 s: a busy 2-core machine can take a while to open a TSDB. */
  startTimeoutMs?: number
}

export interface TargetInfo { scrapeUrl: string; health: 'up' | 'down' | 'unknown'; lastError: string; labels: Record<string, string> }
export interface Sample { metric: Record<string, string>; value: number }
export interface QueryResult { resultType: string; samples: Sample[] }

/** Prometheus' stderr kept for error messages; only the tail is ever useful. */
const MAX_LOG_CHARS = 16_384
/** A free port can be taken between probing and binding; a few tries make that race harmless. */
const START_ATTEMPTS = 3

export function findPrometheus(binary?: string): string | null {
  const candidate = binary ?? process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus'
  return existsSync(candidate) ? candidate : null
}

export class PrometheusRunner {
  readonly url: string
  readonly dir: string
  private readonly child: ChildProcess
  private readonly job: string
  private log = ''
  private exited = false
  private closing: Promise<void> | null = null
  private readonly killOnExit = () => { if (!this.exited) this.child.kill('SIGKILL') }

  private constructor(child: ChildProcess, url: string, dir: string, job: string) {
    this.child = child
    this.url = url
    this.dir = dir
    this.job = job
    const keep = (chunk: Buffer) => { this.log = (this.log + chunk.toString('utf8')).slice(-MAX_LOG_CHARS) }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    child.once('exit', () => { this.exited = true })
    // A crashed test must not leave a Prometheus behind.
    process.once('exit', this.killOnExit)
  }

  get pid(): number { return this.child.pid ?? -1 }

  static async start(init: PrometheusRunnerInit = {}): Promise<PrometheusRunner> {
    const binary = findPrometheus(init.binary)
    if (binary === null) throw new PrometheusRunnerError('ERR_PROMETHEUS_MISSING', 'prometheus binary not found (set PROMETHEUS_BIN)')
    let lastError: unknown
    for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
      const dir = mkdtempSync(join(tmpdir(), 'cjp2p-prom-'))
      const job = init.job ?? 'cjp2p'
      writeFileSync(join(dir, 'prometheus.yml'), configYaml(init, job))
      writeTargets(dir, init.targets ?? [])
      const port = await freePort()
      const child = spawn(binary, [
        `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`, '--web.enable-lifecycle', '--log.level=warn',
      ], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
      const runner = new PrometheusRunner(child, `http://127.0.0.1:${port}`, dir, job)
      try {
        await runner.waitReady(init.startTimeoutMs ?? 30_000)
        return runner
      } catch (err) {
        lastError = err
        await runner.close()
      }
    }
    throw lastError
  }

  /** Replaces the scraped targets; Prometheus notices the file within seconds, no restart. */
  setTargets(targets: readonly string[]): void {
    writeTargets(this.dir, targets)
  }

  /** Active targets of our job, as Prometheus sees them. */
  async targets(): Promise<TargetInfo[]> {
    const body = await this.api('/api/v1/targets?state=active')
    const active = isRecord(body.data) && Array.isArray(body.data.activeTargets) ? body.data.activeTargets : []
    return active.filter(isRecord).filter((t) => isRecord(t.labels) && t.labels.job === this.job).map((t) => ({
      scrapeUrl: String(t.scrapeUrl), health: t.health === 'up' || t.health === 'down' ? t.health : 'unknown',
      lastError: String(t.lastError ?? ''), labels: t.labels as Record<string, string>,
    }))
  }

  /** Polls until at least `count` targets (default: all of them, at least one) are up. */
  async waitForTargets(opts: { count?: number; timeoutMs?: number } = {}): Promise<TargetInfo[]> {
    let seen: TargetInfo[] = []
    await this.poll(opts.timeoutMs ?? 30_000, async () => {
      seen = await this.targets()
      const up = seen.filter((t) => t.health === 'up').length
      return up >= Math.max(1, opts.count ?? seen.length)
    }, () => `targets not up: ${JSON.stringify(seen.map((t) => [t.scrapeUrl, t.health, t.lastError]))}`)
    return seen
  }

  /** Instant query; a scalar comes back as one sample with no labels. */
  async query(expr: string, time?: number): Promise<QueryResult> {
    const params = new URLSearchParams({ query: expr })
    if (time !== undefined) params.set('time', String(time))
    const body = await this.api('/api/v1/query', params)
    const data = isRecord(body.data) ? body.data : {}
    const resultType = String(data.resultType)
    const raw = resultType === 'scalar' ? [{ metric: {}, value: data.result }] : Array.isArray(data.result) ? data.result : []
    const samples: Sample[] = []
    for (const r of raw) {
      if (!isRecord(r) || !Array.isArray(r.value)) continue
      samples.push({ metric: isRecord(r.metric) ? r.metric as Record<string, string> : {}, value: Number(r.value[1]) })
    }
    return { resultType, samples }
  }

  /** Polls a query until `accept` likes its samples (new data shows up one scrape later). */
  async waitForQuery(expr: string, accept: (samples: Sample[]) => boolean, timeoutMs = 30_000): Promise<Sample[]> {
    let last: Sample[] = []
    await this.poll(timeoutMs, async () => accept(last = (await this.query(expr)).samples),
      () => `query ${expr} never matched; last result ${JSON.stringify(last)}`)
    return last
  }

  /** Tail of Prometheus' own log, for assertion messages. */
  logs(): string { return this.log }

  /** SIGTERM by pid, SIGKILL after 10 s, then removes the temp dir. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      process.off('exit', this.killOnExit)
      if (!this.exited) {
        const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()))
        this.child.kill('SIGTERM')
        const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000)
        await gone
        clearTimeout(timer)
      }
      rmSync(this.dir, { recursive: true, force: true })
    })()
    return this.closing
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    await this.poll(timeoutMs, async () => {
      if (this.exited) throw new PrometheusRunnerError('ERR_PROMETHEUS_START', `prometheus exited: ${this.log.slice(-2000)}`)
      try {
        const res = await fetch(this.url + '/-/ready', { signal: AbortSignal.timeout(2000) })
        await res.arrayBuffer()
        return res.ok
      } catch {
        return false // not listening yet
      }
    }, () => `prometheus not ready: ${this.log.slice(-2000)}`, 'ERR_PROMETHEUS_START')
  }

  private async api(path: string, form?: URLSearchParams): Promise<Record<string, unknown>> {
    const res = await fetch(this.url + path, {
      method: form ? 'POST' : 'GET', body: form, signal: AbortSignal.timeout(10_000),
    })
    const text = await res.text()
    let body: unknown
    try { body = JSON.parse(text) } catch { body = null }
    if (!isRecord(body) || body.status !== 'success') {
      const why = isRecord(body) ? `${String(body.errorType)}: ${String(body.error)}` : text.slice(0, 200)
      throw new PrometheusRunnerError('ERR_PROMETHEUS_QUERY', `${path} ${form?.get('query') ?? ''} -> HTTP ${res.status} ${why}`)
    }
    return body
  }

  private async poll(timeoutMs: number, check: () => Promise<boolean>, describe: () => string,
    code: PrometheusRunnerErrorCode = 'ERR_PROMETHEUS_TIMEOUT'): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (true) {
      if (await check()) return
      if (Date.now() > deadline) throw new PrometheusRunnerError(code, `after ${timeoutMs} ms: ${describe()}`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
}

function writeTargets(dir: string, targets: readonly string[]): void {
  const file = join(dir, 'targets.json')
  writeFileSync(file + '.tmp', JSON.stringify([{ targets, labels: {} }]))
  renameSync(file + '.tmp', file) // atomic: Prometheus never reads half a file
}

function configYaml(init: PrometheusRunnerInit, job: string): string {
  const interval = init.scrapeInterval ?? '1s'
  const rules = (init.ruleFiles ?? []).map((f) => `  - ${JSON.stringify(f)}\n`).join('')
  return `global:
  scrape_interval: ${interval}
  scrape_timeout: ${interval}
  evaluation_interval: ${interval}
rule_files:${rules ? '\n' + rules : ' []\n'}scrape_configs:
  - job_name: ${JSON.stringify(job)}
    file_sd_configs:
      - files: ['targets.json']
        refresh_interval: 1s
`
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
