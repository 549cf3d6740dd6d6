// Viewers behind a symmetric NAT fed by a viewer with a port mapping, in the NAT lab with real CLI
// processes and a real gateway (miniupnpd on the cone router, scripts/upnp-gateway.ts). A symmetric
// NAT with --random-fully cannot be punched from a port-restricted cone, so without a mapping only
// the source reaches such viewers (test/e2e/nat-swarm.test.ts: they are its leaves). The cone
// viewers here run with --port-mapping, announce their mapped address (IAmBehind.mapped), the source
// sends the symmetric viewers to them (src/mesh/nat/reachability.ts), and they push the stream
// through their router's mapping to the symmetric router's public address.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { until } from '../helpers/cli-process.ts'
import type { LabStun as LabStunT, UpnpGateway as UpnpGatewayT } from '../../scripts/upnp-gateway.ts'

// Our own namespaces' prefix, so the reaper and `down` of other people's labs leave ours alone.
process.env.CJP2P_NAT_LAB_PREFIX = 'hupnpsw'
const { natSwarmUnavailable, runNatSwarm, useNatSwarm } = await import('../helpers/nat-swarm-fixture.ts')
const { LabStun, UpnpGateway, upnpGatewayUnavailable } = await import('../../scripts/upnp-gateway.ts')

const why = (await natSwarmUnavailable()) ?? upnpGatewayUnavailable()
if (why) process.stderr.write(`\n*** SKIPPING the NAT lab port-mapped swarm test: ${why} ***\n\n`)

const MAPPED = ['cone1h1', 'cone1h2']
const SYMMETRIC = ['sym1h1', 'sym1h2']
const RUN_MS = 18_000

describe('viewers behind a symmetric NAT are fed by viewers with a port mapping', { skip: why ?? false }, () => {
  const fixture = useNatSwarm({ publicHosts: ['src', 'stun'], routers: [{ name: 'cone1', nat: 'cone', hosts: MAPPED.length }, { name: 'sym1', nat: 'symmetric', hosts: SYMMETRIC.length }] }, '500k')
  let stun: LabStunT | undefined
  let gateway: UpnpGatewayT | undefined
  before(async () => {
    const { lab, dir } = fixture.get()
    stun = await LabStun.start(lab, 'stun')
    gateway = await UpnpGateway.start(lab, 'cone1', stun, dir)
  })
  after(() => { gateway?.stop(); stun?.stop() })

  it('the mapped viewers announce their mapping, and push stream bytes to the symmetric viewers through it', async () => {
    const { lab, swarm } = fixture.get()
    const routerIp = lab.routerIps.get('cone1')!
    const { nat, f } = await runNatSwarm(fixture.get(), [...MAPPED, ...SYMMETRIC], RUN_MS, {
      flags: (h) => (MAPPED.includes(h) ? ['--port-mapping'] : []),
      first: MAPPED,
      // The symmetric viewers join once the source counts the cone viewers as mapped, as late
      // joiners of a running stream do (a symmetric child the source already feeds keeps its place).
      afterFirst: () => until('the source to learn both mappings', 60_000, async () => {
        const peers = (await swarm.status('src'))?.peers ?? []
        return peers.filter((p) => p.addr.startsWith(`${routerIp}:`) && p.mapped).length === MAPPED.length
      }, 500),
    })
    for (const h of MAPPED) {
      const pm = nat.get(h)?.nat.portMapping
      assert.equal(pm?.state, 'mapped', `${h} holds a mapping: ${JSON.stringify(pm)}`)
      assert.equal(nat.get(h)?.nat.kind, 'cone', `${h} is still behind its cone`)
    }
    for (const h of SYMMETRIC) assert.equal(nat.get(h)?.nat.kind, 'symmetric', `${h} knows it sits behind a symmetric NAT`)
    for (const v of f.viewers) {
      assert.ok(v.due >= 4, `${v.host}: at least 4 segments were due (got ${v.due})`)
      assert.ok(v.played >= v.due * 0.5, `${v.host} held ${v.played} of ${v.due} due segments`)
    }
    // The point: a mapped viewer sent stream chunks to the symmetric router's public address (a
    // symmetric viewer's mapping there), which no cone viewer without a mapping can reach.
    const mappedFeeders = f.viewers.filter((v) => MAPPED.includes(v.host) && v.fedWhere.includes('sym1'))
    assert.ok(mappedFeeders.length >= 1, `a mapped viewer fed a symmetric viewer: ${f.viewers.map((v) => `${v.host} -> ${v.fedWhere.join(' ') || '-'}`).join(', ')}`)
    const syms = f.viewers.filter((v) => SYMMETRIC.includes(v.host))
    const symFromPeers = syms.reduce((n, v) => n + v.fromPeersBytes, 0)
    const symFromSource = syms.reduce((n, v) => n + v.fromSourceBytes, 0)
    assert.ok(symFromPeers > f.streamBytes * 0.5, `the symmetric viewers got ${(symFromPeers / 1e6).toFixed(2)} MB from peers (stream ${(f.streamBytes / 1e6).toFixed(2)} MB)`)
    // Without mappings the source feeds their LAN whole (about a copy, test/e2e/nat-lan-mates.test.ts).
    assert.ok(symFromSource < f.streamBytes * 0.5, `the source sent the symmetric viewers ${(symFromSource / 1e6).toFixed(2)} MB (stream ${(f.streamBytes / 1e6).toFixed(2)} MB)`)
  })
})
