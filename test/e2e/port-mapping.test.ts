// --port-mapping against a real gateway the test runs itself: in a NAT lab (namespaces `hupnp-...`)
// the home router runs Debian's miniupnpd (UPnP IGD and NAT-PMP, nftables backend) on its LAN, two
// nodes sit behind it, one with --port-mapping and one without, and a node on the public segment is
// given both at the router's public address. Only the mapped one answers it, though neither ever
// sent it anything; the mapping shows in status.json, `status` and /metrics, and is gone from the
// router's ruleset once that node stopped. SSDP's multicast stays on the lab router's LAN.
//
// miniupnpd 2.3.1 maps nothing while its WAN address is private, and the lab's must be (no public
// address may appear here): a STUN responder on the public segment (test/helpers/stun-responder.ts)
// tells it the router is reachable as itself, which is true in the lab.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'
import { Proc, sleep } from '../../scripts/chaos-swarm.ts'
import type { NodeStatus } from '../../src/metrics/node-status.ts'
import { until } from '../helpers/cli-process.ts'

// Our own namespaces' prefix, so the reaper and `down` of other people's labs leave ours alone.
process.env.CJP2P_NAT_LAB_PREFIX = 'hupnp'
const { NatLab } = await import('../../scripts/nat-lab.ts')
type Lab = Awaited<ReturnType<typeof NatLab.create>>

const MINIUPNPD = '/usr/sbin/miniupnpd'
const STUN = fileURLToPath(new URL('../helpers/stun-responder.ts', import.meta.url))
const BIN = resolve(import.meta.dirname, '..', '..', 'bin', 'cjp2p-stream')
const STUN_PORT = 3478
/** Each node its own port, so the public node can address each through the one router address. */
const MAPPED_PORT = 24301
const UNMAPPED_PORT = 24302
const PUBLIC_PORT = 24303
const HTTP_PORT = 24310

function has(cmd: string): boolean {
  try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true } catch { return false }
}

async function unavailable(): Promise<string | null> {
  const lab = await NatLab.unavailable()
  if (lab) return lab
  try { execFileSync(MINIUPNPD, ['--version'], { stdio: 'ignore' }) } catch { return `miniupnpd is missing (${MINIUPNPD}); apt-get install -y miniupnpd-nftables` }
  if (!has('nft')) return 'nft is missing (miniupnpd\'s nftables chains are made with it); apt-get install -y nftables'
  if (!has('curl')) return 'curl is missing (it reads each node\'s status inside its namespace); apt-get install -y curl'
  return null
}

const why = await unavailable()
if (why) process.stderr.write(`\n*** SKIPPING the port-mapping test against miniupnpd: ${why} ***\n\n`)

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

function miniupnpdConf(stunIp: string, lan: string): string {
  return [
    'ext_ifname=wan0', 'listening_ip=lan0',
    'ext_perform_stun=yes', `ext_stun_host=${stunIp}`, `ext_stun_port=${STUN_PORT}`,
    'enable_upnp=yes', 'enable_natpmp=yes', 'secure_mode=yes', 'notify_interval=60',
    'uuid=8f0e3a52-5a0b-4c61-9d1b-2f0e8c7a4b10',
    `allow 1024-65535 ${lan}.0/24 1024-65535`, 'deny 0-65535 0.0.0.0/0 0-65535',
  ].join('\n') + '\n'
}

describe('--port-mapping against miniupnpd in a NAT lab', { skip: why ?? false }, () => {
  let lab: Lab
  let dir: string
  let gateway: ChildProcess | undefined
  let gatewayLog = ''
  let stun: ChildProcess | undefined
  const procs: Proc[] = []

  before(async () => {
    lab = await NatLab.create({ publicHosts: ['stun', 'peer'], routers: [{ name: 'home', nat: 'cone', hosts: 2 }] })
    dir = await mkdtemp(join(tmpdir(), 'hupnp-'))
    const stunIp = lab.host('stun').ip
    stun = lab.spawn('stun', process.execPath, ['--import', 'tsx', STUN, String(STUN_PORT)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let stunOut = ''
    stun.stdout!.setEncoding('utf8').on('data', (s: string) => { stunOut += s })
    await until('the STUN responder to bind', 30_000, () => stunOut.includes('listening'), 100)
    // The router: miniupnpd's chains, and two holes in the lab's filter that a router running
    // miniupnpd has: forwarded (DNAT) inbound, and the STUN answers to the router itself.
    await writeFile(join(dir, 'chains.nft'), NFT_CHAINS)
    await lab.exec('home', 'nft', ['-f', join(dir, 'chains.nft')])
    await lab.exec('home', 'iptables', ['-I', 'FORWARD', '1', '-i', 'wan0', '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'ACCEPT'])
    await lab.exec('home', 'iptables', ['-I', 'INPUT', '1', '-i', 'wan0', '-p', 'udp', '-s', stunIp, '-j', 'ACCEPT'])
    const lan = lab.host('homeh1').ip.replace(/\.\d+$/, '')
    await writeFile(join(dir, 'miniupnpd.conf'), miniupnpdConf(stunIp, lan))
    gateway = lab.spawn('home', MINIUPNPD, ['-f', join(dir, 'miniupnpd.conf'), '-d', '-P', join(dir, 'miniupnpd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] })
    for (const s of [gateway.stdout!, gateway.stderr!]) s.setEncoding('utf8').on('data', (t: string) => { gatewayLog = (gatewayLog + t).slice(-64_000) })
    await until('miniupnpd to enable port forwarding and listen', 30_000, () => gatewayLog.includes('Port forwarding is now enabled') && gatewayLog.includes('HTTP listening'), 100)
  })

  after(async () => {
    for (const p of procs) await p.stop()
    gateway?.kill('SIGTERM')
    stun?.kill('SIGTERM')
    await lab?.close()
    if (dir) await rm(dir, { recursive: true, force: true, maxRetries: 3 })
  })

  const start = (host: string, port: number, extra: string[]): Proc => {
    const p = Proc.start(['node', '--port', String(port), '--http-port', String(HTTP_PORT), '--dir', join(dir, host), '--json', '--log-level', 'info', ...extra], lab.wrap(host))
    procs.push(p)
    return p
  }
  const status = async (host: string): Promise<NodeStatus | null> => {
    try { return JSON.parse(await lab.exec(host, 'curl', ['-sf', '-m', '5', `http://127.0.0.1:${HTTP_PORT}/status.json`])) as NodeStatus } catch { return null }
  }
  const mappings = () => lab.exec('home', 'nft', ['list', 'chain', 'inet', 'filter', 'prerouting_miniupnpd'])

  it('maps the flagged node\'s port, a public node reaches it unsolicited (not the other), and the mapping goes at shutdown', async () => {
    const routerIp = lab.routerIps.get('home')!
    const mapped = start('homeh1', MAPPED_PORT, ['--port-mapping'])
    const plain = start('homeh2', UNMAPPED_PORT, [])
    await Promise.all([mapped.json(), plain.json()])

    await until('the flagged node to hold a mapping', 60_000, async () => (await status('homeh1'))?.nat.portMapping?.state === 'mapped', 500)
    const pm = (await status('homeh1'))!.nat.portMapping!
    assert.equal(pm.externalAddress, `${routerIp}:${MAPPED_PORT}`)
    assert.equal(pm.internalAddress, `${lab.host('homeh1').ip}:${MAPPED_PORT}`)
    assert.equal(pm.gateway, lab.host('homeh1').ip.replace(/\.\d+$/, '.1'))
    assert.match(await mappings(), new RegExp(`dport ${MAPPED_PORT} dnat ip to ${lab.host('homeh1').ip.replaceAll('.', '\\.')}:${MAPPED_PORT}`))
    assert.equal((await status('homeh2'))!.nat.portMapping, null, 'no mapping without the flag')
    assert.doesNotMatch(await mappings(), new RegExp(`dport ${UNMAPPED_PORT}\\b`))
    // Without the flag a node sends the gateway nothing at all: no SSDP search, no SOAP or NAT-PMP request.
    const plainIp = lab.host('homeh2').ip.replaceAll('.', '\\.')
    assert.doesNotMatch(gatewayLog, new RegExp(`(SSDP M-SEARCH|REQUEST|request received) from \\[?(::ffff:)?${plainIp}\\b`))
    assert.match(gatewayLog, new RegExp(`SSDP M-SEARCH from ${lab.host('homeh1').ip.replaceAll('.', '\\.')}:`), 'the positive control: the flagged node\'s search is in the log')
    assert.match(await lab.exec('homeh1', 'curl', ['-sf', '-m', '5', `http://127.0.0.1:${HTTP_PORT}/metrics`]), /^cjp2p_port_mapped 1$/m)
    assert.match(await lab.exec('homeh2', 'curl', ['-sf', '-m', '5', `http://127.0.0.1:${HTTP_PORT}/metrics`]), /^cjp2p_port_mapped 0$/m)
    const line = await lab.exec('homeh1', process.execPath, [BIN, 'status', '--http-port', String(HTTP_PORT)])
    assert.match(line, new RegExp(`port mapping  ${routerIp.replaceAll('.', '\\.')}:${MAPPED_PORT} -> `))

    // Neither node behind the router ever sent to the public one: it is given both at the router.
    const pub = start('peer', PUBLIC_PORT, ['--peer', `${routerIp}:${MAPPED_PORT}`, '--peer', `${routerIp}:${UNMAPPED_PORT}`])
    await pub.json()
    const verified = async (addr: string) => (await status('peer'))?.peers.some((p) => p.addr === addr && p.verified) ?? false
    await until('the public node to reach the mapped node', 60_000, () => verified(`${routerIp}:${MAPPED_PORT}`), 500)
    const publicAddr = `${lab.host('peer').ip}:${PUBLIC_PORT}`
    assert.ok((await status('homeh1'))!.peers.some((p) => p.addr === publicAddr), 'the mapped node heard the public node')
    // The control: the same router, no mapping, given the same time again (generous) and more.
    await sleep(8000)
    assert.equal(await verified(`${routerIp}:${UNMAPPED_PORT}`), false, 'the node without a mapping is unreachable')
    assert.ok(!(await status('homeh2'))!.peers.some((p) => p.addr === publicAddr), 'the node without a mapping never heard the public node')

    await mapped.stop()
    assert.equal(mapped.exit?.code, 0, `clean exit (stderr: ${mapped.err.slice(-1000)})`)
    assert.match(mapped.err, /port mapping removed/)
    assert.doesNotMatch(await mappings(), new RegExp(`dport ${MAPPED_PORT}\\b`))
    assert.match(gatewayLog, new RegExp(`DeletePortMapping: external port: ${MAPPED_PORT}, protocol: UDP`))
  })
})
