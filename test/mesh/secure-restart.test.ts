// A peer restarted on its address (same node key, a new process with no sessions) while the other
// side still seals to it, and what someone who forges datagrams can do to a working session: on
// the in-process network in virtual time (src/mesh/secure/secure-sessions.ts).
//
// The restarted node answers a frame under a session it lacks with its plain hello, the other side
// starts a new handshake at once: datagrams flow again within a few round trips, not after the
// 5 s the old session took to give up. What anyone can forge from either address (a plain
// hello, a frame under an unknown session, a handshake message that spoils the new handshake)
// costs at most a handshake: the session in place keeps sealing until a new one is confirmed and
// stays if none is, nothing is lost or goes plain, and a flood of forgeries makes no more
// handshakes or hints than the per-address limits allow. Only handshakes left unanswered end a
// doubted session (a peer restarted with --no-encrypt), and they back off.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { CjNode } from '../../src/mesh/node.ts'
import { MemoryNetwork, type MemoryTransport } from '../../src/mesh/link.ts'
import type { Transport } from '../../src/mesh/transport.ts'
import { SecureSessions } from '../../src/mesh/secure/secure-sessions.ts'
import { SEALED_MAGIC, sealFrame } from '../../src/mesh/secure/sealed-frame.ts'
import { encodeDatagram, type Message } from '../../src/mesh/messages.ts'
import { generateStreamKey, type StreamKey } from '../../src/store/keys.ts'
import { VirtualTimers } from '../../src/util/timers.ts'

const LINK_MS = 10

/** One UDP port that outlives the process on it: a node restarts when a new one takes the port.
 * Records what leaves it, to whom. */
class Port {
  private handler: (buf: Buffer, from: string) => void = () => {}
  readonly sent: Array<{ to: string; buf: Buffer }> = []
  constructor(readonly inner: MemoryTransport) { inner.onDatagram((b, f) => this.handler(b, f)) }
  process(): Transport {
    let closed = false
    const send = (buf: Buffer, to: string) => { if (!closed) { this.sent.push({ to, buf }); this.inner.send(buf, to) } }
    const address = this.inner.address
    return {
      address,
      send,
      onDatagram: (fn) => { this.handler = fn },
      close: async () => { closed = true; this.handler = () => {} },
    }
  }
}

interface Proc { node: CjNode; secure: SecureSessions; got: number[] }

async function world(t: { after: (fn: () => Promise<void>) => void }) {
  const timers = new VirtualTimers({ start: 1_000_000 })
  const net = new MemoryNetwork({ timers }, { link: { delayMs: LINK_MS, loss: 0 } })
  const procs: Proc[] = []
  const run = async (port: Port, key: StreamKey, bootstrap: string[]): Promise<Proc> => {
    const node = new CjNode({ transport: port.process(), timers }, { bootstrap, probeIntervalMs: 10_000 })
    node.handle('IAlsoSpeak', () => {})
    const got: number[] = []
    // The application's traffic in these tests: numbered messages, each counted where it lands.
    node.handle('PleaseReturnThisMessage', (m) => { if (typeof m.value === 'string' && m.value.startsWith('n')) got.push(Number(m.value.slice(1))) })
    const secure = new SecureSessions({ node, key })
    await node.start()
    secure.startTimer()
    const p = { node, secure, got }
    procs.push(p)
    return p
  }
  t.after(async () => { for (const p of procs) { p.secure.close(); await p.node.close() } })
  const portA = new Port(net.createTransport())
  const portB = new Port(net.createTransport())
  const keyA = generateStreamKey()
  const keyB = generateStreamKey()
  const a = await run(portA, keyA, [])
  const b = await run(portB, keyB, [portA.inner.address])
  const sealing = (x: Proc, y: Proc) => x.secure.sealsTo(y.node.address) && y.secure.sealsTo(x.node.address)
  // Past START_AGAIN_MS (5 s) since the handshake: a restart sooner waits out the rest of it.
  await timers.runFor(6000)
  assert.ok(sealing(a, b) && a.secure.counters.opened > 0 && b.secure.counters.opened > 0, 'a session, used both ways')
  /** `n` numbered messages from x to y, one every `everyMs`, starting at `from`. */
  const stream = async (x: Proc, y: Proc, from: number, n: number, everyMs: number) => {
    for (let i = 0; i < n; i++) { x.node.send(y.node.address, [numbered(from + i)]); await timers.runFor(everyMs) }
  }
  /** Spoofed: a datagram that arrives at `to` as if sent from `from` (UDP has no source authentication). */
  const forge = (to: Port, from: string, buf: Buffer) => to.inner.receive(buf, undefined, buf.length, from)
  /** B dies and a node without encryption (--no-encrypt) takes its port, not yet started. */
  const restartPlain = async (): Promise<CjNode> => {
    await b.node.close(); b.secure.close()
    await timers.runFor(1500)
    const plain = new CjNode({ transport: portB.process(), timers }, { bootstrap: [portA.inner.address], probeIntervalMs: 10_000 })
    t.after(() => plain.close())
    return plain
  }
  return { timers, net, run, portA, portB, keyA, keyB, a, b, sealing, stream, forge, restartPlain }
}

const numbered = (n: number): Message => ({ type: 'PleaseReturnThisMessage', value: `n${n}` })
const plainHello = (cookie = 'f0f0f0f0') => encodeDatagram([{ type: 'PleaseAlwaysReturnThisMessage', value: { cookie } }, { type: 'IAlsoSpeak', extensions: ['cjp2p-stream/1'], maxDatagramBytes: 1200 }])
/** A handshake message that does not decrypt: what anyone can spray at a spoofed address. */
const garbageStep = (step: 1 | 2 | 3): Buffer => encodeDatagram([{ type: 'LetUsEncrypt', step, index: 0x0badcafe, hs: randomBytes(step === 2 ? 144 : 64) }])
const sealedOf = (sent: Array<{ to: string; buf: Buffer }>, to: string) => sent.filter((d) => d.to === to)
const isHandshake = (buf: Buffer) => buf[0] !== SEALED_MAGIC && buf.toString('latin1').includes('"LetUsEncrypt"')

describe('a peer restarted on its address, and forged datagrams', () => {
  it('a node restarted without knowing its peer: the peer still sealing to it hears its hello and makes a new session at once', async (t) => {
    const w = await world(t)
    const { timers, a, b } = w
    // B dies (kill -9) and comes back on its port with its node key, knowing nobody: A keeps its
    // session and seals to the new process, which cannot open a byte of it.
    await b.node.close(); b.secure.close()
    await timers.runFor(1500)
    const b2 = await w.run(w.portB, w.keyB, [])
    const t0 = timers.now()
    let first = -1
    for (let i = 0; i < 60 && first < 0; i++) {
      a.node.send(b2.node.address, [numbered(i)])
      await timers.runFor(50)
      if (b2.got.length > 0) first = timers.now() - t0
    }
    t.diagnostic(`restart to first message at the restarted node: ${first} virtual ms (links ${LINK_MS} ms each way); unknown-session frames ${b2.secure.counters.unknownSession}, hints ${b2.secure.counters.hinted}`)
    assert.ok(first >= 0 && first <= 500, `the restarted node heard its peer ${first} ms after it came back`)
    assert.ok(b2.secure.counters.hinted >= 1, 'it told the peer with its hello')
    assert.equal(a.secure.counters.renewed, 1, 'A replaced the session it had with a new one')
    await timers.runFor(2000)
    assert.ok(w.sealing(a, b2), 'and they seal both ways again')
    assert.equal(a.secure.keyOf(b2.node.address), w.keyB.publicKeyHex, 'with the same node key proven')
    // After that, nothing lost to the encryption either way.
    const drops = b2.secure.counters.unknownSession + a.secure.counters.unknownSession
    await w.stream(a, b2, 1000, 20, 50)
    await w.stream(b2, a, 2000, 20, 50)
    await timers.runFor(500)
    assert.equal(b2.got.filter((n) => n >= 1000).length, 20)
    assert.equal(a.got.filter((n) => n >= 2000).length, 20)
    assert.equal(b2.secure.counters.unknownSession + a.secure.counters.unknownSession, drops)
  })

  it('a node restarted knowing its peer: its greeting makes the new session at once', async (t) => {
    const w = await world(t)
    const { timers, a, b } = w
    await b.node.close(); b.secure.close()
    await timers.runFor(1500)
    const b2 = await w.run(w.portB, w.keyB, [w.portA.inner.address])
    const t0 = timers.now()
    while (!w.sealing(a, b2) && timers.now() - t0 < 10_000) await timers.runFor(20)
    const took = timers.now() - t0
    t.diagnostic(`restart to sealing both ways: ${took} virtual ms`)
    assert.ok(took <= 500, `sealing both ways ${took} ms after the restart`)
    assert.equal(a.secure.counters.renewed, 1)
  })

  it('a node restarted without encryption: its peer gives the session up and they talk plain', async (t) => {
    const w = await world(t)
    const { timers, a } = w
    const plain = await w.restartPlain()
    const got: number[] = []
    plain.handle('PleaseReturnThisMessage', (m) => { if (typeof m.value === 'string' && m.value.startsWith('n')) got.push(Number(m.value.slice(1))) })
    await plain.start()
    // Two handshakes of 5 s each left unanswered (a forger can spoil one, not make it unanswered).
    const t0 = timers.now()
    while (a.secure.counters.reset === 0 && timers.now() - t0 < 20_000) await timers.runFor(100)
    t.diagnostic(`session given up ${timers.now() - t0} virtual ms after the plain restart`)
    assert.equal(a.secure.counters.reset, 1, 'the session ended once two new handshakes went unanswered')
    assert.ok(timers.now() - t0 <= 13_000, `given up ${timers.now() - t0} ms after the restart`)
    assert.ok(!a.secure.sealsTo(plain.address))
    for (let i = 0; i < 10; i++) a.node.send(plain.address, [numbered(i)])
    await timers.runFor(200)
    assert.equal(got.length, 10, 'A talks plain JSON to it')
  })

  it('a forged plain hello from the peer\'s address costs one handshake: the session never lapses, nothing is lost or goes plain', async (t) => {
    const w = await world(t)
    const { timers, a, b, portA, portB } = w
    const handshakesBefore = a.secure.counters.started + b.secure.counters.started
    const markA = portA.sent.length
    const markB = portB.sent.length
    const t0 = timers.now()
    // Traffic both ways while an off-path forger sends B plain hellos "from" A, 20 a second for 12 s.
    const forging = (async () => {
      for (let i = 0; i < 240; i++) { w.forge(portB, a.node.address, plainHello()); await timers.runFor(50) }
    })()
    await Promise.all([forging, w.stream(a, b, 0, 200, 60), w.stream(b, a, 0, 200, 60)])
    await timers.runFor(1000)
    assert.deepEqual(b.got.filter((n) => n < 200), Array.from({ length: 200 }, (_, i) => i), 'every message from A arrived, in order')
    assert.deepEqual(a.got.filter((n) => n < 200), Array.from({ length: 200 }, (_, i) => i), 'every message from B arrived, in order')
    // Everything between them stayed sealed, but the handshakes themselves.
    const between = [...sealedOf(portA.sent.slice(markA), b.node.address), ...sealedOf(portB.sent.slice(markB), a.node.address)]
    const plainOnes = between.filter((d) => d.buf[0] !== SEALED_MAGIC && !isHandshake(d.buf))
    assert.equal(plainOnes.length, 0, `${plainOnes.length} datagrams went plain: ${plainOnes.slice(0, 2).map((d) => d.buf.toString().slice(0, 120)).join(' | ')}`)
    const handshakes = a.secure.counters.started + b.secure.counters.started - handshakesBefore
    const took = timers.now() - t0
    t.diagnostic(`240 forged hellos over ${took} virtual ms: ${handshakes} handshakes, ${b.secure.counters.doubted} doubts, ${b.secure.counters.renewed} renewals, ${b.secure.counters.reset} sessions ended`)
    assert.ok(handshakes >= 1 && handshakes <= 1 + took / 5000, `at most one handshake per 5 s (${handshakes} in ${took} ms)`)
    assert.equal(a.secure.counters.reset + b.secure.counters.reset, 0, 'no session ended')
    assert.equal(a.secure.counters.refusedPlain, 0)
    assert.ok(w.sealing(a, b))
  })

  it('a forged hello plus a spoiled handshake, sprayed every 5 s at a busy link: the session in place stays, nothing is lost', async (t) => {
    const w = await world(t)
    const { timers, a, b, portA, portB } = w
    const markA = portA.sent.length
    const markB = portB.sent.length
    const before = { unknownA: a.secure.counters.unknownSession, unknownB: b.secure.counters.unknownSession }
    // Every 5 s: a plain hello "from" A makes B doubt and start a handshake; garbage step 3s "from" B
    // make A drop its half, so B holds A's real step 2 (an unconfirmed session) that A never completes.
    const forging = (async () => {
      for (let round = 0; round < 4; round++) {
        w.forge(portB, a.node.address, plainHello())
        for (let i = 0; i < 20; i++) { w.forge(portA, b.node.address, garbageStep(3)); await timers.runFor(5) }
        await timers.runFor(5000 - 100)
      }
    })()
    await Promise.all([forging, w.stream(a, b, 0, 500, 40), w.stream(b, a, 0, 500, 40)])
    await timers.runFor(2000)
    t.diagnostic(`B: ${b.secure.counters.doubted} doubts, ${b.secure.counters.started} handshakes started, ${b.secure.counters.reset} ended; unknown-session frames A ${a.secure.counters.unknownSession - before.unknownA}, B ${b.secure.counters.unknownSession - before.unknownB}; plain refused A ${a.secure.counters.refusedPlain}`)
    assert.ok(b.secure.counters.doubted >= 1, 'the forgery did make B doubt')
    assert.deepEqual(b.got.filter((n) => n < 500), Array.from({ length: 500 }, (_, i) => i), 'every message from A arrived, in order')
    assert.deepEqual(a.got.filter((n) => n < 500), Array.from({ length: 500 }, (_, i) => i), 'every message from B arrived, in order')
    assert.equal(a.secure.counters.unknownSession - before.unknownA + b.secure.counters.unknownSession - before.unknownB, 0, 'no frame under a session forgotten')
    const between = [...sealedOf(portA.sent.slice(markA), b.node.address), ...sealedOf(portB.sent.slice(markB), a.node.address)]
    assert.equal(between.filter((d) => d.buf[0] !== SEALED_MAGIC && !isHandshake(d.buf)).length, 0, 'nothing went plain')
    assert.equal(a.secure.counters.reset + b.secure.counters.reset, 0, 'no session ended')
    assert.ok(w.sealing(a, b))
  })

  it('a forged hello then a garbage step 2 to a quiet peer: the session is not ended, the next handshake renews it', async (t) => {
    const w = await world(t)
    const { timers, a, b } = w
    // Just past both nodes' probes (every 10 s) and their answers: the next is 9 s away.
    await timers.runFor(5000)
    // Two datagrams "from" A: B doubts and starts a handshake, and a garbage step 2 aborts it at once.
    w.forge(w.portB, a.node.address, plainHello())
    w.forge(w.portB, a.node.address, garbageStep(2))
    // A sends nothing sealed for 5 s (HANDSHAKE_TTL_MS): nothing opens under B's doubted session.
    await timers.runFor(4900)
    await timers.runFor(15_000)
    t.diagnostic(`B: ${b.secure.counters.doubted} doubts, ${b.secure.counters.renewed} renewed, ${b.secure.counters.reset} ended`)
    assert.equal(b.secure.counters.doubted, 1)
    assert.equal(b.secure.counters.reset, 0, 'a spoiled handshake is no sign the peer lost the session')
    assert.equal(b.secure.counters.renewed, 1, 'the next handshake, answered, replaced it')
    assert.ok(w.sealing(a, b))
    await w.stream(a, b, 0, 10, 20)
    await w.stream(b, a, 0, 10, 20)
    await timers.runFor(200)
    assert.equal(b.got.length, 10)
    assert.equal(a.got.length, 10)
  })

  it('a second handshake over an unconfirmed one keeps the confirmed session before both: frames in flight under it still open', async (t) => {
    const w = await world(t)
    const { timers, a, b, portA, portB } = w
    const before = b.secure.counters.unknownSession
    const made = a.secure.counters.established
    // B gets an unconfirmed session (as in the spoiled-handshake test), the confirmed one behind it.
    w.forge(portB, a.node.address, plainHello())
    for (let i = 0; i < 20; i++) { w.forge(portA, b.node.address, garbageStep(3)); await timers.runFor(5) }
    await timers.runFor(100)
    // Then A is made to doubt and shake hands: B answers as the responder, over its unconfirmed
    // session, while A still seals under the old one until B's first sealed frame reaches it.
    const streaming = w.stream(a, b, 0, 100, 2)
    await timers.runFor(50)
    w.forge(portA, b.node.address, plainHello())
    await streaming
    await timers.runFor(500)
    t.diagnostic(`A: ${a.secure.counters.established - made} sessions made; B: unknown-session frames ${b.secure.counters.unknownSession - before}`)
    assert.equal(a.secure.counters.established - made, 1, 'A made a new session')
    assert.equal(b.secure.counters.unknownSession - before, 0, 'no frame from A under a session B forgot')
    assert.deepEqual(b.got, Array.from({ length: 100 }, (_, i) => i))
    assert.ok(w.sealing(a, b))
  })

  it('a cjp2p-stream peer running --no-encrypt: handshakes to it back off, and end when it answers', async (t) => {
    const w = await world(t)
    const { timers, a } = w
    const plain = await w.restartPlain()
    await plain.start()
    const s0 = a.secure.counters.started
    // It says hello every second (each one may start a handshake).
    for (let i = 0; i < 120; i++) { plain.send(a.node.address, [plain.capabilities(a.node.address)]); await timers.runFor(1000) }
    const started = a.secure.counters.started - s0
    t.diagnostic(`handshakes to a --no-encrypt peer in 120 virtual s: ${started} (one per 5 s would be 24)`)
    assert.equal(a.secure.counters.reset, 1)
    // 5, 5, 10, 20, 40, 80 s apart: 6 or 7 within 120 s, not 24.
    assert.ok(started >= 3 && started <= 8, `${started} handshakes in 120 s`)
    // It comes back with encryption: its own handshake is answered at once, back-off or not.
    await plain.close()
    const b2 = await w.run(w.portB, w.keyB, [w.portA.inner.address])
    const t1 = timers.now()
    while (!w.sealing(a, b2) && timers.now() - t1 < 20_000) await timers.runFor(100)
    t.diagnostic(`sealing again ${timers.now() - t1} virtual ms after it came back with encryption`)
    assert.ok(w.sealing(a, b2), 'sealing again')
  })

  it('forged plain messages riding with a hello are not taken from a peer that seals', async (t) => {
    const w = await world(t)
    const { timers, a, b } = w
    const forged = encodeDatagram([{ type: 'IAlsoSpeak', extensions: ['cjp2p-stream/1'], maxDatagramBytes: 1200 }, numbered(666)])
    w.forge(w.portB, a.node.address, forged)
    await timers.runFor(200)
    assert.ok(!b.got.includes(666), 'the forged message was not handled')
    assert.equal(b.secure.counters.refusedPlain, 1)
  })

  it('forged sealed frames: from the peer\'s address they are dropped and change nothing; from a third address they get one small hint a second', async (t) => {
    const w = await world(t)
    const { timers, a, b } = w
    const started = a.secure.counters.started + b.secure.counters.started
    // Under a session index B never gave out, from A's address: dropped, uncharged, no handshake.
    for (let i = 0; i < 50; i++) w.forge(w.portB, a.node.address, sealFrame(randomBytes(32), 0x12345678 + i, i, Buffer.from('[]')))
    await timers.runFor(200)
    assert.equal(b.secure.counters.unknownSession, 50)
    assert.equal(b.secure.counters.hinted, 0, 'no hint to a peer we share a session with')
    // From an address B shares nothing with (a victim the forger would have B write to): B answers
    // with its hello, at most once a second and within twice what arrived from that address.
    const victim = '127.0.0.1:9'
    const mark = w.portB.sent.length
    let arrived = 0
    for (let i = 0; i < 100; i++) {
      const f = sealFrame(randomBytes(32), 0x22345678 + i, i, Buffer.from('[]'))
      arrived += f.length
      w.forge(w.portB, victim, f)
      await timers.runFor(30)
    }
    const toVictim = w.portB.sent.slice(mark).filter((d) => d.to === victim)
    const bytes = toVictim.reduce((n, d) => n + d.buf.length, 0)
    t.diagnostic(`100 forged frames (${arrived} B) over 3 s from a third address: ${toVictim.length} hints, ${bytes} B`)
    assert.ok(toVictim.length >= 1 && toVictim.length <= 4, `${toVictim.length} hints in 3 s`)
    assert.ok(bytes <= 2 * arrived, `no amplification (${bytes} B out for ${arrived} B in)`)
    // Our plain hello, cut to the cookie request where 2x of a small frame holds no more.
    const hello = new Set(['PleaseAlwaysReturnThisMessage', 'IAlsoSpeak'])
    assert.ok(toVictim.every((d) => (JSON.parse(d.buf.toString()) as object[]).every((m) => hello.has(Object.keys(m)[0]))), 'the hint is our plain hello')
    // The session between A and B went on untouched.
    assert.equal(a.secure.counters.started + b.secure.counters.started, started)
    await w.stream(a, b, 0, 10, 20)
    await timers.runFor(100)
    assert.equal(b.got.length, 10)
    assert.ok(w.sealing(a, b))
  })
})
