// Viewers behind one symmetric router, in the NAT lab with real CLI processes. Nobody outside can
// reach them but the public source they contacted, yet they reach each other across their LAN: the
// source introduces them at the LAN addresses they told it (IAmBehind.local) and sends all but the
// first of them, per stripe, to that first one. So the source uploads about one copy for the LAN,
// not one per viewer (src/mesh/nat/lan-mates.ts). And all of it travels encrypted (src/mesh/secure/).
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { natSwarmUnavailable, runNatSwarm, useNatSwarm } from '../helpers/nat-swarm-fixture.ts'

const why = await natSwarmUnavailable()
if (why) process.stderr.write(`\n*** SKIPPING the NAT lab LAN-mates test: ${why} ***\n\n`)

const VIEWERS = ['sym1h1', 'sym1h2', 'sym1h3']
const RUN_MS = 25_000

describe('viewers behind one symmetric NAT feed each other across their LAN', { skip: why ?? false }, () => {
  const fixture = useNatSwarm({ publicHosts: ['src'], routers: [{ name: 'sym1', nat: 'symmetric', hosts: VIEWERS.length }] }, '500k', { encrypt: true })

  it('all play, they feed each other at LAN addresses, and the source uploads well under one copy each', async () => {
    const { lab } = fixture.get()
    const { nat, f } = await runNatSwarm(fixture.get(), VIEWERS, RUN_MS)
    for (const h of VIEWERS) assert.equal(nat.get(h)?.nat?.kind, 'symmetric', `${h} knows it sits behind a symmetric NAT`)
    // With --encrypt, everything between them and with the source went sealed (src/mesh/secure/): every node made
    // sessions, and opened sealed frames, none failing authentication.
    for (const h of ['src', ...VIEWERS]) {
      const sec = nat.get(h)?.secure
      process.stderr.write(`${h} secure: ${JSON.stringify(sec)}\n`)
      assert.ok((sec?.established ?? 0) >= 1 && (sec?.opened ?? 0) > 100, `${h} talked sealed: ${JSON.stringify(sec)}`)
      assert.equal(sec?.badSeal, 0)
    }
    for (const v of f.viewers) {
      assert.ok(v.due >= 5, `${v.host}: at least 5 segments were due (got ${v.due})`)
      assert.ok(v.played >= v.due * 0.5, `${v.host} held ${v.played} of ${v.due} due segments`)
    }
    // They fed each other, at their LAN addresses (never through the router: no hairpin, and its
    // mappings let nobody in), and the source introduced them.
    const lanIps = new Set(VIEWERS.map((h) => lab.host(h).ip))
    const feeders = f.viewers.filter((v) => v.fedPeers > 0)
    assert.ok(feeders.length >= 1, 'a viewer behind the symmetric NAT fed another')
    for (const v of feeders) assert.ok(v.fedWhere.every((w) => lanIps.has(w)), `${v.host} fed only LAN addresses: ${v.fedWhere.join(' ')}`)
    const fromPeers = f.viewers.reduce((n, v) => n + v.fromPeersBytes, 0)
    assert.ok(fromPeers > f.streamBytes * 0.5, `viewers got ${(fromPeers / 1e6).toFixed(2)} MB from each other (stream ${(f.streamBytes / 1e6).toFixed(2)} MB)`)
    assert.ok((nat.get('src')?.nat?.introductions.lanMates ?? 0) >= 2, 'the source introduced the LAN-mates')
    // Without LAN-mates the source feeds each of them whole: 3 copies (the bench shows it).
    assert.ok(f.sourceCopies < 2.2, `the source uploaded ${f.sourceCopies.toFixed(2)} copies for ${VIEWERS.length} viewers`)
  })
})
