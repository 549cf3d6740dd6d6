// A UPnP Internet Gateway Device on a NAT-lab router: Debian's miniupnpd 2.3.1 (nftables backend)
// listening on the router's LAN, for nodes run with --port-mapping (the e2e port-mapping tests and
// `npm run bench:nat -- --upnp N`). Nothing here leaves the lab's namespaces: SSDP's multicast stays
// on the router's LAN bridge.
//
// miniupnpd 2.3.1 maps nothing while its WAN address is private, and the lab's must be (no public
// address may appear in this project): a STUN responder on the public segment (stun-responder.ts)
// tells it the router is reachable as itself, which in the lab is true.
import { execFileSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { NatLab } from './nat-lab.ts'

export const MINIUPNPD = '/usr/sbin/miniupnpd'
const STUN = fileURLToPath(new URL('./stun-responder.ts', import.meta.url))
const STUN_PORT = 3478
/** miniupnpd asks STUN and lists its SSDP and HTTP sockets within a second or two; generous for a loaded machine. */
const READY_MS = 30_000

/** The chains miniupnpd 2.3.1's nftables backend writes its rules into (it does not make them).
 * The forward policy is accept: the lab's iptables rules do the router's filtering. */
const NFT_CHAINS = `table inet filter {
  chain forward { type filter hook forward priority 0; policy accept; jump miniupnpd; }
  chain miniupnpd { }
  chain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }
  chain postrouting { type nat hook postrouting priority 100; policy accept; jump postrouting_miniupnpd; }
  chain prerouting_miniupnpd { }
  chain postrouting_miniupnpd { }
}
`

function has(cmd: string): boolean {
  try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true } catch { return false }
}

/** Why a lab gateway cannot run here (the lab itself is checked by NatLab.unavailable), or null. */
export function upnpGatewayUnavailable(): string | null {
  try { execFileSync(MINIUPNPD, ['--version'], { stdio: 'ignore' }) } catch { return `miniupnpd is missing (${MINIUPNPD}); apt-get install -y miniupnpd-nftables` }
  if (!has('nft')) return 'nft is missing (miniupnpd\'s nftables chains are made with it); apt-get install -y nftables'
  return null
}

function miniupnpdConf(stunIp: string, lan: string, uuid: string): string {
  return [
    'ext_ifname=wan0', 'listening_ip=lan0',
    'ext_perform_stun=yes', `ext_stun_host=${stunIp}`, `ext_stun_port=${STUN_PORT}`,
    'enable_upnp=yes', 'enable_natpmp=yes', 'secure_mode=yes', 'notify_interval=60',
    `uuid=${uuid}`,
    `allow 1024-65535 ${lan}.0/24 1024-65535`, 'deny 0-65535 0.0.0.0/0 0-65535',
  ].join('\n') + '\n'
}

/** Waits until `ready()` holds, or throws with what the process said. */
async function waitFor(what: string, ready: () => boolean, said: () => string): Promise<void> {
  const t0 = Date.now()
  while (!ready()) {
    if (Date.now() - t0 > READY_MS) throw new Error(`${what} did not start within ${READY_MS / 1000} s: ${said().slice(-2000)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** The STUN responder every lab gateway asks, on a public host of the lab. */
export class LabStun {
  private constructor(readonly ip: string, private readonly proc: ChildProcess) {}

  static async start(lab: NatLab, host: string): Promise<LabStun> {
    const proc = lab.spawn(host, process.execPath, ['--import', 'tsx', STUN, String(STUN_PORT)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    proc.stdout!.setEncoding('utf8').on('data', (s: string) => { out += s })
    await waitFor('the STUN responder', () => out.includes('listening'), () => out)
    return new LabStun(lab.host(host).ip, proc)
  }

  stop(): void { this.proc.kill('SIGTERM') }
}

/** miniupnpd on one lab router, with the holes in the lab's filter a router running it has:
 * forwarded (DNAT) inbound, and STUN's answers to the router itself. */
export class UpnpGateway {
  /** The daemon's output (-d: it logs every SSDP search, SOAP request and mapping), the last 64 kB. */
  log = ''

  private constructor(readonly router: string, private readonly proc: ChildProcess) {
    for (const s of [proc.stdout!, proc.stderr!]) s.setEncoding('utf8').on('data', (t: string) => { this.log = (this.log + t).slice(-64_000) })
  }

  /** `dir`: where its config, pid file and chains go (one directory per gateway). `n` makes its UUID unique in the lab. */
  static async start(lab: NatLab, router: string, stun: LabStun, dir: string, n = 0): Promise<UpnpGateway> {
    await writeFile(join(dir, 'chains.nft'), NFT_CHAINS)
    await lab.exec(router, 'nft', ['-f', join(dir, 'chains.nft')])
    await lab.exec(router, 'iptables', ['-I', 'FORWARD', '1', '-i', 'wan0', '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'ACCEPT'])
    await lab.exec(router, 'iptables', ['-I', 'INPUT', '1', '-i', 'wan0', '-p', 'udp', '-s', stun.ip, '-j', 'ACCEPT'])
    const lan = lab.host(`${router}h1`).ip.replace(/\.\d+$/, '')
    const uuid = `8f0e3a52-5a0b-4c61-9d1b-${(0x2f0e8c7a4b10 + n).toString(16).padStart(12, '0')}`
    await writeFile(join(dir, 'miniupnpd.conf'), miniupnpdConf(stun.ip, lan, uuid))
    const proc = lab.spawn(router, MINIUPNPD, ['-f', join(dir, 'miniupnpd.conf'), '-d', '-P', join(dir, 'miniupnpd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] })
    const gw = new UpnpGateway(router, proc)
    await waitFor(`miniupnpd on ${router}`, () => gw.log.includes('Port forwarding is now enabled') && gw.log.includes('HTTP listening'), () => gw.log)
    return gw
  }

  /** The port mappings in its ruleset (nft's listing of miniupnpd's DNAT chain). */
  mappings(lab: NatLab): Promise<string> { return lab.exec(this.router, 'nft', ['list', 'chain', 'inet', 'filter', 'prerouting_miniupnpd']) }

  stop(): void { this.proc.kill('SIGTERM') }

  /** Stops the daemon and empties its chains, as a reboot of the router would, and starts a new one
   * (the e2e test of the epoch check). */
  async restartCleared(lab: NatLab, stun: LabStun, dir: string): Promise<UpnpGateway> {
    const exited = this.proc.exitCode !== null ? Promise.resolve() : new Promise((r) => this.proc.once('exit', r))
    this.stop()
    await exited
    for (const chain of ['miniupnpd', 'prerouting_miniupnpd', 'postrouting_miniupnpd']) await lab.exec(this.router, 'nft', ['flush', 'chain', 'inet', 'filter', chain])
    return UpnpGateway.start(lab, this.router, stun, dir)
  }
}
