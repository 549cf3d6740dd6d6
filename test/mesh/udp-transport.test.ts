// UdpTransport hands datagrams to IP literals without the resolver (dgram's default lookup defers
// every send to the next tick through dns.lookup), and still resolves names.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import dns from 'node:dns'
import { UdpTransport } from '../../src/mesh/transport.ts'

function received(t: UdpTransport): Promise<{ text: string; from: string }> {
  return new Promise((resolve) => t.onDatagram((buf, from) => resolve({ text: buf.toString(), from })))
}

test('a datagram to an IP literal leaves without dns.lookup', async (t) => {
  // Watched before the sockets exist: dgram takes the resolver when a socket is made.
  const original = dns.lookup
  let lookups = 0
  dns.lookup = ((...args: Parameters<typeof dns.lookup>) => { lookups++; return (original as (...x: unknown[]) => unknown)(...args) }) as typeof dns.lookup
  t.after(() => { dns.lookup = original })
  const a = await UdpTransport.bind()
  const b = await UdpTransport.bind()
  t.after(() => Promise.all([a.close(), b.close()]))
  const got = received(b)
  a.send(Buffer.from('hello'), b.address)
  assert.deepEqual(await got, { text: 'hello', from: a.address })
  assert.equal(lookups, 0)
  // The control: a name still goes to the resolver, and the datagram still arrives.
  const named = received(b)
  a.send(Buffer.from('by name'), `localhost:${b.address.split(':')[1]}`)
  assert.equal((await named).text, 'by name')
})
