// Multi-process file sharing through the real CLI: `share` a file into two seeders' folders, run them
// as `node`s, `get` it from both in a third process; `kill -9` a `get` midway and resume it; wrong
// ids, unreachable peers and bad flags fail with the documented exit codes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runCli, startCli, tempDir, until, loopbackFlags } from '../helpers/cli-process.ts'

const BIG = 48 * 1024 * 1024
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

interface GetResult { id: string; size: number; resumedBlocks: number; fetchedBlocks: number; suppliers: string[]; path: string }

/** Set bits in an incoming/<id>.blocks sidecar: blocks verified and durable on disk. */
async function durableBlocks(file: string): Promise<number> {
  const b = await readFile(file).catch(() => null)
  if (!b || b.length <= 16) return 0
  let n = 0
  for (let i = 16; i < b.length; i++) for (let v = b[i]; v; v &= v - 1) n++
  return n
}

test('files through the real CLI: share, node, get from two seeders, resume after kill -9, failures', { timeout: 180_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-cli-files-')
  const content = randomBytes(BIG)
  const file = join(dir, 'big.bin')
  await writeFile(file, content)
  const want = sha256(content)

  // Two seeders, each with the file shared into its own folder.
  const seeders: string[] = []
  let blake3 = ''
  for (const name of ['a', 'b']) {
    const shared = await runCli(['share', file, '--dir', join(dir, name)])
    assert.equal(shared.code, 0, shared.stderr)
    const [sha, b3] = shared.stdout.trim().split('\n')
    assert.equal(sha, want, '`share` prints the SHA-256 id first')
    assert.match(b3, /^blake3\/[0-9a-f]{64}$/, 'then the BLAKE3 id')
    blake3 = b3
    const node = startCli(t, ['node', '--json', ...loopbackFlags(join(dir, name))])
    const info = await node.firstJson<{ udp: string; shared: number }>()
    assert.equal(info.shared, 1)
    seeders.push(info.udp)
  }
  const peers = seeders.flatMap((p) => ['--peer', p])

  await t.test('get blake3/<root> from both seeders: tree first, every block checked, the file under both ids', async () => {
    const r = await runCli(['get', blake3, ...peers, '--json', ...loopbackFlags(join(dir, 'b3'), { httpPort: null })], { timeoutMs: 120_000 })
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as GetResult
    assert.equal(out.path, join(dir, 'b3', 'shared', blake3))
    assert.ok((await readFile(out.path)).equals(content))
    assert.ok((await readFile(join(dir, 'b3', 'shared', want))).equals(content), 'also named by its SHA-256 id')
  })

  await t.test('get from both seeders: the file lands in shared/<id> with the right hash', async () => {
    const r = await runCli(['get', want, ...peers, '--json', ...loopbackFlags(join(dir, 'c'), { httpPort: null })], { timeoutMs: 120_000 })
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as GetResult
    assert.equal(out.path, join(dir, 'c', 'shared', want))
    assert.equal(out.size, BIG)
    assert.equal(sha256(await readFile(out.path)), want)
    assert.deepEqual(await readdir(join(dir, 'c', 'shared', 'incoming')).catch(() => []), [], 'nothing left in incoming/')
    t.diagnostic(`got ${BIG / 2 ** 20} MiB from ${out.suppliers.length} seeder(s)`)
    assert.equal(out.suppliers.length, 2, 'both seeders supplied blocks')
  })

  await t.test('a get killed with kill -9 midway resumes without fetching verified blocks again', async () => {
    const d = join(dir, 'd')
    const sidecar = join(d, 'shared', 'incoming', `${want}.blocks`)
    const blocks = BIG / 4096
    const first = startCli(t, ['get', want, ...peers, '--json', ...loopbackFlags(d, { httpPort: null })])
    // Kill once a tenth of the blocks are durable, well before the end.
    await until('the first get to make some blocks durable', 60_000, async () => (await durableBlocks(sidecar)) >= blocks / 10 || first.exit, 10)
    assert.equal(first.exit, null, `the first get finished before we could kill it: ${first.stderr.slice(-500)}`)
    await first.kill9()
    const had = await durableBlocks(sidecar)
    assert.ok(had > 0 && had < blocks, `killed with ${had} of ${blocks} blocks`)
    assert.ok(!existsSync(join(d, 'shared', want)), 'a partial file never appears in shared/')

    const again = await runCli(['get', want, ...peers, '--json', ...loopbackFlags(d, { httpPort: null })], { timeoutMs: 120_000 })
    assert.equal(again.code, 0, again.stderr)
    const out = JSON.parse(again.stdout.trim().split('\n').at(-1)!) as GetResult
    t.diagnostic(`killed at ${had} durable blocks; the second run resumed ${out.resumedBlocks} and fetched ${out.fetchedBlocks}`)
    assert.ok(out.resumedBlocks >= had, `resumedBlocks ${out.resumedBlocks} >= ${had} durable at the kill`)
    assert.ok(out.fetchedBlocks <= blocks - had, 'verified blocks were not fetched again')
    assert.equal(sha256(await readFile(join(d, 'shared', want))), want)
  })

  await t.test('an id nobody has, or an unreachable peer, exits 1 with a message naming the cause', async () => {
    const nobody = sha256(Buffer.from('nobody has this'))
    const r = await runCli(['get', nobody, ...peers, '--timeout', '3', ...loopbackFlags(join(dir, 'e'), { httpPort: null })])
    assert.equal(r.code, 1, r.stderr)
    // Both seeders answer that they lack it; addresses the node also wrote to (peers the seeders
    // listed, such as the getter killed above) are named as silent rather than waited for.
    assert.match(r.stderr, new RegExp(`cjp2p-stream: 2 (of \\d+ )?peers answered but none has ${nobody}`), r.stderr)
    assert.ok(!existsSync(join(dir, 'e', 'shared', nobody)))

    // Port 1 on loopback: nothing listens there.
    const u = await runCli(['get', want, '--peer', '127.0.0.1:1', '--timeout', '3', ...loopbackFlags(join(dir, 'f'), { httpPort: null })])
    assert.equal(u.code, 1, u.stderr)
    assert.match(u.stderr, /cjp2p-stream: .*(stalled|no block|unreachable|no peer)/i, u.stderr)
    // No peers at all is a runtime error too, said as such.
    const none = await runCli(['get', want, '--timeout', '2', ...loopbackFlags(join(dir, 'g'), { httpPort: null })], { env: { CJP2P_PEERS: '' } })
    assert.equal(none.code, 1, none.stderr)
    assert.match(none.stderr, /no peers/, none.stderr)
  })

  await t.test('usage errors exit 2 with a one-line reason', async () => {
    for (const [args, pattern] of [
      [['node', '--port', 'abc'], /not a port number: "abc"/],
      [['get', want, '--port', '70000'], /not a port number/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['get'], /missing required argument 'id'/],
      [['get', 'not-a-hash', '--peer', seeders[0]], /not a content id/],
      [['get', want, '--peer', '127.0.0.1:99999'], /port 99999 is out of range/],
      [['watch', 'not-a-stream', '--http-port', '0', '--port', '0'], /not a stream id/],
      [['get', want, '--peer', 'nowhere'], /peer/i],
      [['node', '--bogus-flag'], /unknown option '--bogus-flag'/],
    ] as Array<[string[], RegExp]>) {
      const r = await runCli([...args, '--dir', join(dir, 'usage')])
      assert.equal(r.code, 2, `${args.join(' ')} exits 2 (got ${r.code}): ${r.stderr}`)
      assert.match(r.stderr, pattern, `${args.join(' ')}: ${r.stderr}`)
      assert.equal(r.stdout, '', 'usage errors print nothing on stdout')
    }
  })
})
