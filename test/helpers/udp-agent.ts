// The test side of udp-agent-main.ts: a UDP socket on a host of a NAT lab that a test sends from
// and whose received datagrams it inspects.
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { NatLab } from '../../scripts/nat-lab.ts'

const MAIN = fileURLToPath(new URL('./udp-agent-main.ts', import.meta.url))
/** tsx compiles the agent at start; a loaded 2-core machine may take seconds. */
const START_TIMEOUT_MS = 30_000

export interface Datagram { from: string; text: string }

export class UdpAgent {
  readonly received: Datagram[] = []
  private waiters = new Set<() => void>()
  port = 0

  private constructor(readonly host: string, private readonly proc: ChildProcess) {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as Partial<Datagram> & { port?: number }
      if (m.port !== undefined) this.port = m.port
      else if (m.from !== undefined) this.received.push({ from: m.from, text: m.text ?? '' })
      for (const w of this.waiters) w()
    })
  }

  static async start(lab: NatLab, host: string, opts: { reflect?: boolean; port?: number } = {}): Promise<UdpAgent> {
    const args = [...(opts.reflect ? ['--reflect'] : []), ...(opts.port ? ['--port', String(opts.port)] : [])]
    const proc = lab.spawn(host, process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
    const agent = new UdpAgent(host, proc)
    await agent.until(() => agent.port > 0, START_TIMEOUT_MS, `the UDP agent on ${host} to bind`)
    return agent
  }

  send(to: string, text: string): void { this.proc.stdin!.write(JSON.stringify({ to, text }) + '\n') }

  /** Datagrams received with this text (or all). */
  got(text?: string): Datagram[] { return this.received.filter((d) => text === undefined || d.text === text) }

  /** Waits until `cond` holds; false if it did not within `ms`. */
  async wait(cond: () => boolean, ms: number): Promise<boolean> {
    if (cond()) return true
    return new Promise((resolve) => {
      const check = () => { if (cond()) { done(); resolve(true) } }
      const done = () => { clearTimeout(timer); this.waiters.delete(check) }
      const timer = setTimeout(() => { done(); resolve(false) }, ms)
      this.waiters.add(check)
    })
  }

  private async until(cond: () => boolean, ms: number, what: string): Promise<void> {
    if (!(await this.wait(cond, ms))) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
  }

  /** This socket's public mapping as a reflector sees it: sends "probe" (a few times, against loss). */
  async observedBy(reflector: string, ms = 5000): Promise<string> {
    const seen = () => this.received.find((d) => d.from === reflector && d.text.startsWith('seen '))
    for (let i = 0; i < 5 && !seen(); i++) {
      this.send(reflector, 'probe')
      await this.wait(() => !!seen(), ms / 5)
    }
    const s = seen()
    if (!s) throw new Error(`${this.host}: no answer from the reflector ${reflector} in ${ms} ms`)
    return s.text.slice('seen '.length)
  }

  async close(): Promise<void> {
    if (this.proc.exitCode !== null) return
    const exited = new Promise((r) => this.proc.once('exit', r))
    this.proc.stdin!.end()
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 3000)
    await exited
    clearTimeout(t)
  }
}
