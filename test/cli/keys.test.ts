// Where `ingest` keeps the stream signing key, through real processes: in the user's data folder
// ($XDG_DATA_HOME, else ~/.local/share), never the working directory, mode 0600, said once when it
// is made; the same --name from another folder is the same stream id; --dir and --key say otherwise.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { runCli, startCli, tempDir } from '../helpers/cli-process.ts'
import type { TestContext } from 'node:test'

const noFfmpeg = existsSync('/usr/bin/ffmpeg') ? false : 'SKIPPED LOUDLY: /usr/bin/ffmpeg is missing (apt-get install ffmpeg)'

async function ingestId(t: TestContext, cwd: string, env: Record<string, string | undefined>, extra: string[] = []): Promise<{ id: string; stderr: string }> {
  await mkdir(cwd, { recursive: true })
  const p = startCli(t, ['ingest', 'testsrc', '--name', 'sky', '--json', '--host', '127.0.0.1', '--port', '0', '--http-port', '0', ...extra],
    { cwd, env: { CJP2P_DIR: undefined, FFMPEG_PATH: '/usr/bin/ffmpeg', ...env } })
  const { id } = await p.firstJson<{ id: string }>(60_000)
  const e = await p.stop()
  assert.equal(e.code, 0, p.stderr)
  return { id, stderr: p.stderr }
}

test('the stream key lives in the user data folder, 0600, said once; --dir and --key override', { timeout: 180_000, skip: noFfmpeg }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-keys-')
  const xdg = join(dir, 'xdg')
  const env = { XDG_DATA_HOME: xdg, HOME: join(dir, 'home') }
  const key = join(xdg, 'cjp2p-stream', 'keys', 'sky.key')

  const first = await ingestId(t, join(dir, 'one'), env)
  assert.ok(existsSync(key), 'key made under $XDG_DATA_HOME/cjp2p-stream/keys')
  assert.equal(statSync(key).mode & 0o777, 0o600)
  assert.equal(statSync(join(xdg, 'cjp2p-stream', 'keys')).mode & 0o077, 0, 'the key folder is private')
  assert.ok(first.stderr.includes(`created the stream key ${key} (mode 0600)`), first.stderr)
  assert.ok(!existsSync(join(dir, 'one', 'keys')), 'no keys/ in the working directory')

  // A second ingest of the same stream while the first runs would fork it: refused, naming the first.
  const running = startCli(t, ['ingest', 'testsrc', '--name', 'sky', '--json', '--host', '127.0.0.1', '--port', '0', '--http-port', '0'],
    { cwd: await mkdir(join(dir, 'lock1'), { recursive: true }).then(() => join(dir, 'lock1')), env: { CJP2P_DIR: undefined, FFMPEG_PATH: '/usr/bin/ffmpeg', ...env } })
  await running.firstJson(60_000)
  await mkdir(join(dir, 'lock2'))
  const twice = await runCli(['ingest', 'testsrc', '--name', 'sky', '--port', '0', '--http-port', '0'], { cwd: join(dir, 'lock2'), env })
  assert.equal(twice.code, 1, twice.stderr)
  assert.match(twice.stderr, new RegExp(`stream "sky" is already being ingested \\(pid ${running.pid}, key ${key}\\)`))
  assert.equal(twice.stdout, '')
  assert.equal((await running.stop()).code, 0, running.stderr)
  assert.ok(!existsSync(`${key}.lock`), 'the lock goes with the ingest')

  const second = await ingestId(t, join(dir, 'two'), env)
  assert.equal(second.id, first.id, 'the same --name from another folder continues the same stream id')
  assert.doesNotMatch(second.stderr, /created the stream key/, 'said only when made')

  const explicitDir = await ingestId(t, join(dir, 'three'), env, ['--dir', join(dir, 'data')])
  assert.ok(existsSync(join(dir, 'data', 'keys', 'sky.key')), 'an explicit --dir keeps its keys under it')
  assert.notEqual(explicitDir.id, first.id)

  const own = join(dir, 'mine.pem')
  const explicitKey = await ingestId(t, join(dir, 'four'), env, ['--key', own])
  assert.ok(existsSync(own) && (statSync(own).mode & 0o777) === 0o600)
  assert.ok(explicitKey.stderr.includes(`created the stream key ${own}`))

  // No XDG_DATA_HOME: ~/.local/share.
  const home = await ingestId(t, join(dir, 'five'), { XDG_DATA_HOME: undefined, HOME: join(dir, 'home') })
  assert.ok(existsSync(join(dir, 'home', '.local', 'share', 'cjp2p-stream', 'keys', 'sky.key')), home.stderr)
})

test('the node identity key stays out of the working directory unless --dir names a folder', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-nodekey-')
  const xdg = join(dir, 'xdg')
  const env = { XDG_DATA_HOME: xdg, HOME: join(dir, 'home'), CJP2P_DIR: undefined }
  const cwd = join(dir, 'work')
  await mkdir(cwd, { recursive: true })
  const missing = '0'.repeat(64)
  // A get that finds nobody still starts a node (and its DHT identity) before giving up.
  await runCli(['get', missing, '--peer', '127.0.0.1:9', '--timeout', '1'], { cwd, env })
  assert.ok(!existsSync(join(cwd, 'node.key')), 'no private key in the working directory')
  const nodes = join(xdg, 'cjp2p-stream', 'nodes')
  assert.ok(existsSync(nodes) && readdirSync(nodes).some((f) => f.endsWith('.key')), 'the identity went to $XDG_DATA_HOME/cjp2p-stream/nodes')

  const named = join(dir, 'named')
  await runCli(['get', missing, '--peer', '127.0.0.1:9', '--timeout', '1', '--dir', named], { cwd, env })
  assert.ok(existsSync(join(named, 'node.key')), 'an explicit --dir keeps the identity with its data')
})
