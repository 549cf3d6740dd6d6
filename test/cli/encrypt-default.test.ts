// Encryption between our nodes is the CLI's default (ENCRYPT_BY_DEFAULT): two `node` processes
// started with no encryption flag make a Noise session and seal to each other; one started with
// --no-encrypt takes no part and still talks to them in plain JSON (a node of a version before
// encryption looks the same on the wire).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { startCli, tempDir, until, loopbackFlags } from '../helpers/cli-process.ts'
import { ENCRYPT_BY_DEFAULT } from '../../src/cli/options.ts'
import type { NodeStatus } from '../../src/metrics/node-status.ts'

const status = async (http: string) => (await (await fetch(`${http}/status.json`)).json()) as NodeStatus

test('nodes encrypt to each other by default; --no-encrypt talks plain to them', { skip: ENCRYPT_BY_DEFAULT ? false : 'encryption is off by default (ENCRYPT_BY_DEFAULT)', timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-cli-encrypt-')
  const a = startCli(t, ['node', '--json', ...loopbackFlags(join(dir, 'a'))])
  const aInfo = await a.firstJson<{ udp: string; http: string }>()
  const b = startCli(t, ['node', '--json', '--peer', aInfo.udp, ...loopbackFlags(join(dir, 'b'))])
  const bInfo = await b.firstJson<{ udp: string; http: string }>()
  // Both sides sealed to the other and opened what came back: the session is made and used.
  const [sa, sb] = await until('a session between A and B, used both ways', 30_000, async () => {
    const [x, y] = [await status(aInfo.http), await status(bInfo.http)]
    return x.secure && y.secure && x.secure.established >= 1 && y.secure.established >= 1 && x.secure.opened > 0 && y.secure.opened > 0 ? [x, y] : null
  }, 300)
  assert.equal(sa.secure!.badSeal + sb.secure!.badSeal, 0)

  const c = startCli(t, ['node', '--json', '--no-encrypt', '--peer', aInfo.udp, ...loopbackFlags(join(dir, 'c'))])
  const cInfo = await c.firstJson<{ udp: string; http: string }>()
  const sc = await until('C and A to prove each other', 30_000, async () => {
    const [x, y] = [await status(cInfo.http), await status(aInfo.http)]
    return x.peers.some((p) => p.addr === aInfo.udp && p.verified) && y.peers.some((p) => p.addr === cInfo.udp && p.verified) ? x : null
  }, 300)
  assert.equal(sc.secure, null, '--no-encrypt runs no sessions')
  // A never got a handshake answer from C: it still has its one session, with B, and nothing of
  // C's was refused or lost.
  const sa2 = await status(aInfo.http)
  assert.equal(sa2.secure!.established, sa.secure!.established, 'no session with the plain node')
  assert.equal(sa2.counters.dropped.plain_from_sealed ?? 0, 0)
})
