// Noise handshakes (src/mesh/secure/secure-sessions.ts) that lose their messages, on the
// in-process network in virtual time: whichever of the three messages a path loses, for however
// long, the two peers end up sealing both ways once the path carries them again, and nothing they
// send to each other meanwhile is lost to the encryption (no datagram dropped for a session one
// side has and the other has not).
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { CjNode } from '../../src/mesh/node.ts'
import { MemoryNetwork } from '../../src/mesh/link.ts'
import type { Transport } from '../../src/mesh/transport.ts'
import { SecureSessions } from '../../src/mesh/secure/secure-sessions.ts'
import { SEALED_MAGIC } from '../../src/mesh/secure/sealed-frame.ts'
import { generateStreamKey } from '../../src/store/keys.ts'
import { VirtualTimers } from '../../src/util/timers.ts'

/** A transport that drops what it sends while `drop` says so (a path losing one kind of datagram). */
class LossyTransport implements Transport {
  drop: (buf: Buffer) => boolean = () => false
  dropped = 0
  constructor(private inner: Transport) {}
  get address(): string { return this.inner.address }
  send(buf: Buffer, to: string): void { if (this.drop(buf)) this.dropped++; else this.inner.send(buf, to) }
  onDatagram(fn: (buf: Buffer, from: string) => void): void { this.inner.onDatagram(fn) }
  close(): Promise<void> { return this.inner.close() }
}

const handshakeStep = (buf: Buffer): number | null => {
  if (buf[0] === SEALED_MAGIC) return null
  const m = /"LetUsEncrypt":\{"step":(\d)/.exec(buf.toString('latin1'))
  return m ? Number(m[1]) : null
}

async function pair(t: { after: (fn: () => Promise<void>) => void }) {
  const timers = new VirtualTimers({ start: 1_000_000 })
  const net = new MemoryNetwork({ timers }, { link: { delayMs: 10, loss: 0 } })
  const make = async (peers: string[]) => {
    const transport = new LossyTransport(net.createTransport())
    const node = new CjNode({ transport, timers }, { bootstrap: peers, probeIntervalMs: 2000 })
    node.handle('IAlsoSpeak', () => {})
    const secure = new SecureSessions({ node, key: generateStreamKey() })
    await node.start()
    secure.startTimer()
    return { node, secure, transport }
  }
  const a = await make([])
  const b = await make([a.node.address])
  // Both speak our extension: the hello carries IAlsoSpeak, which is what starts a handshake.
  t.after(async () => { a.secure.close(); b.secure.close(); await a.node.close(); await b.node.close() })
  return { timers, a, b }
}

const sealingBothWays = (a: { secure: SecureSessions; node: CjNode }, b: { secure: SecureSessions; node: CjNode }) =>
  a.secure.sealsTo(b.node.address) && b.secure.sealsTo(a.node.address) && a.secure.counters.opened > 0 && b.secure.counters.opened > 0

describe('Noise handshakes over a path that loses them', () => {
  for (const step of [1, 2, 3]) {
    it(`every handshake message ${step} lost for 12 s: the peers seal both ways soon after the path recovers`, async (t) => {
      const { timers, a, b } = await pair(t)
      let losing = true
      for (const n of [a, b]) n.transport.drop = (buf) => losing && handshakeStep(buf) === step
      await timers.runFor(12_000)
      assert.ok(a.transport.dropped + b.transport.dropped > 0, `some message ${step} was sent and lost`)
      assert.ok(!sealingBothWays(a, b), 'no session while the path loses every such message')
      losing = false
      const t0 = timers.now()
      while (!sealingBothWays(a, b) && timers.now() - t0 < 30_000) await timers.runFor(250)
      const took = timers.now() - t0
      t.diagnostic(`message ${step}: sealing both ways ${took} virtual ms after the path recovered (${a.transport.dropped + b.transport.dropped} dropped)`)
      assert.ok(sealingBothWays(a, b), `sealing both ways within 30 s of recovery (message ${step})`)
      // Nothing the peers said to each other after that was lost to a session mismatch.
      const before = a.secure.counters.unknownSession + b.secure.counters.unknownSession
      for (let i = 0; i < 20; i++) { a.node.send(b.node.address, [{ type: 'PleaseSendPeers' }]); b.node.send(a.node.address, [{ type: 'PleaseSendPeers' }]) }
      await timers.runFor(3000)
      assert.equal(a.secure.counters.unknownSession + b.secure.counters.unknownSession, before)
      assert.equal(a.secure.counters.refusedPlain + b.secure.counters.refusedPlain, 0)
    })
  }
})
