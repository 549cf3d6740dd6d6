// A NAT rebinding mid-stream in the NAT lab, with real ingest and watch processes: the viewer's
// router moves it to a new public port (NatLab.rebind: a new LAN address, so the router makes new
// mappings while the old ones still hold their ports). The source sees a stranger; the viewer
// proves its node key at the new address (src/mesh/nat/peer-keys.ts) and keeps its place: every
// due segment held, the source's children moved to the new port, chunk delays within a second or
// so of normal. The in-process test (test/mesh/nat-rebinding.test.ts) has the control and the gap.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { StreamStatus } from '../../scripts/nat-swarm.ts'
import { natFigures, natTable } from '../../scripts/bench-nat-report.ts'
import { sleep, until } from '../helpers/cli-process.ts'
import { natSwarmUnavailable, useNatSwarm } from '../helpers/nat-swarm-fixture.ts'

const why = await natSwarmUnavailable()
if (why) process.stderr.write(`\n*** SKIPPING the NAT rebinding test: ${why} ***\n\n`)

type Full = StreamStatus & { children: string[][]; delayMs: { max: number; p50: number } }

describe('a NAT rebinding mid-stream in the NAT lab', { skip: why ?? false }, () => {
  const fixture = useNatSwarm({ publicHosts: ['src'], routers: [{ name: 'cone1', nat: 'cone', hosts: 1 }] }, '500k')

  it('the viewer keeps its place at the source when its router moves it to a new port', async () => {
    const { lab, swarm, dir } = fixture.get()
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
