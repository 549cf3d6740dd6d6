// The DHT's tables that strangers fill: every cap holds, and what was there first stays.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { RoutingTable, MAX_CONTACTS_PER_HOST, STALE_CONTACT_MS } from '../../../src/mesh/dht/routing-table.ts'
import { ProviderStore, MAX_ANNOUNCES_PER_MINUTE, PROVIDER_TTL_MS } from '../../../src/mesh/dht/provider-store.ts'
import { closer, keyOf, nodeIdOf, sharedPrefixBits } from '../../../src/mesh/dht/node-id.ts'

const hex = () => randomBytes(32).toString('hex')
const clockAt = (t = { now: 0 }) => ({ t, clock: { now: () => t.now } })

test('node ids: sha256 of the key; XOR order is exact beyond 53 bits', () => {
  const key = hex()
  assert.equal(nodeIdOf(key).length, 32)
  assert.deepEqual(nodeIdOf(key), nodeIdOf(key))
  const target = Buffer.alloc(32)
  const a = Buffer.alloc(32); a[31] = 1
  const b = Buffer.alloc(32); b[31] = 2
  assert.ok(closer(target, a, b) < 0 && closer(target, b, a) > 0 && closer(target, a, a) === 0)
  assert.equal(sharedPrefixBits(a, b), 254)
  assert.notDeepEqual(keyOf('stream/ab/x'), keyOf('stream/ab/X'), 'content ids are case-sensitive')
})

test('routing table: per-host cap (loopback exempt), one id per address, total cap', () => {
  const { clock } = clockAt()
  const rt = new RoutingTable({ clock }, { localId: randomBytes(32), maxContacts: 50 })
  for (let i = 0; i < 5; i++) rt.add(hex(), `10.0.0.1:${1000 + i}`)
  assert.equal(rt.size, MAX_CONTACTS_PER_HOST, 'one host holds at most MAX_CONTACTS_PER_HOST contacts')
  for (let i = 0; i < 5; i++) assert.ok(rt.add(hex(), `127.0.0.1:${1000 + i}`), 'loopback is exempt')
  const key = hex()
  rt.add(key, '10.0.0.2:1')
  rt.add(hex(), '10.0.0.2:1')
  assert.equal(rt.all().filter((c) => c.addr === '10.0.0.2:1').length, 1, 'a new key on an address replaces the old one')
  for (let i = 0; i < 500; i++) rt.add(hex(), `10.1.${i >> 8}.${i & 255}:1`)
  assert.ok(rt.size <= 50, `total cap holds (${rt.size})`)
})

test('routing table: a full bucket keeps live contacts and takes a newcomer only in place of a stale one', () => {
  const { t, clock } = clockAt()
  const heard = new Map<string, number>()
  const rt = new RoutingTable({ clock, lastHeard: (a) => heard.get(a) ?? 0 }, { localId: Buffer.alloc(32), bucketSize: 2 })
  // Ids far from ours (first bit 1) land in the bucket that never splits once full.
  const far = () => { for (;;) { const k = hex(); if (nodeIdOf(k)[0] & 0x80) return k } }
  assert.ok(rt.add(far(), '10.0.1.1:1'))
  assert.ok(rt.add(far(), '10.0.1.2:1'))
  heard.set('10.0.1.1:1', 0); heard.set('10.0.1.2:1', 0)
  assert.equal(rt.add(far(), '10.0.1.3:1'), false, 'live contacts keep their place')
  t.now = STALE_CONTACT_MS + 1
  heard.set('10.0.1.2:1', t.now)
  assert.equal(rt.add(far(), '10.0.1.4:1'), true, 'a stale contact is replaced')
  assert.equal(rt.get('10.0.1.1:1'), undefined)
  rt.failed('10.0.1.2:1'); assert.ok(rt.get('10.0.1.2:1'), 'one failure is forgiven')
  rt.failed('10.0.1.2:1'); assert.equal(rt.get('10.0.1.2:1'), undefined, 'two in a row remove it')
})

test('provider store: expiry, per-key cap, keys cap, per-address rate', () => {
  const { t, clock } = clockAt()
  const ps = new ProviderStore(clock, { maxKeys: 3, maxProvidersPerKey: 2, perMinute: MAX_ANNOUNCES_PER_MINUTE })
  assert.equal(ps.add('x', '10.0.0.1:1'), 'stored')
  assert.equal(ps.add('x', '10.0.0.1:1'), 'refreshed')
  assert.equal(ps.add('x', '10.0.0.2:1'), 'stored')
  assert.equal(ps.add('x', '10.0.0.3:1'), 'providers_full')
  assert.deepEqual(ps.get('x', 16), ['10.0.0.2:1', '10.0.0.1:1'], 'freshest first')
  ps.add('y', '10.0.0.4:1'); ps.add('z', '10.0.0.4:1')
  assert.equal(ps.add('w', '10.0.0.4:1'), 'keys_full', 'old keys keep their place')
  t.now = PROVIDER_TTL_MS + 1
  assert.deepEqual(ps.get('x', 16), [], 'announcements expire')
  ps.sweep()
  assert.equal(ps.keys, 0)
  let limited = 0
  for (let i = 0; i < MAX_ANNOUNCES_PER_MINUTE + 10; i++) if (ps.add('y', '10.0.0.9:1') === 'rate_limited') limited++
  assert.equal(limited, 10, 'one address makes at most MAX_ANNOUNCES_PER_MINUTE announcements a minute')
  t.now += 60_000
  assert.notEqual(ps.add('y', '10.0.0.9:1'), 'rate_limited', 'the next minute it may again')
})
