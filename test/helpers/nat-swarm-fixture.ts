// A NAT lab with a stream swarm of real CLI processes, for the e2e tests: why it cannot run here
// (no `ip netns`, no curl), and a lab and swarm made before the tests and torn down after.
import { after, before } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NatLab, type NatLabInit } from '../../scripts/nat-lab.ts'
import { NatSwarm, type NodeStatus, type StreamStatus } from '../../scripts/nat-swarm.ts'
import { natFigures, natTable, type NatFigures } from '../../scripts/bench-nat-report.ts'
import { sleep, until } from './cli-process.ts'

/** Why the lab swarm cannot run on this machine, or null. */
export async function natSwarmUnavailable(): Promise<string | null> {
  const hasCurl = (() => { try { execFileSync('curl', ['--version'], { stdio: 'ignore' }); return true } catch { return false } })()
  return (await NatLab.unavailable()) ?? (hasCurl ? null : 'curl is missing (it reads each node\'s status inside its namespace); apt-get install -y curl')
}

/** Registers the lab's making and teardown in the enclosing suite; `get` gives them in a test. */
export function useNatSwarm(init: NatLabInit, bitrate: string, opts: { encrypt?: boolean } = {}): { get: () => { lab: NatLab; swarm: NatSwarm; dir: string } } {
  let lab: NatLab | undefined
  let swarm: NatSwarm | undefined
  let dir: string | undefined
  before(async () => {
    lab = await NatLab.create(init)
    dir = await mkdtemp(join(tmpdir(), 'cjp2p-natswarm-'))
    swarm = new NatSwarm(lab, dir, { bitrate, encrypt: opts.encrypt })
  })
  after(async () => {
    await swarm?.stop()
    await lab?.close()
    if (dir) await rm(dir, { recursive: true, force: true, maxRetries: 3 })
  })
  return { get: () => ({ lab: lab!, swarm: swarm!, dir: dir! }) }
}

/** A public source `src` and `viewers`, run for `runMs` once every viewer verified a chunk; then
 * each node's stream status and status, the swarm stopped, and the bench's figures (printed).
 * `opts.flags`: more flags for a viewer; `opts.first`: viewers started first, and `opts.afterFirst`
 * awaited before the rest start. */
export async function runNatSwarm(parts: { lab: NatLab; swarm: NatSwarm; dir: string }, viewers: string[], runMs: number, opts: {
  flags?: (host: string) => string[]; first?: string[]; afterFirst?: () => Promise<unknown>
} = {}): Promise<{
  statuses: Map<string, StreamStatus | null>; nat: Map<string, NodeStatus | null>; f: NatFigures
}> {
  const { lab, swarm, dir } = parts
  await swarm.startSource('src')
  const first = opts.first ?? []
  for (const v of first) swarm.startViewer(v, ['src'], opts.flags?.(v))
  await swarm.ready()
  await opts.afterFirst?.()
  for (const v of viewers.filter((h) => !first.includes(h))) swarm.startViewer(v, ['src'], opts.flags?.(v))
  await swarm.ready()
  await until('every viewer to verify chunks', 60_000, async () => {
    const st = await Promise.all(viewers.map((v) => swarm.streamStatus(v)))
    return st.every((s) => (s?.verifiedChunks ?? 0) > 0)
  }, 1000)
  await sleep(runMs)
  const statuses = new Map<string, StreamStatus | null>()
  for (const h of ['src', ...viewers]) statuses.set(h, await swarm.streamStatus(h))
  const nat = new Map<string, NodeStatus | null>()
  for (const h of ['src', ...viewers]) nat.set(h, await swarm.status(h))
  const stopAt = Date.now()
  assert.deepEqual(swarm.crashed(), [])
  await swarm.stop()
  const f = await natFigures({ scenario: 'test', seconds: runMs / 1000, bitrate: '500k', lab, dir, id: swarm.id, sourceHost: 'src', entryHost: null, stopAt, statuses, nodes: nat, cpuShareOfCorePerViewer: 0, loadAverage: 0 })
  process.stderr.write(natTable(f) + '\n')
  return { statuses, nat, f }
}
