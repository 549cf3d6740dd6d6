// Birthday punching in the NAT lab with real CLI processes: a viewer behind a symmetric router
// (MASQUERADE --random-fully) and one behind a port-restricted cone, both watching a public source.
// A plain introduction cannot join them (test/e2e/nat-lab.test.ts proves it for bare sockets, and
// the control below for the nodes: with --punch-probes 0 they never talk); with birthday punching
// the source introduces them, the symmetric viewer's side sockets and the cone viewer's probes meet,
// and both prove each other's address (src/mesh/nat/birthday-punch.ts).
// Run with CJP2P_NAT_LAB_PREFIX to keep the namespaces apart from other labs on the machine.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { natSwarmUnavailable, runNatSwarm, useNatSwarm } from '../helpers/nat-swarm-fixture.ts'
import type { NatLab } from '../../scripts/nat-lab.ts'
import type { NodeStatus } from '../../scripts/nat-swarm.ts'

const why = await natSwarmUnavailable()
if (why) process.stderr.write(`\n*** SKIPPING the NAT lab birthday punch test: ${why} ***\n\n`)

const VIEWERS = ['cone1h1', 'sym1h1']
/** The symmetric viewer greets the cone viewer at its second peer probe (10 s), then the punch
 * takes up to 10 s: twice that, for a loaded machine. */
const RUN_MS = 40_000
const LAB = { publicHosts: ['src'], routers: [{ name: 'cone1', nat: 'cone' as const, hosts: 1 }, { name: 'sym1', nat: 'symmetric' as const, hosts: 1 }] }

/** The peers of `host` behind `router`'s public address, as `host`'s status lists them. */
function peersBehind(lab: NatLab, st: NodeStatus | null | undefined, behind: string) {
  return (st?.peers ?? []).filter((p) => p.addr.startsWith(`${lab.publicIp(behind)}:`))
}

describe('birthday punching between a symmetric and a cone NAT (real processes)', { skip: why ?? false }, () => {
  describe('control: --punch-probes 0', () => {
    const fixture = useNatSwarm(LAB, '300k')
    it('the two viewers never exchange a datagram', async () => {
      const { lab } = fixture.get()
      const { nat } = await runNatSwarm(fixture.get(), VIEWERS, RUN_MS / 2, { flags: () => ['--punch-probes', '0'] })
      assert.equal(nat.get('sym1h1')?.nat?.kind, 'symmetric')
      assert.equal(nat.get('cone1h1')?.nat?.kind, 'cone')
      assert.equal(nat.get('sym1h1')?.nat?.birthday ?? null, null, 'birthday punching is off')
      assert.deepEqual(peersBehind(lab, nat.get('cone1h1'), 'sym1h1').filter((p) => p.verified), [], 'the cone viewer proved no address of the symmetric viewer')
      assert.deepEqual(peersBehind(lab, nat.get('sym1h1'), 'cone1h1').filter((p) => p.verified), [], 'the symmetric viewer proved no address of the cone viewer')
    })
  })

  describe('with birthday punching (the default)', () => {
    const fixture = useNatSwarm(LAB, '300k')
    it('the source introduces them, the punch meets, and each proves the other\'s address', async () => {
      const { lab } = fixture.get()
      const { nat } = await runNatSwarm(fixture.get(), VIEWERS, RUN_MS)
      const sym = nat.get('sym1h1')
      const cone = nat.get('cone1h1')
      process.stderr.write(`birthday: sym ${JSON.stringify(sym?.nat?.birthday)} cone ${JSON.stringify(cone?.nat?.birthday)} source introductions ${JSON.stringify(nat.get('src')?.nat?.introductions)}\n`)
      assert.equal(sym?.nat?.kind, 'symmetric')
      assert.equal(cone?.nat?.kind, 'cone')
      assert.ok((nat.get('src')?.nat?.introductions.birthdays ?? 0) >= 1, 'the source introduced them for a birthday punch')
      assert.ok((sym?.nat?.birthday?.punched ?? 0) >= 1, `the symmetric viewer's punch met: ${JSON.stringify(sym?.nat?.birthday)}`)
      assert.ok((cone?.nat?.birthday?.punched ?? 0) >= 1, `the cone viewer's punch met: ${JSON.stringify(cone?.nat?.birthday)}`)
      const coneAddr = peersBehind(lab, sym, 'cone1h1').find((p) => p.verified)?.addr
      assert.ok(coneAddr !== undefined, 'the symmetric viewer proved the cone viewer\'s address')
      assert.ok(sym?.nat?.birthday?.sidePeers.includes(coneAddr), `it speaks to it through a side socket: ${JSON.stringify(sym?.nat?.birthday?.sidePeers)}`)
      const seen = peersBehind(lab, cone, 'sym1h1').filter((p) => p.verified)
      assert.ok(seen.length >= 1, 'the cone viewer proved an address of the symmetric viewer')
      assert.ok(seen.some((p) => p.lastHeardMsAgo < 20_000), `and still hears it (keepalives through the side socket): ${JSON.stringify(seen)}`)
    })
  })
})
