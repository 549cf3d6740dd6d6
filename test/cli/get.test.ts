// `get` when it is not receiving, through real processes: it says early which case it is (no peer
// answered; peers answered but none has the id; peers had it and stopped sending), gives up sooner
// when every peer lacks the id, never prints a minute of `0 B 0 kb/s`, and takes upper-case ids.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runCli, startCli, tempDir, until, loopbackFlags } from '../helpers/cli-process.ts'

const env = { NO_COLOR: '1', CJP2P_PEERS: undefined }
const getFlags = (dir: string) => loopbackFlags(dir, { httpPort: null })

test('no peer answers: said within seconds, given up after 15 s', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-get-silent-')
  const silent = createSocket('udp4')
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r))
  t.after(() => silent.close())
  const peer = `127.0.0.1:${silent.address().port}`
  const started = Date.now()
  const r = await runCli(['get', 'ab'.repeat(32), '--peer', peer, ...getFlags(dir)], { env, timeoutMs: 60_000 })
  const took = Date.now() - started
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, new RegExp(`no answer yet from ${peer}: is a node running there\\?`))
  assert.match(r.stderr, new RegExp(`cjp2p-stream: no peer answered in 1[5-9] s \\(asked ${peer}\\); is a node running there\\? \\(ERR_NO_ANSWER\\)`))
  assert.doesNotMatch(r.stderr, /0 B +0 kb\/s/, 'no empty progress lines')
  assert.ok(took < 40_000, `gave up after ${took} ms`)
})

test('peers answer but none has the id: said plainly, given up within seconds; upper-case ids work', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-get-lack-')
  const node = startCli(t, ['node', '--json', ...loopbackFlags(join(dir, 'a'))])
  const { udp } = await node.firstJson<{ udp: string }>()
  const id = 'cd'.repeat(32)
  const started = Date.now()
  const r = await runCli(['get', id.toUpperCase(), '--peer', udp, ...getFlags(join(dir, 'b'))], { env, timeoutMs: 60_000 })
  const took = Date.now() - started
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, new RegExp(`cjp2p-stream: 1 peer answered but none has ${id} \\(ERR_NOT_FOUND\\)`))
  assert.doesNotMatch(r.stderr, /0 B +0 kb\/s/)
  assert.ok(took < 20_000, `gave up after ${took} ms, not a minute`)
})

test('peers have it but stop sending: said, then given up at --timeout; it resumes and completes later', { timeout: 180_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-get-stop-')
  const content = randomBytes(64 * 1024 * 1024)
  const file = join(dir, 'big.bin')
  await writeFile(file, content)
  const id = createHash('sha256').update(content).digest('hex')
  const shared = await runCli(['share', file, '--dir', join(dir, 'a')])
  assert.equal(shared.code, 0, shared.stderr)
  const seeder = startCli(t, ['node', '--json', ...loopbackFlags(join(dir, 'a'))])
  const { udp } = await seeder.firstJson<{ udp: string }>()
  t.after(() => { try { process.kill(seeder.pid, 'SIGCONT') } catch { /* gone */ } })

  const get = startCli(t, ['get', id.toUpperCase(), '--peer', udp, '--timeout', '5', ...getFlags(join(dir, 'b'))], { env })
  const sidecar = join(dir, 'b', 'shared', 'incoming', `${id}.blocks`)
  await until('some blocks to arrive', 60_000, async () => ((await readFile(sidecar).catch(() => Buffer.alloc(0))).length > 16 && (await readFile(sidecar)).subarray(16).some((b) => b !== 0)) || get.exit, 10)
  assert.equal(get.exit, null, `finished before the seeder could be stopped: ${get.stderr.slice(-400)}`)
  process.kill(seeder.pid, 'SIGSTOP')
  const e = await get.exited
  process.kill(seeder.pid, 'SIGCONT')
  assert.equal(e.code, 1, get.stderr)
  assert.match(get.stderr, /peers have [0-9a-f]{12}… but stopped sending: no block for \d+ s/)
  assert.match(get.stderr, new RegExp(`cjp2p-stream: download of ${id} stalled: peers had it but sent no block for [5-9] s \\(ERR_STALLED\\)`))

  const again = await runCli(['get', id.toUpperCase(), '--peer', udp, '--json', ...getFlags(join(dir, 'b'))], { env, timeoutMs: 120_000 })
  assert.equal(again.code, 0, again.stderr)
  const out = JSON.parse(again.stdout.trim().split('\n').at(-1)!) as { id: string; resumedBlocks: number; path: string }
  assert.equal(out.id, id, 'the id is reported in lower case')
  assert.ok(out.resumedBlocks > 0)
  assert.ok((await readFile(out.path)).equals(content))
})
