import { test } from 'node:test'
import assert from 'node:assert/strict'
import dgram from 'node:dgram'
import { createNodes, until } from '../helpers/swarm.ts'
import { decodeDatagram } from '../../src/mesh/messages.ts'
import { parseAddress } from '../../src/mesh/transport.ts'

test('two nodes exchange cookies, verify each other, measure RTT and swap peers', async (t) => {
  const [a, b, c] = await createNodes(t, 3)
  await b.start()
  await c.start()
  b.peers.touch(c.address, 'configured')
  b.probe()
  await until(() => b.peers.get(c.address)?.verified, 5000, 'b verifies c')
  a.peers.touch(b.address, 'configured')
  a.probe()
  await until(() => a.peers.get(b.address)?.verified && a.peers.get(b.address)?.rttMs !== undefined, 5000, 'a verifies b')
  // a learns c from b's Peers list on the next probe
  a.probe()
  await until(() => a.peers.get(c.address), 5000, 'a learns c')
  assert.ok(b.peers.get(a.address)?.theirCookie, 'b stored the cookie a asked for')
})

test('an unverified sender never gets more than twice its bytes back, and garbage is dropped by reason', async (t) => {
  const [a] = await createNodes(t, 1)
  const sock = dgram.createSocket('udp4')
  t.after(() => sock.close())
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()))
  let received = 0
  const replies: Buffer[] = []
  sock.on('message', (m) => { received += m.length; replies.push(m) })
  const target = parseAddress(a.address)!
  const send = (s: string | Buffer) => new Promise<void>((r) => sock.send(s, target.port, target.host, () => r()))
  let sent = 0
  // A small request asking for a lot: peers, RTT echo of a big value, content.
  const req = JSON.stringify([{ PleaseSendPeers: {} }, { PleaseReturnThisMessage: 'x'.repeat(200) }, { PleaseSendContent: { id: 'a'.repeat(64), offset: 0, length: 40960 } }])
  for (let i = 0; i < 5; i++) { await send(req); sent += Buffer.byteLength(req) }
  for (const junk of ['not json', '{"a":1}', '[1,2,3]', Buffer.from([0xff, 0xfe, 0x00])]) await send(junk)
  await until(() => a.counters.dropped.not_json && a.counters.dropped.not_array && a.counters.dropped.not_utf8, 5000, 'drops counted')
  await new Promise((r) => setTimeout(r, 200))
  assert.ok(received <= 2 * sent, `sent back ${received} bytes for ${sent}`)
  assert.ok(replies.length > 0, 'it still answers (with its cookie request)')
  const first = decodeDatagram(replies[0])
  assert.ok(first.ok && first.messages.some((m) => m.type === 'PleaseAlwaysReturnThisMessage'))
})
