import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isLanAddress, ourLanAddresses, sameSubnet } from '../../src/mesh/nat/lan-address.ts'
import { decodeDatagram } from '../../src/mesh/messages.ts'

test('only private LAN addresses count as a LAN address', () => {
  for (const a of ['10.0.0.1:5', '172.16.3.4:9', '172.31.255.1:1', '192.168.1.20:4000', '[fd12::1]:7']) assert.ok(isLanAddress(a), a)
  for (const a of ['198.51.100.1:53', '127.0.0.1:5', '[2001:db8::1]:5', '100.64.0.1:5', 'nonsense', '10.0.0.1:0', '[fe80::1]:5']) assert.ok(!isLanAddress(a), a)
})

test('our LAN addresses: the bound one, or each interface\'s on the bound port', () => {
  const ifs = () => ['127.0.0.1', '10.213.70.11', '::1', 'fd00::5', '198.51.100.7']
  assert.deepEqual(ourLanAddresses('0.0.0.0:4000', ifs), ['10.213.70.11:4000'])
  assert.deepEqual(ourLanAddresses('[::]:4000', ifs), ['10.213.70.11:4000', '[fd00::5]:4000'])
  assert.deepEqual(ourLanAddresses('192.168.0.9:7', ifs), ['192.168.0.9:7'])
  assert.deepEqual(ourLanAddresses('127.0.0.1:7', ifs), [])
})

test('IAmBehind carries a LAN address only when it is one (a public one is dropped, the message kept)', () => {
  const decode = (o: object) => { const r = decodeDatagram(Buffer.from(JSON.stringify([{ IAmBehind: o }]))); return r.ok ? r.messages : [] }
  assert.deepEqual(decode({ nat: 'symmetric', local: '10.1.2.3:4000' }), [{ type: 'IAmBehind', nat: 'symmetric', local: '10.1.2.3:4000' }])
  assert.deepEqual(decode({ nat: 'symmetric', local: '198.51.100.1:53' }), [{ type: 'IAmBehind', nat: 'symmetric' }])
  assert.deepEqual(decode({ nat: 'cone', local: 42 }), [{ type: 'IAmBehind', nat: 'cone' }])
})

test('LAN-mates are introduced only on one home-sized subnet', () => {
  assert.ok(sameSubnet('10.213.70.11:4000', '10.213.70.12:5000'))
  assert.ok(!sameSubnet('10.0.1.2:4000', '10.0.2.2:4000'))
  assert.ok(sameSubnet('[fd00::1]:4', '[fd00:0:0:0:1::2]:5'))
  assert.ok(!sameSubnet('[fd00::1]:4', '[fd00:0:0:1::2]:5'))
  assert.ok(!sameSubnet('10.0.0.1:4', '[fd00::1]:4'))
})
