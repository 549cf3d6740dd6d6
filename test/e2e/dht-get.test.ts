// Discovery through the DHT across real processes: A shares a file and names only B as its peer;
// C runs `get` naming only B, which does not have the file. C must find A through B's DHT answer
// (TheyHave) and fetch the file from A.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runCli, startCli, tempDir, until, loopbackFlags } from '../helpers/cli-process.ts'
import type { NodeStatus } from '../../src/metrics/node-status.ts'

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

/** The status contract, as every reader of /status.json takes it. */
type Status = NodeStatus

test('get finds the provider through the DHT when --peer names only an unrelated node', { timeout: 180_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-dht-get-')
  const content = randomBytes(3 * 1024 * 1024 + 123)
  const file = join(dir, 'film.bin')
  await writeFile(file, content)
  const want = sha256(content)

  const b = startCli(t, ['node', '--json', ...loopbackFlags(join(dir, 'b'))])
  const bInfo = await b.firstJson<{ udp: string; http: string; shared: number }>()
  assert.equal(bInfo.shared, 0, 'B has nothing to share')

  const shared = await runCli(['share', file, '--dir', join(dir, 'a')])
  assert.equal(shared.code, 0, shared.stderr)
  const a = startCli(t, ['node', '--json', '--peer', bInfo.udp, ...loopbackFlags(join(dir, 'a'))])
  const aInfo = await a.firstJson<{ udp: string }>()

  // A's announcement reaches B: B now holds one provider record (A's proven address).
  await until('B to store A\'s announcement', 60_000, async () => {
    const s = await fetch(`${bInfo.http}/status.json`).then((r) => r.json() as Promise<Status>).catch(() => null)
    return (s?.dht.announces.stored ?? 0) >= 1 && s!.dht.providerKeys >= 1
  })

  const r = await runCli(['get', want, '--peer', bInfo.udp, '--json', ...loopbackFlags(join(dir, 'c'), { httpPort: null })], { timeoutMs: 120_000 })
  assert.equal(r.code, 0, r.stderr)
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { path: string; suppliers: string[] }
  assert.equal(sha256(await readFile(out.path)), want, 'the file arrived byte-exact')
  assert.deepEqual(out.suppliers, [aInfo.udp], 'every block came from A')
  assert.match(r.stderr, new RegExp(`the DHT names 1 provider\\(s\\) of ${want}: ${aInfo.udp.replace(/\./g, '\\.')}`), 'the DHT named A')
})
