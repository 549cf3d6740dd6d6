// PortMapping's states on virtual time through UPnP IGD alone, with a gateway in memory that records
// what it was asked (the real gateway, miniupnpd in a NAT lab, is test/e2e/port-mapping.test.ts):
// renewal at half the lease, one warning for a failure that repeats, a retry that finds a gateway
// later, removal at close. PCP and NAT-PMP: port-mapping-pcp.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Gateway, MapPortOptions, PortMapping as LibMapping } from '@achingbrain/nat-port-mapper'
import { PortMapping, RETRY_MS, LEASE_SECONDS } from '../../src/mesh/nat/port-mapping.ts'
import { REQUEST_TIMEOUT_MS } from '../../src/mesh/nat/gateway-socket.ts'
import { internalHost } from '../../src/mesh/nat/lan-address.ts'
import { SelfAddresses } from '../../src/mesh/self-addresses.ts'
import { VirtualTimers, realTimers, type Timer } from '../../src/util/timers.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'

class MemoryGateway implements Gateway {
  id = 'igd'; host = '192.168.7.1'; port = 5000; family = 'IPv4' as const
  maps: Array<{ port: number; host: string; opts?: MapPortOptions }> = []
  unmapped: number[] = []
  stopped = 0
  refuse: Error | null = null
  /** Never answers, signal or not (an SSDP or SOAP reply lost, a library that does not abort). */
  hang = false
  /** Added to the external port: a gateway that hands out another port at a renewal. */
  shift = 1
  async map(port: number, host: string, opts?: MapPortOptions): Promise<LibMapping> {
    if (this.refuse) throw this.refuse
    if (this.hang) return new Promise(() => {})
    this.maps.push({ port, host, opts })
    return { externalHost: '10.99.0.9', externalPort: port + this.shift, internalHost: host, internalPort: port, protocol: 'UDP' }
  }
  async unmap(port: number): Promise<void> { this.unmapped.push(port) }
  async stop(): Promise<void> { this.stopped++ }
  async externalIp(): Promise<string> { return '10.99.0.9' }
  async *mapAll(): AsyncGenerator<LibMapping> { /* not used */ }
}

/** Virtual time that records which timeouts were asked to run in the background. */
class RecordingTimers extends VirtualTimers {
  readonly background: boolean[] = []
  override setTimeout(fn: () => void, ms: number, opts?: { background?: boolean }): Timer {
    this.background.push(opts?.background === true)
    return super.setTimeout(fn, ms)
  }
}

/** A clock that can be stepped back (NTP, a suspended VM): timers fire when due, now() reads earlier. */
class SteppedTimers extends RecordingTimers {
  back = 0
  override now(): number { return super.now() - this.back }
}

function setup(find: () => Promise<Gateway>) {
  const timers = new SteppedTimers({ start: 1_000_000 })
  const log = recordingLogger()
  const selves = new SelfAddresses('192.168.7.20:4000', () => [])
  const mapped: Array<string | null> = []
  const told: Array<string | null> = []
  const pm = new PortMapping({ timers, log, selves, metrics: { setPortMapped: (m) => mapped.push(m) }, onMapped: (a) => told.push(a), findGateway: find }, { localAddress: '192.168.7.20:4000', protocols: ['upnp-igd'] })
  return { timers, log, selves, mapped, told, pm }
}

test('maps our UDP port, learns the public address as ours, renews at half the lease, removes it at close', async () => {
  const gw = new MemoryGateway()
  const { timers, selves, mapped, told, pm } = setup(async () => gw)
  pm.start()
  await timers.run(timers.now() + 1000)
  assert.equal(pm.state, 'mapped')
  assert.deepEqual(gw.maps.map((m) => [m.port, m.host, m.opts?.protocol, m.opts?.autoRefresh, m.opts?.ttl]), [[4000, '192.168.7.20', 'udp', false, LEASE_SECONDS * 1000]])
  const st = pm.status()
  assert.equal(st.externalAddress, '10.99.0.9:4001')
  assert.equal(st.internalAddress, '192.168.7.20:4000')
  assert.equal(st.gateway, '192.168.7.1')
  assert.ok(selves.has('10.99.0.9:4001') && !selves.isLocal('10.99.0.9:4001'), 'the mapped address is ours, learned')
  await timers.run(timers.now() + LEASE_SECONDS * 500 - 2000)
  assert.equal(gw.maps.length, 1, 'not renewed before half the lease')
  await timers.run(timers.now() + 2000)
  assert.equal(gw.maps.length, 2, 'renewed at half the lease')
  assert.equal(pm.status().renewals, 1)
  await timers.run(timers.now() + LEASE_SECONDS * 500)
  assert.equal(pm.status().renewals, 2)
  await pm.close()
  await pm.close()
  assert.deepEqual(gw.unmapped, [4001], 'the external port is unmapped once')
  assert.equal(gw.stopped, 1)
  assert.equal(pm.state, 'closed')
  assert.deepEqual(mapped, ['upnp-igd', null])
  assert.deepEqual(told, ['10.99.0.9:4001'], 'peers are told the mapping once, not at each renewal')
  assert.equal(timers.active, 0, 'no timer left')
})

test('no gateway: one warning, the node goes on, a retry later finds one', async () => {
  let gw: MemoryGateway | null = null
  const { timers, log, pm } = setup(async () => { if (!gw) throw new Error('the search ended'); return gw })
  pm.start()
  await timers.run(timers.now() + 1000)
  assert.equal(pm.state, 'failed')
  assert.match(pm.status().lastError!, /^UPnP IGD: no UPnP gateway answered on the LAN/)
  await timers.run(timers.now() + RETRY_MS)
  assert.equal(pm.status().failures, 2)
  assert.equal(log.lines.filter(([lvl]) => lvl === 'warn').length, 1, 'a repeated failure is not warned again')
  assert.match(log.lines.find(([lvl]) => lvl === 'warn')![1], /^port mapping failed: UPnP IGD: no UPnP gateway answered on the LAN \(the search ended\); going on without it/)
  gw = new MemoryGateway()
  await timers.run(timers.now() + RETRY_MS)
  assert.equal(pm.state, 'mapped')
  await pm.close()
  assert.equal(timers.active, 0)
})

test('a refusal, and a renewal refused later, both fail cleanly and are retried', async () => {
  const gw = new MemoryGateway()
  const { timers, told, pm } = setup(async () => gw)
  gw.refuse = new Error('ConflictInMappingEntry')
  pm.start()
  await timers.run(timers.now() + 1000)
  assert.equal(pm.state, 'failed')
  assert.equal(pm.status().lastError, 'UPnP IGD: ConflictInMappingEntry')
  assert.equal(gw.stopped, 1, 'the refusing gateway client is stopped; the next attempt searches afresh')
  gw.refuse = null
  await timers.run(timers.now() + RETRY_MS)
  assert.equal(pm.state, 'mapped')
  gw.refuse = new Error('gone')
  await timers.run(timers.now() + LEASE_SECONDS * 500)
  assert.equal(pm.state, 'failed')
  assert.equal(pm.status().externalAddress, null)
  assert.deepEqual(told, ['10.99.0.9:4001', null], 'the lost mapping is told too (the first refusal had none to lose)')
  await pm.close()
  assert.deepEqual(gw.unmapped, [], 'nothing to remove after a failed renewal')
})

test('closed while searching: nothing is mapped afterwards', async () => {
  const gw = new MemoryGateway()
  let release!: () => void
  const { timers, pm } = setup(() => new Promise((r) => { release = () => r(gw) }))
  pm.start()
  await timers.run(timers.now() + 10)
  await pm.close()
  release()
  await timers.run(timers.now() + 1000)
  assert.equal(pm.state, 'closed')
  assert.equal(gw.maps.length, 0)
})

test('the internal address is our LAN address on the gateway\'s subnet', () => {
  assert.equal(internalHost('192.168.7.20:4000', '192.168.7.1'), '192.168.7.20')
  assert.throws(() => internalHost('127.0.0.1:4000', '192.168.7.1'), /no LAN address of ours/)
})

test('start() while an attempt is in flight does not begin a second one', async () => {
  const gw = new MemoryGateway()
  let searches = 0
  let release = () => {}
  const { timers, pm } = setup(() => { searches++; return new Promise((r) => { release = () => r(gw) }) })
  pm.start()
  await timers.run(timers.now() + 10)
  pm.start()
  pm.start()
  release()
  await timers.run(timers.now() + 1000)
  assert.equal(pm.state, 'mapped')
  assert.equal(searches, 1, 'one search')
  assert.equal(gw.maps.length, 1, 'one mapping')
  await pm.close()
})

test('a renewal answered with another port: the old address is forgotten and peers are told the new one', async () => {
  const gw = new MemoryGateway()
  const { timers, selves, told, pm } = setup(async () => gw)
  pm.start()
  await timers.run(timers.now() + 1000)
  assert.ok(selves.has('10.99.0.9:4001'))
  gw.shift = 7
  await timers.run(timers.now() + LEASE_SECONDS * 500)
  assert.equal(pm.status().externalAddress, '10.99.0.9:4007')
  assert.ok(selves.has('10.99.0.9:4007'), 'the new address is ours')
  assert.ok(!selves.has('10.99.0.9:4001'), 'the old one is not any more')
  assert.ok(selves.has('192.168.7.20:4000'), 'our socket\'s address stays')
  assert.deepEqual(told, ['10.99.0.9:4001', '10.99.0.9:4007'])
  assert.equal(pm.status().renewals, 0, 'a new address is a new mapping, not a renewal')
  await pm.close()
})

test('the renewal and retry waits do not hold the process open (background timeouts)', async () => {
  const gw = new MemoryGateway()
  const { timers, pm } = setup(async () => gw)
  pm.start()
  await timers.run(timers.now() + 1000) // mapped: the renewal wait
  gw.refuse = new Error('ConflictInMappingEntry')
  await timers.run(timers.now() + LEASE_SECONDS * 500) // refused: the retry wait
  assert.equal(pm.state, 'failed')
  assert.ok(timers.background.length >= 2 && timers.background.every(Boolean), `${timers.background}`)
  await pm.close()
  // And the real clock honours it: such a timeout is unref'd.
  const t = realTimers.setTimeout(() => {}, 60_000, { background: true }) as NodeJS.Timeout
  assert.equal(t.hasRef(), false)
  realTimers.clear(t)
  const held = realTimers.setTimeout(() => {}, 60_000) as NodeJS.Timeout
  assert.equal(held.hasRef(), true, 'an ordinary timeout still holds the process')
  realTimers.clear(held)
})

test('a UPnP renewal never answered: failed after the request timeout, retried, not mapped forever', async () => {
  const gw = new MemoryGateway()
  const { timers, told, pm } = setup(async () => gw)
  pm.start()
  await timers.run(timers.now() + 1000)
  assert.equal(pm.state, 'mapped')
  gw.hang = true
  await timers.run(timers.now() + LEASE_SECONDS * 500 + REQUEST_TIMEOUT_MS)
  assert.equal(pm.state, 'failed', 'the renewal gave up')
  assert.match(pm.status().lastError!, /no answer within 10 s/)
  assert.deepEqual(told, ['10.99.0.9:4001', null])
  gw.hang = false
  await timers.run(timers.now() + RETRY_MS)
  assert.equal(pm.state, 'mapped', 'the retry maps again')
  await pm.close()
  assert.equal(timers.active, 0, 'no timer left')
})

test('a UPnP search never answered: failed after the request timeout on our timers', async () => {
  const { timers, pm } = setup(() => new Promise(() => {}))
  pm.start()
  await timers.run(timers.now() + REQUEST_TIMEOUT_MS)
  assert.equal(pm.state, 'failed')
  assert.match(pm.status().lastError!, /^UPnP IGD: no UPnP gateway answered on the LAN \(no answer within 10 s\)/)
  await pm.close()
})

test('a clock stepped back: the UPnP renewal still renews, it does not take the epoch check PCP and NAT-PMP have', async () => {
  const gw = new MemoryGateway()
  const { timers, log, pm } = setup(async () => gw)
  pm.start()
  await timers.run(timers.now() + 1000)
  timers.back = 5000
  await timers.run(timers.queue.now() + LEASE_SECONDS * 500)
  assert.equal(gw.maps.length, 2, 'renewed when its timer fired')
  assert.equal(log.lines.filter(([, m]) => /epoch/.test(m)).length, 0, 'no epoch check tried')
  await pm.close()
})
