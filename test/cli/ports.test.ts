// Ports as a person on one machine meets them, through real processes: a default port another node
// holds is replaced by a free one and the address actually served is printed; a port the user named
// (flag or environment) that is taken fails at once with one line naming it, for UDP and HTTP, and
// in the demo before any stream starts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:net'
import { createSocket, type Socket } from 'node:dgram'
import { join } from 'node:path'
import { runCli, startCli, tempDir } from '../helpers/cli-process.ts'
import { DEFAULT_HTTP_PORT, DEFAULT_UDP_PORT } from '../../src/mesh/default-ports.ts'

/** Holds a TCP port on 127.0.0.1 (port 0: any); null when someone else holds it already. */
async function holdTcp(port: number): Promise<Server | null> {
  const s = createServer()
  return new Promise((resolve, reject) => {
    s.once('error', (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE' ? resolve(null) : reject(err))
    s.listen(port, '127.0.0.1', () => resolve(s))
  })
}

async function holdUdp(port: number, host = '0.0.0.0'): Promise<Socket | null> {
  const s = createSocket({ type: 'udp4', reuseAddr: false })
  return new Promise((resolve, reject) => {
    s.once('error', (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE' ? resolve(null) : reject(err))
    s.bind(port, host, () => resolve(s))
  })
}

const portOf = (s: Server | Socket) => 'address' in s && typeof s.address === 'function' ? (s.address() as { port: number }).port : 0

test('a default port another node holds is replaced by a free one, and the printed addresses work', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-ports-')
  // Either we hold the defaults or another process on this machine does: taken either way.
  const held = [await holdUdp(DEFAULT_UDP_PORT), await holdTcp(DEFAULT_HTTP_PORT)]
  t.after(() => { for (const h of held) h?.close() })
  const env = { CJP2P_PORT: undefined, CJP2P_HTTP_PORT: undefined, XDG_DATA_HOME: join(dir, 'xdg') }
  const node = startCli(t, ['node', '--json', '--dir', join(dir, 'a')], { env })
  const info = await node.firstJson<{ udp: string; http: string }>()
  assert.notEqual(new URL(info.http).port, String(DEFAULT_HTTP_PORT), 'the taken HTTP default was not reported as served')
  assert.notEqual(info.udp.split(':').pop(), String(DEFAULT_UDP_PORT))
  const st = await fetch(`${info.http}/status.json`)
  assert.equal(st.status, 200, 'the printed HTTP URL is the one served')
  assert.match(node.stderr, /udp port 24254 is taken.*using any free port/)
  assert.match(node.stderr, /http port 24255 is taken.*using any free port/)

  // A second node pointed at the first by the address it printed reaches it.
  const b = startCli(t, ['node', '--json', '--dir', join(dir, 'b'), '--peer', info.udp.replace('0.0.0.0', '127.0.0.1')], { env })
  const bInfo = await b.firstJson<{ http: string }>()
  assert.notEqual(bInfo.http, info.http)
})

test('a named port that is taken: one line naming the flag or variable, exit 1, nothing left running', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-ports-busy-')
  const tcp = (await holdTcp(0))!
  const udp = (await holdUdp(0))!
  t.after(() => { tcp.close(); udp.close() })
  const [httpPort, udpPort] = [portOf(tcp), portOf(udp)]
  const env = { XDG_DATA_HOME: join(dir, 'xdg'), CJP2P_PORT: undefined, CJP2P_HTTP_PORT: undefined }
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['node', '--port', '0', '--http-port', String(httpPort)], {}, new RegExp(`^cjp2p-stream: --http-port ${httpPort} is in use; pick another or 0 for any\\n$`)],
    [['node', '--port', String(udpPort), '--http-port', '0'], {}, new RegExp(`^cjp2p-stream: --port ${udpPort} is in use; pick another or 0 for any\\n$`)],
    [['node', '--port', '0'], { CJP2P_HTTP_PORT: String(httpPort) }, new RegExp(`^cjp2p-stream: CJP2P_HTTP_PORT=${httpPort} is in use; pick another or 0 for any\\n$`)],
    [['watch', `stream/${'ab'.repeat(32)}/sky`, '--http-port', String(httpPort)], {}, new RegExp(`--http-port ${httpPort} is in use`)],
  ]
  for (const [args, extra, want] of cases) {
    const started = Date.now()
    const r = await runCli([...args, '--dir', join(dir, 'n')], { env: { ...env, ...extra }, timeoutMs: 30_000 })
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, want, args.join(' '))
    assert.equal(r.stdout, '')
    assert.ok(Date.now() - started < 20_000, 'it fails at once, not after a while')
  }
  // The demo says so too, before it starts a stream (not "ingest testsrc ended before its first segment").
  const demo = await runCli(['demo', '--http-port', String(httpPort), '--viewers', '1'], { env, timeoutMs: 60_000 })
  assert.equal(demo.code, 1, demo.stderr)
  assert.match(demo.stderr, new RegExp(`cjp2p-stream: --http-port ${httpPort} is in use; pick another or 0 for any`))
  assert.doesNotMatch(demo.stderr, /ingest|ffmpeg|segment/i)
})
