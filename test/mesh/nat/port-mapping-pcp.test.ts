// PortMapping through PCP and NAT-PMP against a fake gateway on a loopback UDP socket, on virtual
// time: the gateway below reads and writes the RFCs' byte layouts itself (not through our codecs).
// PCP maps first, with its nonce; renewal at half the granted lifetime; the epoch check finds a
// gateway restart between renewals; deletion with lifetime 0 at close; NAT-PMP when the gateway
// answers PCP with UNSUPP_VERSION; UPnP when it is silent; garbage replies are warned and skipped.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createSocket, type Socket } from 'node:dgram'
import { once } from 'node:events'
import { PortMapping, EPOCH_CHECK_MS } from '../../../src/mesh/nat/port-mapping.ts'
import type { GatewayDatagrams, OpenGatewaySocket } from '../../../src/mesh/nat/gateway-socket.ts'
import { SelfAddresses } from '../../../src/mesh/self-addresses.ts'
import { VirtualTimers } from '../../../src/util/timers.ts'
import { recordingLogger } from '../../helpers/recording-logger.ts'

const EXTERNAL_IP = [10, 99, 0, 9]
/** Virtual ms per real yield: under NAT-PMP's first retransmission (250 ms). */
const STEP_MS = 200

/** A PCP and NAT-PMP server on 127.0.0.1, by the RFCs' layouts. `mode`: what it speaks. */
class FakeGateway {
  mode: 'pcp' | 'nat-pmp' | 'silent' = 'pcp'
  /** The most lifetime it grants, seconds. */
  grant = 600
  /** NAT-PMP: the lifetime it grants whatever was asked (a gateway that grants more). */
  forceGrant: number | null = null
  /** Bytes sent before each real answer (a confused gateway). */
  garbageFirst: Buffer[] = []
  /** A PCP result code to answer MAP with instead of success. */
  refuse = 0
  readonly got: Buffer[] = []
  /** internal port -> { external port, nonce hex } */
  readonly maps = new Map<number, { external: number; nonce: string }>()
  private epochStartMs: number
  private constructor(private readonly sock: Socket, private readonly timers: VirtualTimers) { this.epochStartMs = timers.now() - 5000 }

  static async start(timers: VirtualTimers): Promise<FakeGateway> {
    const sock = createSocket('udp4')
    sock.bind(0, '127.0.0.1')
    await once(sock, 'listening')
    const gw = new FakeGateway(sock, timers)
    sock.on('message', (m, from) => gw.answer(m, from.port))
    return gw
  }

  get port(): number { return this.sock.address().port }
  epoch(): number { return Math.floor((this.timers.now() - this.epochStartMs) / 1000) }
  /** A reboot: the table is empty and the epoch starts again. */
  restart(): void { this.maps.clear(); this.epochStartMs = this.timers.now() }
  close(): void { this.sock.close() }

  private reply(buf: Buffer, port: number): void {
    for (const g of this.garbageFirst) this.sock.send(g, port, '127.0.0.1')
    this.sock.send(buf, port, '127.0.0.1')
  }

  private answer(m: Buffer, port: number): void {
    this.got.push(m)
    if (this.mode === 'silent') return
    if (m[0] === 2) {
      if (this.mode === 'nat-pmp') {
        // RFC 6886 section 3.5: version 0, opcode + 128, UNSUPP_VERSION, epoch.
        const r = Buffer.alloc(8); r[1] = 128 + m[1]; r.writeUInt16BE(1, 2); r.writeUInt32BE(this.epoch(), 4)
        return this.reply(r, port)
      }
      const r = Buffer.alloc(m[1] === 1 ? 60 : 24)
      r[0] = 2; r[1] = 0x80 | m[1]; r.writeUInt32BE(this.epoch(), 8)
      if (m[1] === 1) {
        const lifetime = m.readUInt32BE(4)
        const internal = m.readUInt16BE(40)
        const nonce = m.subarray(24, 36).toString('hex')
        m.copy(r, 24, 24, 60) // section 11.4: the payload as asked, then what was assigned
        const held = this.maps.get(internal)
        if (this.refuse) { r[3] = this.refuse; return this.reply(r, port) }
        if (held && held.nonce !== nonce) { r[3] = 2; return this.reply(r, port) } // NOT_AUTHORIZED: not its nonce
        if (lifetime === 0) {
          this.maps.delete(internal)
        } else {
          const external = held?.external ?? internal + 1
          this.maps.set(internal, { external, nonce })
          r.writeUInt32BE(Math.min(lifetime, this.grant), 4)
          r.writeUInt16BE(external, 42)
          r.fill(0, 44, 54); r.writeUInt16BE(0xffff, 54); Buffer.from(EXTERNAL_IP).copy(r, 56)
        }
      }
      return this.reply(r, port)
    }
    if (this.mode !== 'nat-pmp') return
    if (m[1] === 0) {
      const r = Buffer.alloc(12); r[1] = 128; r.writeUInt32BE(this.epoch(), 4); Buffer.from(EXTERNAL_IP).copy(r, 8)
      return this.reply(r, port)
    }
    const internal = m.readUInt16BE(4)
    const lifetime = m.readUInt32BE(8)
    const r = Buffer.alloc(16); r[1] = 129; r.writeUInt32BE(this.epoch(), 4); r.writeUInt16BE(internal, 8)
    if (lifetime === 0) {
      this.maps.delete(internal)
    } else {
      const external = this.maps.get(internal)?.external ?? internal + 2
      this.maps.set(internal, { external, nonce: '' })
      r.writeUInt16BE(external, 10); r.writeUInt32BE(this.forceGrant ?? Math.min(lifetime, this.grant), 12)
    }
    this.reply(r, port)
  }
}

/** Our side's socket on loopback, connected to the fake: the real socket code, another address. */
const loopback = (port: number): OpenGatewaySocket => async () => new Promise<GatewayDatagrams>((resolve) => {
  const s = createSocket('udp4')
  s.bind(0, '127.0.0.1', () => s.connect(port, '127.0.0.1', () => resolve({
    send: (b) => s.send(b), onMessage: (fn) => { s.on('message', (m) => fn(m)) }, onError: (fn) => { s.on('error', fn) }, close: () => s.close(),
  })))
})

async function setup(protocols?: Array<'pcp' | 'nat-pmp' | 'upnp-igd'>, init: { leaseSeconds?: number; retryMs?: number } = {}) {
  const timers = new VirtualTimers({ start: 1_000_000 })
  const gw = await FakeGateway.start(timers)
  const log = recordingLogger()
  const selves = new SelfAddresses('192.168.7.20:4000', () => [])
  const metrics: Array<string | null> = []
  const told: Array<string | null> = []
  let upnpSearches = 0
  const pm = new PortMapping({
    timers, log, selves, metrics: { setPortMapped: (p) => metrics.push(p) }, onMapped: (a) => told.push(a),
    openSocket: loopback(gw.port), defaultGateway: async () => '192.168.7.1',
    findGateway: async () => { upnpSearches++; throw new Error('the search ended') },
  }, { localAddress: '192.168.7.20:4000', protocols, ...init })
  /** Moves virtual time by `ms` in steps of STEP_MS, letting loopback replies in between (a step
   * that outruns a reply at worst retransmits, which the gateway and the client both take). */
  const advance = async (ms: number) => {
    const end = timers.now() + ms
    while (timers.now() < end) {
      await new Promise((r) => setTimeout(r, 1))
      await timers.run(Math.min(end, timers.now() + STEP_MS))
    }
  }
  /** Until `cond` holds, on virtual time (a reply is a real loopback datagram away). */
  const until = async (cond: () => boolean, maxMs = 30_000) => {
    const end = timers.now() + maxMs
    while (!cond() && timers.now() < end) await advance(STEP_MS)
    assert.ok(cond(), 'condition never held')
  }
  return { timers, gw, log, selves, metrics, told, pm, advance, until, searches: () => upnpSearches }
}

const pcpMaps = (gw: FakeGateway) => gw.got.filter((m) => m[0] === 2 && m[1] === 1)

test('PCP: maps with a nonce, renews at half the granted lifetime, checks the epoch between, deletes at close', async () => {
  const { timers, gw, selves, metrics, told, pm, advance, until, searches } = await setup()
  try {
    pm.start()
    await until(() => pm.state === 'mapped')
    const st = pm.status()
    assert.equal(st.protocol, 'pcp')
    assert.equal(st.externalAddress, '10.99.0.9:4001')
    assert.equal(st.internalAddress, '192.168.7.20:4000')
    assert.equal(st.gateway, '192.168.7.1')
    assert.equal(st.leaseSeconds, 600, 'the granted lifetime, not the asked one')
    assert.ok(selves.has('10.99.0.9:4001'))
    assert.deepEqual(told, ['10.99.0.9:4001'])
    assert.deepEqual(metrics, ['pcp'])
    assert.equal(searches(), 0, 'UPnP never searched: nothing multicast')
    const first = pcpMaps(gw)[0]
    assert.equal(first.readUInt32BE(4), 3600, 'asked for an hour, in seconds')
    assert.deepEqual([...first.subarray(8, 24)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 7, 20], 'our LAN address as the client IP')
    const nonce = first.subarray(24, 36).toString('hex')
    assert.notEqual(nonce, '000000000000000000000000')

    // Between renewals: an ANNOUNCE every EPOCH_CHECK_MS; the renewal at 300 s of 600 granted.
    const before = pcpMaps(gw).length
    await advance(300_000 - 2000)
    assert.equal(pcpMaps(gw).length, before, 'not renewed before half the granted lifetime')
    assert.ok(gw.got.filter((m) => m[0] === 2 && m[1] === 0).length >= 4, 'epoch checks between renewals')
    await until(() => pm.status().renewals === 1, 5000)
    const renewal = pcpMaps(gw).at(-1)!
    assert.equal(renewal.subarray(24, 36).toString('hex'), nonce, 'the renewal repeats the nonce')
    assert.equal(renewal.readUInt16BE(42), 4001, 'and suggests the port it holds')

    // The gateway restarts and forgets us: the next epoch check finds out, well before the renewal.
    gw.restart()
    const restartedAt = timers.now()
    await until(() => pm.status().gatewayRestarts === 1, EPOCH_CHECK_MS + 5000)
    await until(() => gw.maps.has(4000), 5000)
    assert.ok(timers.now() - restartedAt <= EPOCH_CHECK_MS + 5000, 'mapped again within one epoch check')
    assert.equal(pm.state, 'mapped')
    assert.deepEqual(told, ['10.99.0.9:4001'], 'the same address again: peers need not be told')

    const closing = pm.close()
    await until(() => !gw.maps.has(4000), 5000)
    await closing
    const del = pcpMaps(gw).at(-1)!
    assert.equal(del.readUInt32BE(4), 0, 'deleted with lifetime 0')
    assert.equal(del.subarray(24, 36).toString('hex'), nonce, 'with the same nonce')
    assert.equal(pm.state, 'closed')
    assert.deepEqual(metrics, ['pcp', null])
    assert.equal(timers.active, 0, 'no timer left')
  } finally {
    await pm.close()
    gw.close()
  }
})

test('NAT-PMP: the gateway answers PCP with UNSUPP_VERSION, the mapping is made over NAT-PMP in seconds, and removed at close', async () => {
  const { gw, metrics, pm, until, searches } = await setup()
  gw.mode = 'nat-pmp'
  try {
    pm.start()
    await until(() => pm.state === 'mapped')
    assert.equal(pm.status().protocol, 'nat-pmp')
    assert.equal(pm.status().externalAddress, '10.99.0.9:4002')
    assert.deepEqual(metrics, ['nat-pmp'])
    assert.equal(searches(), 0)
    const map = gw.got.find((m) => m[0] === 0 && m[1] === 1)!
    assert.equal(map.readUInt16BE(4), 4000)
    assert.equal(map.readUInt32BE(8), 3600, 'the lifetime in seconds (the library sent 3600000)')
    const closing = pm.close()
    await until(() => !gw.maps.has(4000), 5000)
    await closing
    const del = gw.got.filter((m) => m[0] === 0 && m[1] === 1).at(-1)!
    assert.deepEqual([del.readUInt16BE(4), del.readUInt16BE(6), del.readUInt32BE(8)], [4000, 0, 0], 'deleted: internal port, external 0, lifetime 0')
  } finally {
    await pm.close()
    gw.close()
  }
})

test('a silent gateway: PCP retransmits then gives up, NAT-PMP (same port) is skipped, UPnP is tried; one warning', async () => {
  const { gw, log, pm, until, searches } = await setup()
  gw.mode = 'silent'
  try {
    pm.start()
    await until(() => pm.state === 'failed', 20_000)
    assert.equal(gw.got.filter((m) => m[0] === 0).length, 0, 'no NAT-PMP request after PCP went unanswered')
    const sends = gw.got.length
    assert.ok(sends >= 2 && sends <= 4, `PCP retransmitted (initial 3 s, doubling) within 10 s: ${sends} sends`)
    assert.equal(searches(), 1)
    assert.match(pm.status().lastError!, /^PCP: no answer from 192\.168\.7\.1 within 10 s; UPnP IGD: no UPnP gateway answered on the LAN/)
    assert.equal(log.lines.filter(([l]) => l === 'warn').length, 1)
  } finally {
    await pm.close()
    gw.close()
  }
})

test('garbage before the answer: each kind warned once, the mapping made anyway', async () => {
  const { gw, log, pm, until } = await setup(['pcp'])
  const wrongNonce = Buffer.alloc(60); wrongNonce[0] = 2; wrongNonce[1] = 0x81; wrongNonce[36] = 17; wrongNonce.writeUInt16BE(4000, 40); wrongNonce.writeUInt16BE(0xffff, 54)
  gw.garbageFirst = [Buffer.from([2, 0x81, 0]), Buffer.alloc(2000, 0xff), wrongNonce, Buffer.from('{"not":"pcp"}   ')]
  try {
    pm.start()
    await until(() => pm.state === 'mapped')
    await until(() => pm.status().renewals === 1, 400_000)
    const warns = log.lines.filter(([l]) => l === 'warn').map(([, m]) => m)
    assert.ok(warns.some((m) => /ignored a reply from 192\.168\.7\.1: PCP reply of 3 bytes/.test(m)))
    assert.ok(warns.some((m) => /another nonce/.test(m)))
    assert.equal(new Set(warns).size, warns.length, 'each reason once, though sent before every answer')
  } finally {
    await pm.close()
    gw.close()
  }
})

test('a PCP refusal fails cleanly, does not try NAT-PMP, and is retried later', async () => {
  const { gw, pm, until } = await setup(['pcp', 'nat-pmp'])
  gw.refuse = 2
  try {
    pm.start()
    await until(() => pm.state === 'failed')
    assert.equal(pm.status().lastError, 'PCP: PCP NOT_AUTHORIZED')
    assert.equal(gw.got.filter((m) => m[0] === 0).length, 0)
    gw.refuse = 0
    await until(() => pm.state === 'mapped', 6 * 60_000)
    assert.equal(pm.status().protocol, 'pcp')
  } finally {
    await pm.close()
    gw.close()
  }
})

test('a PCP renewal refused once: the retry repeats our nonce, so the gateway lets us map again', async () => {
  const { gw, pm, until } = await setup(['pcp'], { leaseSeconds: 60, retryMs: 20_000 })
  try {
    pm.start()
    await until(() => pm.state === 'mapped')
    const nonce = pcpMaps(gw)[0].subarray(24, 36).toString('hex')
    gw.refuse = 2 // the renewal (at 30 s) is refused; the gateway still holds the mapping, with our nonce
    await until(() => pm.state === 'failed', 60_000)
    gw.refuse = 0
    await until(() => pm.state === 'mapped', 60_000)
    assert.equal(pcpMaps(gw).at(-1)!.subarray(24, 36).toString('hex'), nonce, 'the same nonce from the new mapper')
  } finally {
    await pm.close()
    gw.close()
  }
})

test('closed after a failed PCP renewal: the mapping the gateway may still hold is deleted with our nonce', async () => {
  const { gw, pm, until } = await setup(['pcp'], { leaseSeconds: 60 })
  try {
    pm.start()
    await until(() => pm.state === 'mapped')
    const nonce = pcpMaps(gw)[0].subarray(24, 36).toString('hex')
    gw.mode = 'silent' // the renewal's replies are lost
    await until(() => pm.state === 'failed', 60_000)
    gw.mode = 'pcp'
    assert.ok(gw.maps.has(4000), 'the gateway still holds it')
    const closing = pm.close()
    await until(() => !gw.maps.has(4000), 5000)
    await closing
    const del = pcpMaps(gw).at(-1)!
    assert.deepEqual([del.readUInt32BE(4), del.subarray(24, 36).toString('hex')], [0, nonce], 'lifetime 0, our nonce')
  } finally {
    await pm.close()
    gw.close()
  }
})

test('a gateway that granted more than asked: a mapping made again after a failure asks the configured lease', async () => {
  const { gw, pm, until } = await setup(undefined, { leaseSeconds: 60, retryMs: 20_000 })
  gw.mode = 'nat-pmp'
  gw.forceGrant = 0xffffffff
  try {
    pm.start()
    await until(() => pm.state === 'mapped')
    assert.equal(pm.status().leaseSeconds, 0xffffffff, 'the grant is reported as granted')
    gw.mode = 'silent' // the renewal (at 30 s: half of what we asked) goes unanswered
    await until(() => pm.state === 'failed', 60_000)
    gw.mode = 'nat-pmp'
    await until(() => pm.state === 'mapped', 60_000)
    const asked = gw.got.filter((m) => m[0] === 0 && m[1] === 1).map((m) => m.readUInt32BE(8))
    assert.ok(asked.length >= 2, `the first map and the one after the failure: ${asked.length}`)
    assert.deepEqual(new Set(asked), new Set([60]), 'every request asked 60 s')
  } finally {
    await pm.close()
    gw.close()
  }
})
