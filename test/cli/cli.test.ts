// The command line as a user meets it, through real processes: --help everywhere, environment
// fallbacks, `status` and `peers` against a running node, and output with no escape codes when it
// is not a terminal (or NO_COLOR is set).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { createSocket } from 'node:dgram'
import { join } from 'node:path'
import { runCli, startCli, tempDir, until, loopbackFlags } from '../helpers/cli-process.ts'

const NODE_FLAGS = ['--port', '--host', '--http-port', '--http-host', '--peer', '--dir', '--log-level', '--max-upload', '--max-download']
const HELP: Record<string, string[]> = {
  node: [...NODE_FLAGS, '--json'],
  share: ['<path>', '--dir', '--json'],
  get: ['<id>', ...NODE_FLAGS, '--timeout', '--json'],
  ingest: ['[input]', ...NODE_FLAGS, '--name', '--loop', '--tail', '--segment-seconds', '--format', '--bitrate', '--ffmpeg', '--audio', '--json'],
  watch: ['<stream-id>', ...NODE_FLAGS, '--json'],
  demo: ['--viewers', '--http-port', '--dir', '--seconds', '--log-level', '--json'],
  status: ['--http-port', '--http-host', '--json'],
  peers: ['--http-port', '--http-host', '--json'],
}
const ESC = /\x1b\[/ // eslint-disable-line no-control-regex

async function freeTcpPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as { port: number }).port
  await new Promise((r) => s.close(r))
  return port
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4')
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r))
  const port = s.address().port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

test('--help on every command exits 0 and lists its flags and their environment variables', { timeout: 120_000 }, async () => {
  const top = await runCli(['--help'])
  assert.equal(top.code, 0, top.stderr)
  for (const cmd of Object.keys(HELP)) assert.match(top.stdout, new RegExp(`^\\s+${cmd}\\b`, 'm'), `top-level help lists ${cmd}`)
  const results = await Promise.all(Object.keys(HELP).map(async (cmd) => [cmd, await runCli([cmd, '--help'])] as const))
  for (const [cmd, r] of results) {
    assert.equal(r.code, 0, `${cmd} --help exits 0: ${r.stderr}`)
    assert.doesNotMatch(r.stdout + r.stderr, ESC, `${cmd} --help has no escape codes`)
    for (const flag of HELP[cmd]) assert.ok(r.stdout.includes(flag), `${cmd} --help lists ${flag}:\n${r.stdout}`)
    if (HELP[cmd].includes('--port')) assert.match(r.stdout, /env:\s+CJP2P_PORT/, `${cmd} --help names CJP2P_PORT`)
  }
  const version = await runCli(['--version'])
  assert.equal(version.code, 0)
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/)
})

test('environment fallbacks, status and peers against running nodes, plain output', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-cli-env-')
  const [udp, http] = [await freeUdpPort(), await freeTcpPort()]
  // Node A takes everything from the environment.
  const a = startCli(t, ['node', '--json'], {
    env: { CJP2P_PORT: String(udp), CJP2P_HTTP_PORT: String(http), CJP2P_HOST: '127.0.0.1', CJP2P_DIR: join(dir, 'a'), CJP2P_LOG_LEVEL: 'debug' },
  })
  const aInfo = await a.firstJson<{ udp: string; http: string }>()
  assert.equal(aInfo.udp, `127.0.0.1:${udp}`, 'CJP2P_PORT and CJP2P_HOST')
  assert.equal(aInfo.http, `http://127.0.0.1:${http}`, 'CJP2P_HTTP_PORT')
  const aStatus = await (await fetch(`${aInfo.http}/status.json`)).json() as { node: { dir: string } }
  assert.equal(aStatus.node.dir, join(dir, 'a'), 'CJP2P_DIR')

  // Node B: a flag beats the environment (--port 0 over CJP2P_PORT), and CJP2P_PEERS introduces A.
  const b = startCli(t, ['node', '--json', ...loopbackFlags(join(dir, 'b'))], { env: { CJP2P_PORT: String(udp), CJP2P_PEERS: aInfo.udp } })
  const bInfo = await b.firstJson<{ udp: string; http: string }>()
  assert.notEqual(bInfo.udp, aInfo.udp, '--port wins over CJP2P_PORT')
  const bHttpPort = new URL(bInfo.http).port

  // `peers` through CJP2P_HTTP_PORT, until B has heard from A.
  const peers = await until('B to list A as a verified peer', 20_000, async () => {
    const r = await runCli(['peers'], { env: { CJP2P_HTTP_PORT: bHttpPort } })
    return r.code === 0 && r.stdout.includes(aInfo.udp) && r.stdout.includes('verified ') ? r : null
  }, 500)
  assert.doesNotMatch(peers.stdout + peers.stderr, ESC)
  const peersJson = await runCli(['peers', '--http-port', bHttpPort, '--json'])
  assert.equal(peersJson.code, 0, peersJson.stderr)
  const list = JSON.parse(peersJson.stdout) as Array<{ addr: string; verified: boolean }>
  assert.ok(list.some((p) => p.addr === aInfo.udp && p.verified), peersJson.stdout)

  const st = await runCli(['status', '--http-port', String(http)])
  assert.equal(st.code, 0, st.stderr)
  assert.match(st.stdout, new RegExp(`node\\s+udp 127\\.0\\.0\\.1:${udp}\\s+http http://127\\.0\\.0\\.1:${http}`))
  assert.match(st.stdout, /peers 1 \(1 verified, 0 banned\)/)
  assert.doesNotMatch(st.stdout + st.stderr, ESC)
  const stJson = await runCli(['status', '--json'], { env: { CJP2P_HTTP_PORT: String(http) } })
  assert.equal(stJson.code, 0, stJson.stderr)
  assert.equal((JSON.parse(stJson.stdout) as { node: { udp: string } }).node.udp, aInfo.udp)

  // Nothing listening: a runtime error (exit 1) that says what to do.
  const none = await runCli(['status', '--http-port', String(await freeTcpPort())])
  assert.equal(none.code, 1)
  assert.match(none.stderr, /no node answers at http:\/\/127\.0\.0\.1:\d+\/api\/status.*cjp2p-stream node/)

  // Logs on stderr, data on stdout, no escape codes anywhere when not on a terminal, even when
  // NO_COLOR is unset and a progress line is drawn.
  const env = { NO_COLOR: undefined, FORCE_COLOR: undefined }
  const nobody = 'ab'.repeat(32)
  const get = await runCli(['get', nobody, '--peer', aInfo.udp, '--timeout', '2', ...loopbackFlags(join(dir, 'c'), { httpPort: null })], { env })
  assert.equal(get.code, 1)
  assert.equal(get.stdout, '', 'a failed get prints nothing on stdout')
  for (const p of [a, b]) assert.doesNotMatch(p.stdout + p.stderr, ESC, `${p.describe()} output is plain`)
  assert.doesNotMatch(get.stderr, ESC, 'a non-TTY progress line is plain text')
  assert.match(a.stderr, /debug/i, 'CJP2P_LOG_LEVEL=debug reached the logger')
})
