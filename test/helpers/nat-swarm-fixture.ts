// A NAT lab with a stream swarm of real CLI processes, for the e2e tests: why it cannot run here
// (no `ip netns`, no curl), and a lab and swarm made before the tests and torn down after.
import { after, before } from 'node:test'
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NatLab, type NatLabInit } from '../../scripts/nat-lab.ts'
import { NatSwarm } from '../../scripts/nat-swarm.ts'

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
