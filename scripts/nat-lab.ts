// A NAT laboratory in Linux network namespaces: a public segment (a bridge in its own namespace)
// with public hosts on it, and home routers, each a namespace with a public-side veth and a LAN
// bridge, NATting the hosts behind it with iptables. Everything lives in namespaces named
// `cjnat-<owner pid>-<lab>-...` that this code makes and deletes; the addresses (10.213.64.0/18)
// exist only inside them, so no datagram can leave the machine.
//
//   public segment 10.213.64.0/24       host i (by position) .i, router k's public side .100+k
//   router k's LAN 10.213.(64+k).0/24   the router .1, its host j .10+j, default route via .1
//
// NAT behaviour (RFC 4787 terms), all from stock netfilter:
//   cone       MASQUERADE keeps the source port when it can, so one socket gets one public port
//              whatever it talks to (endpoint-independent mapping); inbound is accepted only for
//              conntrack ESTABLISHED/RELATED, i.e. from the exact address and port the inside host
//              sent to (address-and-port-dependent filtering): the common "port-restricted cone".
//   symmetric  MASQUERADE --random-fully: a new random public port for every destination, same filter.
// Unsolicited inbound is dropped in INPUT as well as FORWARD: accepting it would confirm a conntrack
// entry that later steals the tuple a hole punch needs, which real routers do not do either. No
// hairpinning (hosts behind one router cannot reach each other through its public address), as on
// many home routers. UDP mappings expire after 30 s unanswered, 120 s once answered (Linux's own
// defaults, set explicitly so keepalive work can rely on them).
//
// A lab is removed by close(), by a process-exit hook, and, should the owner have been killed
// with SIGKILL, by the next lab made on this machine (it reaps namespaces whose owner pid is gone),
// or by hand: `node --import tsx scripts/nat-lab.ts down`.
import { execFile, execFileSync, spawn } from 'node:child_process'
import type { ChildProcess, SpawnOptions } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'

const execFileP = promisify(execFile)

/** `CJP2P_NAT_LAB_PREFIX` (letters, digits, dashes) keeps several people's labs on one machine apart. */
export const NAT_LAB_PREFIX = labPrefix(process.env.CJP2P_NAT_LAB_PREFIX)

function labPrefix(v: string | undefined): string {
  if (v === undefined || v === '') return 'cjnat-'
  if (!/^[a-z0-9-]{1,8}$/.test(v)) throw new Error(`CJP2P_NAT_LAB_PREFIX must be 1 to 8 of a-z, 0-9 and -, not "${v}"`)
  return v.endsWith('-') ? v : `${v}-`
}
export type NatKind = 'cone' | 'symmetric'

export interface RouterSpec { name: string; nat: NatKind; hosts: number }

export interface NatLabInit {
  /** Hosts on the public segment, by name. */
  publicHosts: string[]
  /** Home routers, each NATting a LAN of `hosts` hosts named `<router>h1`, `<router>h2`, ... */
  routers: RouterSpec[]
  /** Share of UDP datagrams (0..1) dropped where they arrive from the public segment (one-way, per crossing). */
  loss?: number
}

/** Mapping lifetimes the routers use (seconds): unanswered, and once both directions were seen. */
export const UDP_TIMEOUT_SECONDS = { unreplied: 30, assured: 120 }

const NAME_RE = /^[a-z][a-z0-9]{0,7}$/
const MAX_ROUTERS = 60
const MAX_HOSTS = 60

export interface LabHost {
  name: string
  ns: string
  /** The host's own address (public, or on its router's LAN). */
  ip: string
  /** The router it sits behind, or null on the public segment. */
  router: RouterSpec | null
}

let labs = 0
const open = new Set<NatLab>()
process.on('exit', () => { for (const l of open) l.closeSync() })

export class NatLab {
  readonly hosts = new Map<string, LabHost>()
  readonly routerIps = new Map<string, string>()
  private readonly routerNs = new Map<string, string>()
  private readonly namespaces: string[] = []
  private closed = false

  private constructor(readonly tag: string, readonly init: NatLabInit) {}

  /** Why a lab cannot be built here (not root, `ip netns add` refused, no iptables), or null. */
  static async unavailable(): Promise<string | null> {
    if (process.platform !== 'linux') return 'network namespaces need Linux'
    const probe = `${NAT_LAB_PREFIX}${process.pid}-probe`
    try {
      await execFileP('ip', ['netns', 'add', probe])
    } catch (err) {
      return `\`ip netns add\` is refused here (${oneLine(err)})`
    }
    try {
      await execFileP('ip', ['netns', 'exec', probe, 'iptables', '-t', 'nat', '-L', '-n'])
      return null
    } catch (err) {
      return `iptables with NAT does not work in a namespace (${oneLine(err)}); apt-get install -y iptables`
    } finally {
      await execFileP('ip', ['netns', 'del', probe]).catch(() => {})
    }
  }

  static async create(init: NatLabInit): Promise<NatLab> {
    validate(init)
    await reapStale()
    const lab = new NatLab(`${NAT_LAB_PREFIX}${process.pid}-${++labs}`, init)
    open.add(lab)
    try {
      await lab.build()
    } catch (err) {
      await lab.close()
      throw err
    }
    return lab
  }

  host(name: string): LabHost {
    const h = this.hosts.get(name)
    if (!h) throw new Error(`no host ${JSON.stringify(name)} in the lab (have ${[...this.hosts.keys()].join(', ')})`)
    return h
  }

  /** The address others on the public segment see a host's traffic come from (its router's, behind a NAT). */
  publicIp(name: string): string {
    const h = this.host(name)
    return h.router ? this.routerIps.get(h.router.name)! : h.ip
  }

  /** The argv prefix that runs a command on a host (or on a router, to inspect its NAT). */
  wrap(name: string): string[] { return ['ip', 'netns', 'exec', this.routerNs.get(name) ?? this.host(name).ns] }

  spawn(name: string, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const [bin, ...pre] = this.wrap(name)
    return spawn(bin, [...pre, cmd, ...args], opts)
  }

  async exec(name: string, cmd: string, args: string[], timeoutMs = 15_000): Promise<string> {
    const [bin, ...pre] = this.wrap(name)
    const { stdout } = await execFileP(bin, [...pre, cmd, ...args], { timeout: timeoutMs, maxBuffer: 16 * 2 ** 20 })
    return stdout
  }

  /** A NAT rebinding, as when a router reboots or a mapping expires: the host moves to a new LAN
   * address (its sockets, bound to the wildcard, stay), so its router makes new mappings, and its
   * old mappings still hold their public ports: seen from outside, it is at a new port. */
  async rebind(name: string): Promise<void> {
    const h = this.host(name)
    if (!h.router) throw new RangeError(`${name} is not behind a router`)
    const lan = h.ip.slice(0, h.ip.lastIndexOf('.'))
    const next = `${lan}.${Number(h.ip.slice(lan.length + 1)) + 100}`
    // Deleting the primary address would take the new one with it unless it is promoted.
    await sysctl(h.ns, 'net.ipv4.conf.eth0.promote_secondaries', '1')
    await ip('-n', h.ns, 'addr', 'add', `${next}/24`, 'dev', 'eth0')
    await ip('-n', h.ns, 'addr', 'del', `${h.ip}/24`, 'dev', 'eth0')
    await ip('-n', h.ns, 'route', 'replace', 'default', 'via', `${lan}.1`)
    h.ip = next
  }

  /** Kills whatever still runs in the lab's namespaces and deletes them. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    open.delete(this)
    for (const ns of [...this.namespaces].reverse()) await removeNamespace(ns)
  }

  /** close() for the process-exit hook, where nothing asynchronous runs any more. */
  closeSync(): void {
    if (this.closed) return
    this.closed = true
    open.delete(this)
    for (const ns of [...this.namespaces].reverse()) removeNamespaceSync(ns)
  }

  private async addNs(suffix: string): Promise<string> {
    const ns = `${this.tag}-${suffix}`
    await ip('netns', 'add', ns)
    this.namespaces.push(ns)
    await ip('-n', ns, 'link', 'set', 'lo', 'up')
    return ns
  }

  /** A veth from `a` (named `aIf`) to a port of bridge `br` in `b`; made inside the namespaces, so
   * no interface ever appears in the machine's own namespace. */
  private async cable(a: string, aIf: string, b: string, bIf: string, br: string): Promise<void> {
    await ip('link', 'add', aIf, 'netns', a, 'type', 'veth', 'peer', 'name', bIf, 'netns', b)
    await ip('-n', b, 'link', 'set', bIf, 'master', br)
    await ip('-n', b, 'link', 'set', bIf, 'up')
    await ip('-n', a, 'link', 'set', aIf, 'up')
  }

  private async build(): Promise<void> {
    const pub = await this.addNs('pub')
    await ip('-n', pub, 'link', 'add', 'br0', 'type', 'bridge')
    await ip('-n', pub, 'link', 'set', 'br0', 'up')
    const loss = this.init.loss ?? 0

    for (const [i, name] of this.init.publicHosts.entries()) {
      const ns = await this.addNs(name)
      const addr = `10.213.64.${i + 1}`
      await this.cable(ns, 'eth0', pub, `p-${name}`, 'br0')
      await ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0')
      if (loss > 0) await restore(ns, lossRules('eth0', loss))
      this.hosts.set(name, { name, ns, ip: addr, router: null })
    }

    for (const [k0, r] of this.init.routers.entries()) {
      const k = k0 + 1
      const rns = await this.addNs(r.name)
      const wan = `10.213.64.${100 + k}`
      const lan = `10.213.${64 + k}`
      await this.cable(rns, 'wan0', pub, `r-${r.name}`, 'br0')
      await ip('-n', rns, 'addr', 'add', `${wan}/24`, 'dev', 'wan0')
      await ip('-n', rns, 'link', 'add', 'lan0', 'type', 'bridge')
      await ip('-n', rns, 'addr', 'add', `${lan}.1/24`, 'dev', 'lan0')
      await ip('-n', rns, 'link', 'set', 'lan0', 'up')
      await sysctl(rns, 'net.ipv4.ip_forward', '1')
      await restore(rns, natRules(r.nat, loss))
      // The conntrack sysctls exist in a namespace once its nat table has loaded conntrack.
      await sysctl(rns, 'net.netfilter.nf_conntrack_udp_timeout', String(UDP_TIMEOUT_SECONDS.unreplied))
      await sysctl(rns, 'net.netfilter.nf_conntrack_udp_timeout_stream', String(UDP_TIMEOUT_SECONDS.assured))
      this.routerIps.set(r.name, wan)
      this.routerNs.set(r.name, rns)
      for (let j = 1; j <= r.hosts; j++) {
        const name = `${r.name}h${j}`
        const ns = await this.addNs(name)
        const addr = `${lan}.${10 + j}`
        await this.cable(ns, 'eth0', rns, `h${j}`, 'lan0')
        await ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0')
        await ip('-n', ns, 'route', 'add', 'default', 'via', `${lan}.1`)
        this.hosts.set(name, { name, ns, ip: addr, router: r })
      }
    }
  }
}

function validate(init: NatLabInit): void {
  const names = [...init.publicHosts, ...init.routers.map((r) => r.name)]
  for (const n of names) if (!NAME_RE.test(n) || n === 'pub') throw new RangeError(`bad lab host name ${JSON.stringify(n)}: 1-8 of a-z 0-9, starting with a letter, not "pub"`)
  if (new Set(names).size !== names.length) throw new RangeError('lab host names must be unique')
  if (init.publicHosts.length > 99) throw new RangeError('at most 99 public hosts')
  if (init.routers.length > MAX_ROUTERS) throw new RangeError(`at most ${MAX_ROUTERS} routers`)
  for (const r of init.routers) if (!Number.isInteger(r.hosts) || r.hosts < 0 || r.hosts > MAX_HOSTS) throw new RangeError(`router ${r.name}: 0..${MAX_HOSTS} hosts`)
  const loss = init.loss ?? 0
  if (!(loss >= 0 && loss < 1)) throw new RangeError('loss must be in [0, 1)')
}

/** Random loss in the raw table, before conntrack: a lost datagram leaves no trace in the NAT. */
function lossRules(dev: string, loss: number): string[] {
  return ['*raw', `-A PREROUTING -i ${dev} -p udp -m statistic --mode random --probability ${loss.toFixed(6)} -j DROP`, 'COMMIT']
}

function natRules(kind: NatKind, loss: number): string {
  return [
    '*nat',
    `-A POSTROUTING -o wan0 -j MASQUERADE${kind === 'symmetric' ? ' --random-fully' : ''}`,
    'COMMIT',
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD ACCEPT [0:0]',
    '-A FORWARD -i wan0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
    '-A FORWARD -i wan0 -j DROP',
    '-A INPUT -i wan0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
    '-A INPUT -i wan0 -j DROP',
    'COMMIT',
    ...(loss > 0 ? lossRules('wan0', loss) : []),
  ].join('\n') + '\n'
}

async function ip(...args: string[]): Promise<void> {
  try {
    await execFileP('ip', args)
  } catch (err) {
    throw new Error(`ip ${args.join(' ')}: ${oneLine(err)}`, { cause: err })
  }
}

async function sysctl(ns: string, key: string, value: string): Promise<void> {
  await execFileP('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `${key}=${value}`])
}

async function restore(ns: string, rules: string | string[]): Promise<void> {
  const text = Array.isArray(rules) ? rules.join('\n') + '\n' : rules
  await new Promise<void>((resolve, reject) => {
    const p = spawn('ip', ['netns', 'exec', ns, 'iptables-restore'], { stdio: ['pipe', 'ignore', 'pipe'] })
    let err = ''
    p.stderr!.setEncoding('utf8').on('data', (s: string) => { err += s })
    p.on('error', reject)
    p.on('close', (code) => code === 0 ? resolve() : reject(new Error(`iptables-restore in ${ns}: ${err.trim() || `exit ${code}`}`)))
    p.stdin!.end(text)
  })
}

function oneLine(err: unknown): string {
  const e = err as { stderr?: string; message?: string }
  return (e.stderr?.trim() || e.message || String(err)).split('\n')[0]
}

/** Our namespaces on this machine, all labs. */
function labNamespaces(): string[] {
  let out: string
  try { out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }) } catch { return [] }
  return out.split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(NAT_LAB_PREFIX))
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

/** Namespaces left by a lab whose owner died without cleaning up (SIGKILL, a crash). */
async function reapStale(): Promise<void> {
  for (const ns of labNamespaces()) {
    const owner = Number(/^(\d+)-/.exec(ns.slice(NAT_LAB_PREFIX.length))?.[1])
    if (owner > 0 && owner !== process.pid && !alive(owner)) await removeNamespace(ns)
  }
}

/** Processes living in a namespace: only what was started in it (our lab's processes). */
function pidsIn(out: string): number[] {
  return out.split('\n').map(Number).filter((n) => n > 0 && n !== process.pid)
}

async function removeNamespace(ns: string): Promise<void> {
  try {
    const { stdout } = await execFileP('ip', ['netns', 'pids', ns])
    for (const pid of pidsIn(stdout)) { try { process.kill(pid, 'SIGKILL') } catch { /* gone */ } }
  } catch { /* already gone */ }
  await execFileP('ip', ['netns', 'del', ns]).catch(() => {})
}

function removeNamespaceSync(ns: string): void {
  try {
    for (const pid of pidsIn(execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }))) { try { process.kill(pid, 'SIGKILL') } catch { /* gone */ } }
  } catch { /* already gone */ }
  try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }) } catch { /* already gone */ }
}

/** Every lab namespace on the machine, whoever made it (by hand, after a crash). */
export async function removeAllLabs(): Promise<number> {
  const all = labNamespaces()
  for (const ns of all) await removeNamespace(ns)
  return all.length
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv[2] !== 'down') {
    process.stderr.write('usage: node --import tsx scripts/nat-lab.ts down   (removes every cjnat- namespace and what runs in it)\n')
    process.exit(2)
  }
  removeAllLabs().then((n) => process.stdout.write(`removed ${n} lab namespaces\n`), (err: unknown) => { process.stderr.write(`nat-lab: ${String(err)}\n`); process.exit(1) })
}
