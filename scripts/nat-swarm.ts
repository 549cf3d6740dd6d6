// A live stream of real CLI processes in a NAT lab: `cjp2p-stream ingest testsrc` and `watch`
// viewers, each on its own lab host (so each has its own network stack, loopback and ports), and
// what they report about themselves. A node's HTTP endpoint stays on its own namespace's loopback,
// as a home user's would, so it is read from inside that namespace with curl.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { LOG_DIR, Proc, sleep } from './chaos-swarm.ts'
import type { NatLab } from './nat-lab.ts'
import type { NodeStatus, StreamStatus } from '../src/metrics/node-status.ts'

/** Every node listens on the same ports: each lab host is its own machine. */
export const UDP_PORT = 24254
const HTTP_PORT = 24255

export interface LabNode { host: string; role: 'source' | 'viewer'; proc: Proc }

// What the lab reads of a node is the status contract every other reader uses.
export type { NodeStatus, StreamStatus }

export class NatSwarm {
  readonly nodes = new Map<string, LabNode>()
  id = ''

  constructor(readonly lab: NatLab, readonly dir: string, readonly opts: { bitrate: string; logLevel?: string; /** false: --no-encrypt, true: --encrypt (the default) */ encrypt?: boolean }) {}

  /** The address other hosts are told for a node: a public node's own; for the source behind a
   * cone NAT, its router's public address and the port it binds, which a port-preserving NAT keeps
   * (what a streamer at home would tell the friend whose public node carries the stream). */
  peerAddr(host: string): string {
    const h = this.lab.host(host)
    if (h.router && this.nodes.get(host)?.role !== 'source') throw new Error(`${host} is a viewer behind a NAT: it has no address to give out`)
    return `${this.lab.publicIp(host)}:${UDP_PORT}`
  }

  /** The source and public hosts listen on the well-known port; viewers behind NATs on any free
   * port, so two on one LAN do not collide in their router's port-preserving NAT. */
  private flags(host: string, role: LabNode['role'], peers: string[]): string[] {
    const port = role === 'source' || !this.lab.host(host).router ? UDP_PORT : 0
    return ['--port', String(port), '--http-port', String(HTTP_PORT), '--dir', join(this.dir, host), '--json',
      '--log-level', this.opts.logLevel ?? (LOG_DIR ? 'debug' : 'warn'), ...(this.opts.encrypt === false ? ['--no-encrypt'] : this.opts.encrypt ? ['--encrypt'] : []), ...peers.flatMap((p) => ['--peer', p])]
  }

  /** Starts the source; `peers` are hosts it contacts itself (a friend's public node when it sits behind a NAT). */
  async startSource(host: string, peers: string[] = []): Promise<string> {
    const proc = Proc.start(['ingest', 'testsrc', '--name', 'natlab', '--bitrate', this.opts.bitrate, ...this.flags(host, 'source', peers.map((p) => this.peerAddr(p)))], this.lab.wrap(host))
    this.nodes.set(host, { host, role: 'source', proc })
    this.id = (await proc.json()).id
    return this.id
  }

  /** Starts a viewer without waiting for it (many start at once); `ready` waits for them all.
   * `extra`: more of its flags (e.g. --port-mapping). */
  startViewer(host: string, peers: string[], extra: string[] = []): void {
    // --keep all: the store keeps the plain layout the measurements open after the run (a viewer's
    // default window stores pieces, and would not matter within a run this short anyway).
    const proc = Proc.start(['watch', this.id, '--keep', 'all', ...this.flags(host, 'viewer', peers.map((p) => this.peerAddr(p))), ...extra], this.lab.wrap(host))
    this.nodes.set(host, { host, role: 'viewer', proc })
  }

  async ready(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.proc.json()))
  }

  /** Processes that exited before they were told to (a crash is a finding, not a detail). */
  crashed(): string[] {
    return [...this.nodes.values()].filter((n) => n.proc.exit).map((n) => `${n.host} (exit ${JSON.stringify(n.proc.exit)}): ${n.proc.err.trim().split('\n').slice(-3).join(' | ')}`)
  }

  async status(host: string): Promise<NodeStatus | null> {
    try {
      const out = await this.lab.exec(host, 'curl', ['-sf', '-m', '5', `http://127.0.0.1:${HTTP_PORT}/status.json`])
      return JSON.parse(out) as NodeStatus
    } catch { return null }
  }

  /** The node's stream status, retried a few times (a loaded machine may miss one 5 s window). */
  async streamStatus(host: string): Promise<StreamStatus | null> {
    for (let i = 0; i < 3; i++) {
      const s = await this.status(host)
      if (s?.streams[0]) return s.streams[0]
      await sleep(500)
    }
    return null
  }

  /** CPU seconds a node's process has used so far (user + system, from /proc; 0 once it is gone).
   * Its ffmpeg, in its own process, is not included. */
  cpuSeconds(host: string): number {
    const t = this.cpuTimes(host)
    return t.user + t.system
  }

  /** The same split: `system` is the kernel's share, which in the lab includes carrying each
   * datagram the node sends through the veths, bridges and NATs (softirq work charged to the
   * sending process), a cost a home box's network card does not have. */
  cpuTimes(host: string): { user: number; system: number } {
    const pid = this.nodes.get(host)?.proc.child.pid
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      return { user: Number(f[11]) / 100, system: Number(f[12]) / 100 }
    } catch { return { user: 0, system: 0 } }
  }

  /** SIGTERM to every node at once (viewers commit their verified marks on the way out). */
  async stop(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.proc.stop()))
  }
}
