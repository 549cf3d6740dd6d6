// --port-mapping against a real gateway the test runs itself: in a NAT lab (namespaces `hpmp-...`)
// the home router runs Debian's miniupnpd (UPnP IGD, NAT-PMP and PCP, nftables backend) on its LAN.
// Four nodes sit behind it: one with --port-mapping (PCP, the first protocol tried), one limited to
// NAT-PMP, one to UPnP IGD, and one without the flag. A node on the public segment is given all
// four at the router's public address. Only the three mapped ones answer it, though none ever sent
// it anything; each mapping shows in status.json (with its protocol), `status` and /metrics, and is
// gone from the router's ruleset once its node stopped. SSDP's multicast stays on the lab router's
// LAN, and only the UPnP node sends it.
//
// The gateway and the STUN responder it needs are scripts/upnp-gateway.ts.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Proc, sleep } from '../../scripts/chaos-swarm.ts'
import type { NodeStatus } from '../../src/metrics/node-status.ts'
import type { LabStun as LabStunT, UpnpGateway as UpnpGatewayT } from '../../scripts/upnp-gateway.ts'
import { until } from '../helpers/cli-process.ts'

// Our own namespaces' prefix, so the reaper and `down` of other people's labs leave ours alone.
process.env.CJP2P_NAT_LAB_PREFIX = 'hpmp'
const { NatLab } = await import('../../scripts/nat-lab.ts')
const { LabStun, UpnpGateway, upnpGatewayUnavailable } = await import('../../scripts/upnp-gateway.ts')
type Lab = Awaited<ReturnType<typeof NatLab.create>>

const BIN = resolve(import.meta.dirname, '..', '..', 'bin', 'cjp2p-stream')
/** Each node its own port, so the public node can address each through the one router address. */
const PCP_PORT = 24301
const UNMAPPED_PORT = 24302
const PUBLIC_PORT = 24303
const NAT_PMP_PORT = 24304
const UPNP_PORT = 24305
const HTTP_PORT = 24310

async function unavailable(): Promise<string | null> {
  const lab = await NatLab.unavailable()
  if (lab) return lab
  try { execFileSync('curl', ['--version'], { stdio: 'ignore' }) } catch { return 'curl is missing (it reads each node\'s status inside its namespace); apt-get install -y curl' }
  return upnpGatewayUnavailable()
}

const why = await unavailable()
if (why) process.stderr.write(`\n*** SKIPPING the port-mapping test against miniupnpd: ${why} ***\n\n`)

describe('--port-mapping against miniupnpd in a NAT lab', { skip: why ?? false }, () => {
  let lab: Lab
  let dir: string
  let gateway: UpnpGatewayT | undefined
  let stun: LabStunT | undefined
  const procs: Proc[] = []

  before(async () => {
    lab = await NatLab.create({ publicHosts: ['stun', 'peer'], routers: [{ name: 'home', nat: 'cone', hosts: 4 }] })
    dir = await mkdtemp(join(tmpdir(), 'hpmp-'))
    stun = await LabStun.start(lab, 'stun')
    gateway = await UpnpGateway.start(lab, 'home', stun, dir)
  })

  after(async () => {
    for (const p of procs) await p.stop()
    gateway?.stop()
    stun?.stop()
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
  const metrics = (host: string) => lab.exec(host, 'curl', ['-sf', '-m', '5', `http://127.0.0.1:${HTTP_PORT}/metrics`])
  const mappings = () => gateway!.mappings(lab)
  const re = (s: string) => s.replaceAll('.', '\\.')

  it('maps over PCP, NAT-PMP and UPnP IGD; a public node reaches each unsolicited (not the unflagged one); each mapping goes at shutdown', async () => {
    const routerIp = lab.routerIps.get('home')!
    const nodes = [
      { host: 'homeh1', port: PCP_PORT, protocol: 'pcp', name: 'PCP', proc: start('homeh1', PCP_PORT, ['--port-mapping']) },
      { host: 'homeh3', port: NAT_PMP_PORT, protocol: 'nat-pmp', name: 'NAT-PMP', proc: start('homeh3', NAT_PMP_PORT, ['--port-mapping', '--port-mapping-protocols', 'nat-pmp']) },
      { host: 'homeh4', port: UPNP_PORT, protocol: 'upnp-igd', name: 'UPnP IGD', proc: start('homeh4', UPNP_PORT, ['--port-mapping', '--port-mapping-protocols', 'upnp-igd']) },
    ]
    const plain = start('homeh2', UNMAPPED_PORT, [])
    await Promise.all([...nodes.map((n) => n.proc.json()), plain.json()])

    for (const n of nodes) {
      await until(`${n.host} to hold a mapping over ${n.protocol}`, 60_000, async () => (await status(n.host))?.nat.portMapping?.state === 'mapped', 500)
      const pm = (await status(n.host))!.nat.portMapping!
      assert.equal(pm.protocol, n.protocol, `${n.host} mapped over ${n.protocol}`)
      assert.equal(pm.externalAddress, `${routerIp}:${n.port}`)
      assert.equal(pm.internalAddress, `${lab.host(n.host).ip}:${n.port}`)
      assert.equal(pm.gateway, lab.host(n.host).ip.replace(/\.\d+$/, '.1'))
      assert.match(await mappings(), new RegExp(`dport ${n.port} dnat ip to ${re(lab.host(n.host).ip)}:${n.port}`))
      const m = await metrics(n.host)
      assert.match(m, new RegExp(`^cjp2p_port_mapped\\{protocol="${n.protocol}"\\} 1$`, 'm'))
      assert.equal(m.match(/^cjp2p_port_mapped\{protocol="[a-z-]+"\} 1$/gm)?.length, 1, 'one protocol holds it')
      const line = await lab.exec(n.host, process.execPath, [BIN, 'status', '--http-port', String(HTTP_PORT)])
      assert.match(line, new RegExp(`port mapping  ${re(routerIp)}:${n.port} -> ${re(lab.host(n.host).ip)}:${n.port}  \\(${n.name} at `))
    }
    // miniupnpd says which protocol each request came in (its -d log).
    assert.match(gateway!.log, new RegExp(`PCP MAP: added mapping UDP ${PCP_PORT}->${re(lab.host('homeh1').ip)}:${PCP_PORT}`))
    assert.match(gateway!.log, new RegExp(`NAT-PMP request received from ${re(lab.host('homeh3').ip)}:`))
    assert.equal((await status('homeh2'))!.nat.portMapping, null, 'no mapping without the flag')
    assert.doesNotMatch(await mappings(), new RegExp(`dport ${UNMAPPED_PORT}\\b`))
    assert.doesNotMatch(await metrics('homeh2'), /^cjp2p_port_mapped\{[^}]*\} 1$/m)
    // Without the flag a node sends the gateway nothing at all: no SSDP search, no SOAP, NAT-PMP or PCP request.
    for (const h of ['homeh2', 'homeh1', 'homeh3']) {
      assert.doesNotMatch(gateway!.log, new RegExp(`SSDP M-SEARCH from ${re(lab.host(h).ip)}:`), `${h} multicast no SSDP search`)
    }
    assert.doesNotMatch(gateway!.log, new RegExp(`(REQUEST|request received) from \\[?(::ffff:)?${re(lab.host('homeh2').ip)}\\b`))
    assert.match(gateway!.log, new RegExp(`SSDP M-SEARCH from ${re(lab.host('homeh4').ip)}:`), 'the positive control: the UPnP node\'s search is in the log')

    // None of the nodes behind the router ever sent to the public one: it is given them at the router.
    const pub = start('peer', PUBLIC_PORT, ['--peer', `${routerIp}:${UNMAPPED_PORT}`, ...nodes.flatMap((n) => ['--peer', `${routerIp}:${n.port}`])])
    await pub.json()
    const verified = async (addr: string) => (await status('peer'))?.peers.some((p) => p.addr === addr && p.verified) ?? false
    const publicAddr = `${lab.host('peer').ip}:${PUBLIC_PORT}`
    for (const n of nodes) {
      await until(`the public node to reach the ${n.protocol} node`, 60_000, () => verified(`${routerIp}:${n.port}`), 500)
      assert.ok((await status(n.host))!.peers.some((p) => p.addr === publicAddr), `the ${n.protocol} node heard the public node`)
    }
    // The control: the same router, no mapping, given the same time again (generous) and more.
    await sleep(8000)
    assert.equal(await verified(`${routerIp}:${UNMAPPED_PORT}`), false, 'the node without a mapping is unreachable')
    assert.ok(!(await status('homeh2'))!.peers.some((p) => p.addr === publicAddr), 'the node without a mapping never heard the public node')

    for (const n of nodes) {
      await n.proc.stop()
      assert.equal(n.proc.exit?.code, 0, `clean exit (stderr: ${n.proc.err.slice(-1000)})`)
      assert.match(n.proc.err, new RegExp(`port mapping removed at [0-9.]+ \\(${n.name}\\)`))
      assert.doesNotMatch(await mappings(), new RegExp(`dport ${n.port}\\b`), `the ${n.protocol} mapping is gone from the router`)
    }
    assert.match(gateway!.log, new RegExp(`PCP: UDP port ${PCP_PORT} mapping removed`))
    assert.match(gateway!.log, new RegExp(`DeletePortMapping: external port: ${UPNP_PORT}, protocol: UDP`))
  })
  it('finds a restart of the gateway in its PCP epoch and maps again without waiting for the renewal', async () => {
    const routerIp = lab.routerIps.get('home')!
    // The epoch is read every 2 s here (the hidden flag) rather than once a minute (EPOCH_CHECK_MS),
    // which the test would otherwise wait out; the renewal would be half an hour away.
    const node = start('homeh1', PCP_PORT, ['--port-mapping', '--port-mapping-protocols', 'pcp', '--port-mapping-epoch-check-ms', '2000'])
    await node.json()
    await until('the PCP mapping', 60_000, async () => (await status('homeh1'))?.nat.portMapping?.state === 'mapped', 500)
    // The router reboots: miniupnpd stops, its table is gone, and a new one starts with its epoch at 0.
    gateway = await gateway!.restartCleared(lab, stun!, dir)
    assert.doesNotMatch(await mappings(), new RegExp(`dport ${PCP_PORT}\\b`), 'the restarted gateway has no mapping for us')
    await until('the node to map again', 20_000, async () => (await status('homeh1'))?.nat.portMapping?.gatewayRestarts === 1, 1000)
    await until('the mapping in the new ruleset', 10_000, async () => new RegExp(`dport ${PCP_PORT} dnat ip to ${re(lab.host('homeh1').ip)}:${PCP_PORT}`).test(await mappings()), 500)
    const pm = (await status('homeh1'))!.nat.portMapping!
    assert.equal(pm.state, 'mapped')
    assert.equal(pm.externalAddress, `${routerIp}:${PCP_PORT}`)
    assert.match(node.err, /the gateway at [0-9.]+ restarted \(its epoch says so\); mapping again/)
    await node.stop()
    assert.doesNotMatch(await mappings(), new RegExp(`dport ${PCP_PORT}\\b`))
  })
})
