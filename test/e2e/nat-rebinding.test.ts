// A NAT rebinding mid-stream in the NAT lab, with real ingest and watch processes: the viewer's
// router moves it to a new public port (NatLab.rebind: a new LAN address, so the router makes new
// mappings while the old ones still hold their ports). The source sees a stranger; the viewer
// proves its node key at the new address (src/mesh/nat/peer-keys.ts) and keeps its place: every
// due segment held, the source's children moved to the new port, chunk delays within a second or
// so of normal. The in-process test (test/mesh/nat-rebinding.test.ts) has the control and the gap.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NatLab } from '../../scripts/nat-lab.ts'
import { NatSwarm, type StreamStatus } from '../../scripts/nat-swarm.ts'
import { natFigures, natTable } from '../../scripts/bench-nat-report.ts'
import { sleep, until } from '../helpers/cli-process.ts'

const hasCurl = (() => { try { execFileSync('curl', ['--version'], { stdio: 'ignore' }); return true } catch { return false } })()
const why = (await NatLab.unavailable()) ?? (hasCurl ? null : 'curl is missing (it reads each node\'s status inside its namespace); apt-get install -y curl')
if (why) process.stderr.write(`\n*** SKIPPING the NAT rebinding test: ${why} ***\n\n`)

type Full = StreamStatus & { children: string[][]; delayMs: { max: number; p50: number } }

describe('a NAT rebinding mid-stream in the NAT lab', { skip: why ?? false }, () => {
  let lab: NatLab
  let swarm: NatSwarm
  let dir: string

  before(async () => {
    lab = await NatLab.create({ publicHosts: ['src'], routers: [{ name: 'cone1', nat: 'cone', hosts: 1 }] })
    dir = await mkdtemp(join(tmpdir(), 'cjp2p-natrebind-'))
    swarm = new NatSwarm(lab, dir, { bitrate: '500k' })
  })
  after(async () => {
    await swarm?.stop()
    await lab?.close()
    if (dir) await rm(dir, { recursive: true, force: true, maxRetries: 3 })
  })

  it('the viewer keeps its place at the source when its router moves it to a new port', async () => {
    await swarm.startSource('src')
    swarm.startViewer('cone1h1', ['src'])
    await swarm.ready()
    const childPorts = async () => ((await swarm.streamStatus('src')) as Full | null)?.children.flat() ?? []
    const first = await until('the source to have the viewer as a child', 60_000, async () => (await childPorts()).find((a) => a.startsWith(`${lab.publicIp('cone1h1')}:`)), 500)
    await sleep(5000)
    await lab.rebind('cone1h1')
    const moved = await until('the source to see the viewer at a new port', 30_000, async () => (await childPorts()).find((a) => a.startsWith(`${lab.publicIp('cone1h1')}:`) && a !== first), 250)
    await sleep(8000)
    const src = await swarm.status('src')
    const viewer = (await swarm.streamStatus('cone1h1')) as Full | null
    const statuses = new Map<string, StreamStatus | null>([['src', await swarm.streamStatus('src')], ['cone1h1', viewer]])
    const stopAt = Date.now()
    assert.deepEqual(swarm.crashed(), [])
    await swarm.stop()
    const f = await natFigures({ scenario: 'rebinding', seconds: 0, bitrate: '500k', lab, dir, id: swarm.id, sourceHost: 'src', entryHost: null, stopAt, statuses, cpuShareOfCorePerViewer: 0, loadAverage: 0 })
    process.stderr.write(natTable(f) + '\n')
    process.stderr.write(`rebinding: child ${first} -> ${moved}; source keys ${JSON.stringify(src?.nat.keys)}; viewer chunk delay p50 ${viewer?.delayMs.p50} ms, max ${viewer?.delayMs.max} ms\n`)
    assert.ok((src?.nat.keys?.moved ?? 0) >= 1, 'the source saw the viewer\'s key at its new port')
    assert.ok(!(src?.streams[0] as Full | undefined)?.children.flat().includes(first), 'the old port is no longer a child')
    const v = f.viewers[0]
    assert.ok(v.due >= 5 && v.played === v.due, `the viewer held ${v.played} of ${v.due} due segments`)
    assert.deepEqual(viewer?.parents, Array(4).fill(`${lab.host('src').ip}:24254`), 'the source still feeds every stripe')
  })
})
