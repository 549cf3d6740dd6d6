// --port-mapping against a real gateway the test runs itself: in a NAT lab (namespaces `hupnp-...`)
// the home router runs Debian's miniupnpd (UPnP IGD and NAT-PMP, nftables backend) on its LAN, two
// nodes sit behind it, one with --port-mapping and one without, and a node on the public segment is
// given both at the router's public address. Only the mapped one answers it, though neither ever
// sent it anything; the mapping shows in status.json, `status` and /metrics, and is gone from the
// router's ruleset once that node stopped. SSDP's multicast stays on the lab router's LAN.
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
process.env.CJP2P_NAT_LAB_PREFIX = 'hupnp'
const { NatLab } = await import('../../scripts/nat-lab.ts')
const { LabStun, UpnpGateway, upnpGatewayUnavailable } = await import('../../scripts/upnp-gateway.ts')
type Lab = Awaited<ReturnType<typeof NatLab.create>>

const BIN = resolve(import.meta.dirname, '..', '..', 'bin', 'cjp2p-stream')
/** Each node its own port, so the public node can address each through the one router address. */
const MAPPED_PORT = 24301
const UNMAPPED_PORT = 24302
const PUBLIC_PORT = 24303
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
    lab = await NatLab.create({ publicHosts: ['stun', 'peer'], routers: [{ name: 'home', nat: 'cone', hosts: 2 }] })
    dir = await mkdtemp(join(tmpdir(), 'hupnp-'))
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
  const mappings = () => gateway!.mappings(lab)

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
    assert.doesNotMatch(gateway!.log, new RegExp(`(SSDP M-SEARCH|REQUEST|request received) from \\[?(::ffff:)?${plainIp}\\b`))
    assert.match(gateway!.log, new RegExp(`SSDP M-SEARCH from ${lab.host('homeh1').ip.replaceAll('.', '\\.')}:`), 'the positive control: the flagged node\'s search is in the log')
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
    assert.match(gateway!.log, new RegExp(`DeletePortMapping: external port: ${MAPPED_PORT}, protocol: UDP`))
  })
})
