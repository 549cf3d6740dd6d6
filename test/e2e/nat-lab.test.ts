// The NAT laboratory's semantics, proven once with plain UDP so later tests (hole punching,
// keepalives, peers known by key) can trust it: what a port-restricted cone and a symmetric NAT
// let through, and that a simultaneous send opens a path between two cones but not between a
// cone and a symmetric NAT. Every negative check has a positive control on the same path first
// or after, so "nothing arrived" cannot come from a broken lab.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { NatLab } from '../../scripts/nat-lab.ts'
import { UdpAgent } from '../helpers/udp-agent.ts'

const why = await NatLab.unavailable()
if (why) process.stderr.write(`\n*** SKIPPING the NAT lab tests: ${why} ***\n\n`)

/** How long a datagram that the NAT should drop gets to show up anyway (a few RTTs in namespaces, generous). */
const QUIET_MS = 1500
/** How long a datagram that should arrive may take on a busy machine. */
const ARRIVE_MS = 5000
/** Sends per step: a single lost datagram must not decide a test (the lab has no loss, the kernel may). */
const REPEATS = 5

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('NAT lab: port-restricted cone and symmetric NATs in namespaces', { skip: why ?? false }, () => {
  let lab: NatLab
  const agents: UdpAgent[] = []
  const agent = async (host: string, reflect = false, port?: number) => {
    const a = await UdpAgent.start(lab, host, { reflect, port })
    agents.push(a)
    return a
  }
  const addr = (a: UdpAgent) => `${lab.host(a.host).ip}:${a.port}`
  const repeat = async (fn: () => void) => { for (let i = 0; i < REPEATS; i++) { fn(); await sleep(50) } }

  before(async () => {
    lab = await NatLab.create({
      publicHosts: ['p1', 'p2'],
      routers: [{ name: 'cone1', nat: 'cone', hosts: 2 }, { name: 'cone2', nat: 'cone', hosts: 1 }, { name: 'sym1', nat: 'symmetric', hosts: 1 }],
    })
  })
  after(async () => {
    await Promise.all(agents.map((a) => a.close()))
    await lab?.close()
  })

  it('a host behind a cone NAT gets the reply of the public host it contacted, from the router address', async () => {
    const p1 = await agent('p1', true)
    const a = await agent('cone1h1')
    const seen = await a.observedBy(addr(p1))
    assert.equal(seen.split(':')[0], lab.publicIp('cone1h1'), 'the public host saw the router, not the private address')
    assert.notEqual(lab.publicIp('cone1h1'), lab.host('cone1h1').ip)
  })

  it('drops what a cone NAT was not asked for: another public host, or the contacted host from another port', async () => {
    const p1 = await agent('p1', true)
    const p1other = await agent('p1')
    const p2 = await agent('p2')
    const a = await agent('cone1h1')
    const mapping = await a.observedBy(addr(p1))
    await repeat(() => { p2.send(mapping, 'from p2'); p1other.send(mapping, 'from p1, another port') })
    await repeat(() => p1.send(mapping, 'from p1'))
    assert.ok(await a.wait(() => a.got('from p1').length > 0, ARRIVE_MS), 'control: the contacted host and port get through')
    await sleep(QUIET_MS)
    assert.deepEqual(a.got('from p2'), [], 'an unsolicited datagram from another public host came in')
    assert.deepEqual(a.got('from p1, another port'), [], 'a datagram from the contacted host but another port came in')
  })

  it('a cone NAT maps one socket to one public port toward every host; a symmetric NAT does not', async () => {
    const p1 = await agent('p1', true)
    const p2 = await agent('p2', true)
    const cone = await agent('cone1h1')
    const sym = await agent('sym1h1')
    const [c1, c2] = [await cone.observedBy(addr(p1)), await cone.observedBy(addr(p2))]
    assert.equal(c1, c2, 'cone: the same mapping toward two hosts (endpoint-independent)')
    const [s1, s2] = [await sym.observedBy(addr(p1)), await sym.observedBy(addr(p2))]
    assert.equal(s1.split(':')[0], s2.split(':')[0], 'symmetric: one public address')
    assert.notEqual(s1, s2, 'symmetric: a new public port per destination')
  })

  it('two hosts of one LAN on the same local port: the port is kept where free, so a mapping depends on the destination', async () => {
    const PORT = 40000
    const p1 = await agent('p1', true)
    const p2 = await agent('p2', true)
    const first = await agent('cone1h1', false, PORT)
    const second = await agent('cone1h2', false, PORT)
    const kept = `${lab.publicIp('cone1h1')}:${PORT}`
    assert.equal(await first.observedBy(addr(p1)), kept, 'the port is preserved when free')
    assert.equal(await second.observedBy(addr(p2)), kept, 'toward a host the first never talked to, the same public port is free for the second')
    assert.notEqual(await second.observedBy(addr(p1)), kept, 'toward the first one\'s host it is taken: another public port, endpoint-dependent')
  })

  it('two hosts behind different cone NATs talk after both send at once (a hole punch); one side alone is dropped', async () => {
    const p1 = await agent('p1', true)
    const a = await agent('cone1h1')
    const b = await agent('cone2h1')
    const [ma, mb] = await Promise.all([a.observedBy(addr(p1)), b.observedBy(addr(p1))])
    await repeat(() => b.send(ma, 'one-sided'))
    await sleep(QUIET_MS)
    assert.deepEqual(a.got('one-sided'), [], 'a datagram reached a cone host that had not sent to its source')
    await repeat(() => { a.send(mb, 'punch from a'); b.send(ma, 'punch from b') })
    assert.ok(await a.wait(() => a.got('punch from b').length > 0, ARRIVE_MS), 'a heard b after the punch')
    assert.ok(await b.wait(() => b.got('punch from a').length > 0, ARRIVE_MS), 'b heard a after the punch')
    assert.equal(a.got('punch from b')[0].from, mb, 'b came from the mapping the rendezvous saw')
    assert.equal(b.got('punch from a')[0].from, ma, 'a came from the mapping the rendezvous saw')
  })

  it('a hole punch between a symmetric NAT and a cone NAT fails both ways', async () => {
    const p1 = await agent('p1', true)
    const a = await agent('cone1h2')
    const s = await agent('sym1h1')
    const [ma, ms] = await Promise.all([a.observedBy(addr(p1)), s.observedBy(addr(p1))])
    for (let i = 0; i < 3; i++) await repeat(() => { a.send(ms, 'punch from cone'); s.send(ma, 'punch from symmetric') })
    await sleep(QUIET_MS)
    assert.deepEqual(a.got('punch from symmetric'), [], 'the symmetric host got through to the cone host')
    assert.deepEqual(s.got('punch from cone'), [], 'the cone host got through to the symmetric host')
    // Control: both still reach the rendezvous, so the silence above is the NATs' doing.
    p1.send(ma, 'still here')
    p1.send(ms, 'still here')
    assert.ok(await a.wait(() => a.got('still here').length > 0, ARRIVE_MS) && await s.wait(() => s.got('still here').length > 0, ARRIVE_MS))
  })

  it('reaps the namespaces of a lab whose owner was killed with SIGKILL when the next lab is made', async () => {
    const code = `import { NatLab } from ${JSON.stringify(new URL('../../scripts/nat-lab.ts', import.meta.url).pathname)}
      const l = await NatLab.create({ publicHosts: ['y1'], routers: [{ name: 'ry', nat: 'cone', hosts: 1 }] })
      l.spawn('ryh1', 'sleep', ['600'])
      console.log(JSON.stringify([...l.hosts.values()].map((h) => h.ns)))
      setInterval(() => {}, 1000)`
    const { spawn, execFileSync } = await import('node:child_process')
    const owner = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })
    const line = await new Promise<string>((resolve, reject) => {
      owner.stdout!.setEncoding('utf8').once('data', (s: string) => resolve(s))
      owner.once('exit', (c) => reject(new Error(`the lab owner exited (${c}) before building its lab`)))
    })
    const left = JSON.parse(line) as string[]
    owner.kill('SIGKILL')
    await new Promise((r) => owner.once('exit', r))
    const list = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    assert.ok(left.every((n) => list().includes(n)), 'SIGKILL gave the owner no chance to clean up')
    const next = await NatLab.create({ publicHosts: ['z1'], routers: [] })
    await next.close()
    for (const n of left) assert.ok(!list().includes(n), `${n} of the dead owner is still there`)
  })

  it('cleans up: no namespace of the lab is left after close', async () => {
    const small = await NatLab.create({ publicHosts: ['x1'], routers: [{ name: 'rx', nat: 'cone', hosts: 1 }] })
    const ns = [...small.hosts.values()].map((h) => h.ns)
    // Wait until it runs inside the namespace: a close racing `ip netns exec` would find no pid
    // there, and the exec would then fail on its own (an exit code, not our SIGKILL).
    const running = small.spawn('rxh1', 'sh', ['-c', 'echo in; exec sleep 600'], { stdio: ['ignore', 'pipe', 'ignore'] })
    await new Promise((r) => running.stdout?.once('data', r))
    await small.close()
    await small.close()
    const { execFileSync } = await import('node:child_process')
    const list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    for (const n of ns) assert.ok(!list.includes(n), `${n} is still there`)
    await new Promise((r) => running.exitCode !== null || running.signalCode !== null ? r(null) : running.once('exit', r))
    assert.equal(running.signalCode, 'SIGKILL', 'a process left in the lab is killed with it')
  })
})
