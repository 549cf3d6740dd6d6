// `npm run bench:nat -- [--scenario public|nat-source|no-nat]... [--seconds 60] [--bitrate 1000k]
//   [--routers 6] [--per-router 4] [--symmetric 1] [--loss 0%] [--encrypt | --no-encrypt] [--json file]
//   [--statuses file] [--node-log-level warn] [--upnp 0] [--stagger 250]`
// --stagger MS: how far apart the viewers start. Each start costs a node about a second of CPU
// (loading and compiling its modules, then a handshake with every peer it meets), so on a small
// machine 24 starts 250 ms apart overrun the cores for the whole join wave (docs/NAT-LAB.md,
// session 10).
// --upnp N: the first N cone routers run a UPnP gateway (miniupnpd, scripts/upnp-gateway.ts) and
// their viewers run with --port-mapping (a STUN responder joins the public segment for the gateways).
// --statuses writes every node's /status.json and the tail of its stderr at the end of each
// scenario (what to read when a run goes wrong), with --node-log-level the nodes' --log-level.
// The stream in the NAT laboratory (scripts/nat-lab.ts), with real `cjp2p-stream ingest testsrc`
// and `watch` processes: viewers behind home routers (all port-restricted cones but the last
// `--symmetric` routers, default 1, which are symmetric), and the source either on the public segment (`public`) or behind a
// cone NAT of its own (`nat-source`), which contacts one public peer that is also told the source's
// public address (its router's, on the port a port-preserving NAT keeps), as a streamer at home
// would tell a friend running a public node; viewers are told only that public peer. `no-nat` is
// the control: the same audience with no NAT at all, on this machine's CPU budget. Prints
// per viewer what it played, where its bytes came from and whether it fed anyone, and the source's
// copies uploaded. Needs root (network namespaces) and iptables; run it under the heavy lock.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { exitUsage, scriptFlags, UsageError } from './script-args.ts'
import { NatLab, type RouterSpec } from './nat-lab.ts'
import { ENCRYPT_BY_DEFAULT } from '../src/cli/options.ts'
import { NatSwarm, type NodeStatus, type StreamStatus } from './nat-swarm.ts'
import { sleep } from './chaos-swarm.ts'
import { natFigures, natTable, type NatFigures } from './bench-nat-report.ts'
import { LabStun, UpnpGateway, upnpGatewayUnavailable } from './upnp-gateway.ts'

const SCENARIOS = ['public', 'nat-source', 'no-nat'] as const
type ScenarioName = typeof SCENARIOS[number]

interface Options { scenarios: ScenarioName[]; seconds: number; bitrate: string; routers: number; perRouter: number; symmetric: number; upnp: number; loss: number; staggerMs: number; json?: string; encrypt?: boolean; statuses?: string; nodeLogLevel?: string }

/** Viewers start this far apart by default, as people arrive, not all in one millisecond. */
const STAGGER_MS = 250
/** How long the public peer may take to get the stream from the source behind a NAT (generous: a loaded machine). */
const RELAY_READY_MS = 40_000

const USAGE = `npm run bench:nat -- [--scenario public|nat-source|no-nat]... [--seconds 60] [--bitrate 1000k]
  [--routers 6] [--per-router 4] [--symmetric 1] [--upnp 0] [--loss 0%] [--encrypt | --no-encrypt]
  [--json file] [--statuses file] [--node-log-level warn] [--stagger 250]
The NAT laboratory in network namespaces (needs root): a source and viewers behind home routers;
prints copies, completeness, delay and relaying per scenario (docs/NAT-LAB.md).`

function parse(argv: string[]): Options {
  const values = scriptFlags('bench:nat', USAGE, {
    scenario: { type: 'string', multiple: true }, seconds: { type: 'string' }, bitrate: { type: 'string' },
    routers: { type: 'string' }, 'per-router': { type: 'string' }, symmetric: { type: 'string' }, upnp: { type: 'string' }, loss: { type: 'string' }, json: { type: 'string' }, encrypt: { type: 'boolean' }, 'no-encrypt': { type: 'boolean' },
    statuses: { type: 'string' }, 'node-log-level': { type: 'string' }, stagger: { type: 'string' },
  }, argv)
  const int = (v: string | undefined, name: string, def: number, min: number, max: number) => {
    if (v === undefined) return def
    const n = Number(v)
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}`)
    return n
  }
  const scenarios = (values.scenario ?? [...SCENARIOS]) as ScenarioName[]
  for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new UsageError(`unknown scenario "${s}" (known: ${SCENARIOS.join(', ')})`)
  const bitrate = values.bitrate ?? '1000k'
  if (!/^\d+(\.\d+)?[kM]?$/.test(bitrate)) throw new UsageError(`bad --bitrate "${bitrate}" (want e.g. 1000k or 2M)`)
  const lossText = values.loss ?? '0'
  const loss = parseFloat(lossText) / (lossText.endsWith('%') ? 100 : 1)
  if (!(loss >= 0 && loss < 0.5)) throw new UsageError('--loss must be from 0 to 50 %')
  const routers = int(values.routers, 'routers', 6, 2, 20)
  const symmetric = int(values.symmetric, 'symmetric', 1, 0, routers)
  return {
    scenarios, bitrate, loss, json: values.json, routers, encrypt: values.encrypt ? true : values['no-encrypt'] ? false : undefined, statuses: values.statuses, nodeLogLevel: values['node-log-level'],
    seconds: int(values.seconds, 'seconds', 60, 10, 3600),
    perRouter: int(values['per-router'], 'per-router', 4, 1, 10),
    symmetric,
    upnp: int(values.upnp, 'upnp', 0, 0, routers - symmetric),
    staggerMs: int(values.stagger, 'stagger', STAGGER_MS, 0, 10_000),
  }
}

async function runScenario(name: ScenarioName, o: Options, log: (s: string) => void): Promise<NatFigures> {
  const loadAtStart = loadavg()[0]
  const cones = o.routers - o.symmetric
  const routers: RouterSpec[] = Array.from({ length: o.routers }, (_, i) =>
    i < cones ? { name: `cone${i + 1}`, nat: 'cone', hosts: o.perRouter } : { name: `sym${i - cones + 1}`, nat: 'symmetric', hosts: o.perRouter })
  const natSource = name === 'nat-source'
  if (natSource) routers.unshift({ name: 'home', nat: 'cone', hosts: 1 })
  // The control: the same audience on the public segment, no NAT anywhere (what this machine and
  // the current code give without NATs).
  const audience = name === 'no-nat' ? Array.from({ length: o.routers * o.perRouter }, (_, i) => `v${i + 1}`) : []
  // The cone routers that run a UPnP gateway; their viewers ask it for a port mapping.
  const upnp = new Set(name === 'no-nat' ? [] : routers.filter((r) => r.nat === 'cone' && r.name !== 'home').slice(0, o.upnp).map((r) => r.name))
  const lab = await NatLab.create({ publicHosts: [natSource ? 'relay' : 'src', ...audience, ...(upnp.size ? ['stun'] : [])], routers: name === 'no-nat' ? [] : routers, loss: o.loss })
  const dir = await mkdtemp(join(tmpdir(), 'cjp2p-natbench-'))
  const swarm = new NatSwarm(lab, dir, { bitrate: o.bitrate, encrypt: o.encrypt, logLevel: o.nodeLogLevel })
  const gateways: UpnpGateway[] = []
  let stun: LabStun | undefined
  try {
    if (upnp.size) {
      stun = await LabStun.start(lab, 'stun')
      for (const r of upnp) {
        const gwDir = join(dir, `gateway-${r}`)
        await mkdir(gwDir)
        gateways.push(await UpnpGateway.start(lab, r, stun, gwDir, gateways.length))
      }
      log(`  UPnP gateways (miniupnpd) on ${[...upnp].join(', ')}: their viewers run with --port-mapping`)
    }
    const sourceHost = natSource ? 'homeh1' : 'src'
    const entry = natSource ? 'relay' : 'src'
    await swarm.startSource(sourceHost, natSource ? ['relay'] : [])
    log(`  source up on ${sourceHost} (${lab.host(sourceHost).ip}${natSource ? `, behind a cone NAT, public ${lab.publicIp(sourceHost)}` : ''}): ${swarm.id}`)
    if (natSource) {
      swarm.startViewer('relay', [sourceHost])
      await swarm.ready()
      const t0 = Date.now()
      let st: StreamStatus | null = null
      while (Date.now() - t0 < RELAY_READY_MS && !((st = await swarm.streamStatus('relay'))?.verifiedChunks)) await sleep(1000)
      if (st?.verifiedChunks) log(`  the public peer has the stream after ${((Date.now() - t0) / 1000).toFixed(1)} s`)
      else log(`  *** the public peer did not get the stream in ${RELAY_READY_MS / 1000} s; measuring anyway ***`)
    }
    // Let the source build up a few segments, so joiners find a live edge with history behind it.
    await sleep(4000)
    const viewers = audience.length ? audience : routers.filter((r) => r.name !== 'home').flatMap((r) => Array.from({ length: r.hosts }, (_, j) => `${r.name}h${j + 1}`))
    for (const v of viewers) { swarm.startViewer(v, [entry], upnp.has(lab.host(v).router?.name ?? '') ? ['--port-mapping'] : []); await sleep(o.staggerMs) }
    await swarm.ready()
    const cpu0 = viewers.map((v) => swarm.cpuTimes(v))
    const sourceCpu0 = swarm.cpuSeconds(sourceHost)
    const t0 = Date.now()
    log(`  ${viewers.length} viewers up${audience.length ? ' on the public segment' : ` behind ${o.routers} routers`}; running ${o.seconds} s`)
    const end = Date.now() + o.seconds * 1000
    while (Date.now() < end) {
      await sleep(Math.min(10_000, end - Date.now()))
      const s = await swarm.streamStatus(sourceHost)
      log(`  ${Math.round(o.seconds - (end - Date.now()) / 1000)} s: source ${s ? `${s.copiesUploaded.toFixed(2)}x uploaded since ingest began` : 'status unreadable'}`)
      const dead = swarm.crashed()
      if (dead.length) throw new Error(`nodes exited during the run:\n${dead.join('\n')}`)
    }
    const hosts = [sourceHost, ...(natSource ? ['relay'] : []), ...viewers]
    const statuses = new Map<string, StreamStatus | null>(await Promise.all(hosts.map(async (h) => [h, await swarm.streamStatus(h)] as const)))
    const nodes = new Map<string, NodeStatus | null>(await Promise.all(hosts.map(async (h) => [h, await swarm.status(h)] as const)))
    const stopAt = Date.now()
    // CPU is read at the stop, before the counters and the dump below (the nodes keep running meanwhile).
    const cpu = viewers.map((v, i) => { const t = swarm.cpuTimes(v); return { user: t.user - cpu0[i].user, system: t.system - cpu0[i].system } })
    const share = (s: number) => s / viewers.length / ((stopAt - t0) / 1000)
    const cpuShareOfCorePerViewer = share(cpu.reduce((a, c) => a + c.user + c.system, 0))
    const cpuKernelShareOfCorePerViewer = share(cpu.reduce((a, c) => a + c.system, 0))
    const cpuShareOfCoreSource = (swarm.cpuSeconds(sourceHost) - sourceCpu0) / ((stopAt - t0) / 1000)
    const udpErrors = await kernelUdpErrors(lab, hosts)
    if (o.statuses) {
      const dump = Object.fromEntries(hosts.map((h) => [h, { status: nodes.get(h), stderr: swarm.nodes.get(h)?.proc.err ?? '' }]))
      await writeFile(`${o.statuses}.${name}.json`, JSON.stringify(dump) + '\n')
      log(`  wrote ${o.statuses}.${name}.json`)
    }
    await swarm.stop()
    // A node killed at the stop may lose its last batch of verified marks: its store, which the
    // figures read, then lacks segments it held (docs/NAT-LAB.md, session 23).
    const uncleanAtStop = hosts.filter((h) => { const e = swarm.nodes.get(h)?.proc.exit; return e != null && (e.signal !== null || e.code !== 0) })
    const title = { public: 'source on the public segment', 'nat-source': 'source behind a cone NAT, one public peer', 'no-nat': 'control: no NAT, every viewer on the public segment' }[name]
    return await natFigures({ scenario: `${title}${upnp.size ? `, UPnP gateways on ${upnp.size} cone routers` : ''}, ${(o.encrypt ?? ENCRYPT_BY_DEFAULT) ? 'encrypted' : 'plain'}, viewers started ${o.staggerMs} ms apart`, seconds: o.seconds, bitrate: o.bitrate, lab, dir, id: swarm.id, sourceHost, entryHost: natSource ? entry : null, stopAt, statuses, nodes, cpuShareOfCorePerViewer, cpuKernelShareOfCorePerViewer, cpuShareOfCoreSource, loadAtStart, loadAverage: loadavg()[0], udpErrors, uncleanAtStop })
  } finally {
    await swarm.stop()
    for (const g of gateways) g.stop()
    stun?.stop()
    await lab.close()
    await rm(dir, { recursive: true, force: true, maxRetries: 3 })
  }
}

/** The kernel's UDP error counters (/proc/net/snmp, one per network namespace) summed over the
 * nodes' hosts: datagrams a socket's receive buffer had no room for are lost before any node sees
 * them, which a starved process on a loaded machine causes. */
async function kernelUdpErrors(lab: NatLab, hosts: string[]): Promise<Record<string, number>> {
  const sum: Record<string, number> = {}
  for (const h of hosts) {
    const lines = (await lab.exec(h, 'cat', ['/proc/net/snmp']).catch(() => '')).split('\n').filter((l) => l.startsWith('Udp: '))
    if (lines.length < 2) continue
    const names = lines[0].split(' ').slice(1)
    const values = lines[1].split(' ').slice(1).map(Number)
    names.forEach((n, i) => { if (/Errors$/.test(n)) sum[n] = (sum[n] ?? 0) + (values[i] || 0) })
  }
  return sum
}

async function main(): Promise<void> {
  // Exit (not die) on Ctrl-C, so the exit hooks remove the lab and stop its processes.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130))
  const o = parse(process.argv.slice(2))
  const log = (s: string) => process.stderr.write(s + '\n')
  const why = await NatLab.unavailable()
  if (why) { log(`bench:nat: cannot build the NAT lab here: ${why}`); process.exit(1) }
  const noGateway = o.upnp > 0 ? upnpGatewayUnavailable() : null
  if (noGateway) { log(`bench:nat: --upnp needs a lab gateway: ${noGateway}`); process.exit(1) }
  const results: NatFigures[] = []
  for (const name of o.scenarios) {
    log(`scenario ${name}`)
    const f = await runScenario(name, o, log)
    results.push(f)
    process.stdout.write(natTable(f) + '\n\n')
  }
  if (o.json) { await writeFile(o.json, JSON.stringify(results, null, 2) + '\n'); log(`wrote ${o.json}`) }
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) exitUsage('bench:nat', err)
  process.stderr.write(`bench:nat failed: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
})
