// A live swarm of real CLI processes for fault injection: `ingest testsrc` and `watch` viewers on
// loopback, each in its own process group, plus the measurements the chaos table needs: what a
// viewer serves over HTTP compared byte for byte with the source, how fast playlists advance, and
// the largest amplification factor any node saw toward unverified addresses.
import { spawn, execFileSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { resolve, join, basename } from 'node:path'
import { createWriteStream, mkdirSync } from 'node:fs'

const BIN = resolve(import.meta.dirname, '..', 'bin', 'cjp2p-stream')
/** A first start compiles the sources with tsx; a busy 2-core machine needs a while. */
const READY_MS = 40_000

/** For debugging a run: every node's whole stderr as `<its --dir name>-<pid>.log` in this folder
 * (a process keeps only the last 32 KB for the report); NAT lab nodes then log at debug level
 * (nat-swarm.ts). */
export const LOG_DIR = process.env.CJP2P_LAB_LOG_DIR
function logName(args: string[]): string {
  const i = args.indexOf('--dir')
  return i >= 0 ? basename(args[i + 1]) : args[0]
}

export interface NodeInfo { id: string; udp: string; http: string }
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** One CLI process in its own group (so ffmpeg goes with it). */
export class Proc {
  private out = ''
  err = ''
  exit: { code: number | null; signal: string | null } | null = null
  readonly exited: Promise<void>
  private constructor(readonly args: string[], readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (s: string) => { this.out += s })
    child.stderr!.setEncoding('utf8').on('data', (s: string) => { this.err = (this.err + s).slice(-32_000) })
    if (LOG_DIR) this.keepLog(LOG_DIR, child)
    this.exited = new Promise((r) => child.once('close', (code, signal) => { this.exit = { code, signal }; this.group('SIGKILL'); r() }))
  }

  /** Every line of the node's stderr to a file, stamped with the time it arrived (the node's own
   * lines carry none). A file that cannot be written is said once and left. */
  private keepLog(dir: string, child: ChildProcess): void {
    mkdirSync(dir, { recursive: true })
    const path = join(dir, `${logName(this.args)}-${child.pid}.log`)
    const file = createWriteStream(path).on('error', (err) => process.stderr.write(`${path}: ${err.message}\n`))
    const stamp = () => new Date().toISOString().slice(11, 23)
    let partial = ''
    child.stderr!.on('data', (s: string) => {
      const lines = (partial + s).split('\n')
      partial = lines.pop()!
      for (const l of lines) file.write(`${stamp()} ${l}\n`)
    })
    child.stderr!.once('end', () => file.end(partial ? `${stamp()} ${partial}\n` : ''))
  }

  /** `wrap` prefixes the command, e.g. `ip netns exec <ns>` to run it on a NAT lab host (that
   * execs the node in place, so the group is still the node's). */
  static start(args: string[], wrap: string[] = []): Proc {
    const [bin, ...pre] = [...wrap, process.execPath]
    const child = spawn(bin, [...pre, BIN, ...args], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    const p = new Proc(args, child)
    live.add(p)
    void p.exited.then(() => live.delete(p))
    return p
  }

  async json(): Promise<NodeInfo> {
    const end = Date.now() + READY_MS
    while (Date.now() < end && !this.exit) {
      const nl = this.out.indexOf('\n')
      if (nl >= 0) return JSON.parse(this.out.slice(0, nl)) as NodeInfo
      await sleep(50)
    }
    throw new Error(`${this.args.slice(0, 2).join(' ')} printed no JSON (exit ${JSON.stringify(this.exit)}): ${this.err.slice(-2000)}`)
  }

  group(sig: NodeJS.Signals): void { try { process.kill(-this.child.pid!, sig) } catch { /* gone */ } }
  async kill9(): Promise<void> { this.group('SIGKILL'); await this.exited }
  async stop(): Promise<void> {
    if (this.exit) return
    this.group('SIGCONT')
    try { this.child.kill('SIGTERM') } catch { /* gone */ }
    const t = setTimeout(() => this.group('SIGKILL'), 8000)
    await this.exited
    clearTimeout(t)
  }
}
const live = new Set<Proc>()
process.on('exit', () => { for (const p of live) p.group('SIGKILL') })

export interface Segment { seq: number; offset: number; length: number }

export async function getJson<T>(url: string): Promise<T | null> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(3000) })
    return r.ok ? ((await r.json()) as T) : null
  } catch { return null }
}

/** The segments a node's live playlist lists (empty when it has none yet or is down). */
export async function segments(http: string, id: string): Promise<Segment[]> {
  let text: string
  try {
    const r = await fetch(`${http}/streams/${id}/index.m3u8`, { signal: AbortSignal.timeout(3000) })
    if (!r.ok) return []
    text = await r.text()
  } catch { return [] }
  const out: Segment[] = []
  let seq = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0)
  for (const m of text.matchAll(/#EXT-X-BYTERANGE:(\d+)@(\d+)/g)) out.push({ seq: seq++, length: Number(m[1]), offset: Number(m[2]) })
  return out
}

/** Bytes [offset, offset+length) served by a node, or null if it does not serve them (yet). */
export async function media(http: string, id: string, offset: number, length: number): Promise<Buffer | null> {
  try {
    const r = await fetch(`${http}/streams/${id}/media`, { headers: { range: `bytes=${offset}-${offset + length - 1}` }, signal: AbortSignal.timeout(8000) })
    if (r.status !== 206) { await r.arrayBuffer().catch(() => {}); return null }
    return Buffer.from(await r.arrayBuffer())
  } catch { return null }
}

export class Swarm {
  source!: Proc
  src!: NodeInfo
  viewers: (Proc | null)[] = []
  infos: (NodeInfo | null)[] = []
  constructor(readonly dir: string, readonly name = 'chaos') {}

  async startSource(): Promise<NodeInfo> {
    this.source = Proc.start(['ingest', 'testsrc', '--name', this.name, '--host', '127.0.0.1', '--port', '0', '--http-port', '0', '--dir', join(this.dir, 'source'), '--json'])
    this.src = await this.source.json()
    return this.src
  }

  /** Viewer i, fed by the given peers (default: the source), with its own folder (or `dirOverride`). */
  async startViewer(i: number, peers: string[] = [this.src.udp], dirOverride?: string): Promise<NodeInfo> {
    const args = ['watch', this.src.id, ...peers.flatMap((p) => ['--peer', p]), '--host', '127.0.0.1', '--port', '0', '--http-port', '0', '--dir', dirOverride ?? join(this.dir, `viewer${i}`), '--json']
    const p = Proc.start(args)
    this.viewers[i] = p
    const info = await p.json()
    this.infos[i] = info
    return info
  }

  /** Newest segment number a node lists, or -1. */
  async newest(http: string): Promise<number> {
    const s = await segments(http, this.src.id)
    return s.length ? s[s.length - 1].seq : -1
  }

  /** Waits until every listed viewer lists a segment newer than `seq`; the time it took, or null. */
  async untilPast(viewers: number[], seq: number, timeoutMs: number): Promise<number | null> {
    const t0 = Date.now()
    const pending = new Set(viewers)
    while (Date.now() - t0 < timeoutMs) {
      for (const i of [...pending]) if (this.infos[i] && (await this.newest(this.infos[i]!.http)) > seq) pending.delete(i)
      if (pending.size === 0) return Date.now() - t0
      await sleep(150)
    }
    return null
  }

  /** Every segment a viewer lists, compared with the source: bytes matching and bytes that differ. */
  async audit(i: number): Promise<{ held: Segment[]; bad: number }> {
    const v = this.infos[i]
    if (!v) return { held: [], bad: 0 }
    const held: Segment[] = []
    let bad = 0
    for (const s of await segments(v.http, this.src.id)) {
      const mine = await media(v.http, this.src.id, s.offset, s.length)
      if (!mine) continue
      const truth = await media(this.src.http, this.src.id, s.offset, s.length)
      if (truth && !truth.equals(mine)) bad += s.length
      else held.push(s)
    }
    return { held, bad }
  }

  /** Of the segments a viewer held before, the bytes it no longer serves identically (verified bytes lost). */
  async lost(i: number, before: Segment[], except = new Set<number>()): Promise<{ lost: number; bad: number; lostSeqs: number[] }> {
    const v = this.infos[i]
    if (!v) return { lost: 0, bad: 0, lostSeqs: [] }
    let lost = 0
    let bad = 0
    const lostSeqs: number[] = []
    for (const s of before) {
      if (except.has(s.seq)) continue
      const mine = await media(v.http, this.src.id, s.offset, s.length)
      const truth = await media(this.src.http, this.src.id, s.offset, s.length)
      if (!mine) { lost += s.length; lostSeqs.push(s.seq) }
      else if (truth && !truth.equals(mine)) bad += s.length
    }
    return { lost, bad, lostSeqs }
  }

  /** The largest bytes-sent/bytes-received ratio toward unverified addresses over all live nodes. */
  async maxAmplification(): Promise<number> {
    let max = 0
    for (const n of [this.src, ...this.infos]) {
      if (!n) continue
      const st = await getJson<{ counters?: { ampMaxRatio?: number } }>(`${n.http}/status.json`)
      max = Math.max(max, st?.counters?.ampMaxRatio ?? 0)
    }
    return max
  }

  /** The ffmpeg process the ingest runs (a descendant of its process group). */
  ffmpegPid(): number | null {
    try {
      const out = execFileSync('pgrep', ['-g', String(this.source.child.pid), 'ffmpeg'], { encoding: 'utf8' })
      const pid = Number(out.trim().split('\n')[0])
      return pid > 0 ? pid : null
    } catch { return null }
  }

  async close(): Promise<void> {
    await Promise.all([this.source, ...this.viewers].filter((p): p is Proc => !!p).map((p) => p.stop()))
  }
}
