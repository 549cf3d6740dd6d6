// The CLI through a running node's local API: `ls`, `status` and `peers` ask it; `get` and `share`
// on the folder a node runs on hand their work to it (no second node on the same folder).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loopbackFlags, runCli, startCli, tempDir } from '../helpers/cli-process.ts'

test('ls, get and share through a running node', { timeout: 180_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-cli-api-')
  const content = randomBytes(6 * 1024 * 1024 + 7)
  const id = createHash('sha256').update(content).digest('hex')
  const file = join(dir, 'clip.mp4')
  await writeFile(file, content)
  const shared = await runCli(['share', file, '--dir', join(dir, 'seeder')])
  assert.equal(shared.code, 0, shared.stderr)
  const seeder = startCli(t, ['node', '--json', ...loopbackFlags(join(dir, 'seeder'))])
  const s = await seeder.firstJson<{ udp: string }>()
  const mine = join(dir, 'mine')
  const node = startCli(t, ['node', '--json', '--peer', s.udp, ...loopbackFlags(mine)])
  const n = await node.firstJson<{ http: string }>()
  const httpPort = new URL(n.http).port
  assert.ok(existsSync(join(mine, 'api.json')), 'the node wrote api.json for the CLI')

  const empty = await runCli(['ls', '--http-port', httpPort])
  assert.equal(empty.code, 0, empty.stderr)
  assert.match(empty.stdout, /no files/)

  const got = await runCli(['get', id, '--json', ...loopbackFlags(mine, { httpPort: null })], { timeoutMs: 120_000 })
  assert.equal(got.code, 0, got.stderr)
  assert.match(got.stderr, /handed to the node running on/)
  const out = JSON.parse(got.stdout.trim().split('\n').at(-1)!) as { path: string; size: number; via: string }
  assert.equal(out.via, n.http)
  assert.equal(out.size, content.length)
  assert.ok((await readFile(out.path)).equals(content))

  // --timeout holds for a download handed to the node: an id nobody has gives up, and is cancelled there.
  const missing = 'ab'.repeat(32)
  const gaveUp = await runCli(['get', missing, '--timeout', '2', ...loopbackFlags(mine, { httpPort: null })], { timeoutMs: 60_000 })
  assert.notEqual(gaveUp.code, 0)
  assert.match(gaveUp.stderr, /no new byte of [0-9a-f]{64} for 2 s \(--timeout\)/)

  const other = join(dir, 'notes.txt')
  await writeFile(other, 'hello gateway\n')
  const sh = await runCli(['share', other, '--dir', mine])
  assert.equal(sh.code, 0, sh.stderr)
  const ls = await runCli(['ls', '--json', '--http-port', httpPort])
  const listing = JSON.parse(ls.stdout) as { shared: Array<{ id: string; name: string | null }> }
  assert.deepEqual(listing.shared.map((f) => f.name ?? '').sort(), ['', 'notes.txt'], 'the shared file is listed at once, by name')
  assert.ok(listing.shared.some((f) => f.id === id))

  const peers = await runCli(['peers', '--http-port', httpPort])
  assert.ok(peers.stdout.includes(s.udp), peers.stdout)
  const status = await runCli(['status', '--http-port', httpPort])
  assert.match(status.stdout, /^node {2}udp /)

  await node.stop()
  assert.ok(!existsSync(join(mine, 'api.json')), 'a clean stop removes api.json')
})
