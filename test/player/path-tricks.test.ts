// Path tricks on UDP and HTTP are refused and counted; the HTTP endpoint binds loopback by default
// and survives many concurrent range requests, aborted requests and clients that read 1 byte/s.
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import assert from 'node:assert/strict'
import dgram from 'node:dgram'
import http from 'node:http'
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Runtime } from '../../src/runtime.ts'
import { createPlayerApp, startHttpServer } from '../../src/player/app.ts'
import { silentLogger } from '../../src/util/logger.ts'
import { parseAddress } from '../../src/mesh/transport.ts'
import { tempDir } from '../helpers/stream-fixture.ts'
import { until } from '../helpers/swarm.ts'
import { PATH_TRICKS } from '../../scripts/fuzz-corpus.ts'

async function liveRuntime(t: TestContext) {
  const dir = await tempDir(t)
  const rt = await Runtime.start({ dir, port: 0, httpPort: 0, logger: silentLogger, role: 'source', processMetrics: false })
  t.after(() => rt.close())
  const { log } = await rt.startSource('tricks', { format: 'ts', targetDuration: 1 })
  const body = randomBytes(16384 * 40)
  await log.append(body)
  await log.addSegment({ offset: 0, length: body.length, duration: 1, pdt: Date.now(), discontinuity: false })
  await writeFile(join(dir, 'secret.txt'), 'root:x:0:0 do not serve\n')
  return { rt, log, body, mediaPath: `/streams/${log.id}/media` }
}

/** A raw GET: no client-side normalisation of `..` or encodings. */
function rawGet(base: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  const u = new URL(base)
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path, method: 'GET', headers, insecureHTTPParser: false }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (d: Buffer) => parts.push(d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

test('HTTP binds loopback by default and refuses every path trick', async (t) => {
  const { rt, log } = await liveRuntime(t)
  assert.match(rt.httpUrl!, /^http:\/\/127\.0\.0\.1:\d+$/)
  const base = rt.httpUrl!
  const key = log.id.split('/')[1]
  const paths = [
    '/../secret.txt', '/streams/../secret.txt', '/%2e%2e/secret.txt', '/%2e%2e%2fsecret.txt', '/streams/%2e%2e%2f%2e%2e%2fsecret.txt',
    '/static/..%2f..%2fsecret.txt', '/static/..%5csecret.txt', '/streams/stream/..%2f/x/media', '/\\..\\secret.txt',
    '/streams/stream/%00/x/media', `/streams/stream/${key}/..%2F..%2Fsecret.txt/media`, '/vendor/hls.js/..%2f..%2f..%2fpackage.json',
    '/%252e%252e/secret.txt', '/streams/stream/' + key + '/tricks/..', '/' + 'a'.repeat(5000), '/%zz', '//etc/passwd', '/./secret.txt',
  ]
  for (const p of paths) {
    const r = await rawGet(base, p)
    assert.ok(r.status >= 400 && r.status < 500, `${p} answered ${r.status}`)
    assert.ok(!r.body.includes('root:x') && !r.body.includes('"dependencies"'), `${p} leaked a file`)
  }
  // Absolute-form and NUL in the request line are refused by the HTTP parser or the guard.
  const sock = net.connect(Number(new URL(base).port), '127.0.0.1')
  const reply = await new Promise<string>((resolve) => {
    let got = ''
    sock.on('data', (d) => { got += d.toString() })
    sock.on('close', () => resolve(got))
    sock.on('error', () => resolve(got))
    sock.write('GET /streams/a\u0000b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  })
  assert.doesNotMatch(reply, /^HTTP\/1\.1 2/)
})

test('UDP requests for paths outside shared/ are refused, counted and charged', async (t) => {
  const { rt } = await liveRuntime(t)
  const sock = dgram.createSocket('udp4')
  t.after(() => sock.close())
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()))
  const replies: string[] = []
  let cookie: unknown
  sock.on('message', (m) => {
    const s = m.toString()
    replies.push(s)
    for (const e of JSON.parse(s) as Record<string, unknown>[]) if ('PleaseAlwaysReturnThisMessage' in e) cookie = e.PleaseAlwaysReturnThisMessage
  })
  const to = parseAddress(rt.udpAddress)!
  const send = (msgs: unknown[]) => new Promise<void>((r) => sock.send(JSON.stringify(msgs), to.port, to.host, () => r()))
  await send([{ PleaseAlwaysReturnThisMessage: { cookie: 'mine' } }, { PleaseSendPeers: {} }])
  await until(() => cookie !== undefined, 5000, 'cookie')
  const tricks = [...PATH_TRICKS, 'secret.txt/../secret.txt', '../shared/x', join(rt.opts.dir, 'secret.txt')]
  for (const id of tricks) await send([{ AlwaysReturned: cookie }, { PleaseSendContent: { id, offset: 0, length: 4096 } }])
  // Each trick costs 5 penalty points: the tenth bans the sender, and the rest are dropped unread.
  await until(() => rt.fileServer.counters.pathTricks >= 10, 5000, 'path tricks counted')
  await new Promise((r) => setTimeout(r, 200))
  assert.ok(!replies.some((r) => r.includes('"Content"')), 'no content for any trick')
  const me = rt.node.peers.get(`127.0.0.1:${sock.address().port}`)!
  assert.ok(rt.node.peers.isBanned(me), 'the sender was banned')
  assert.ok((rt.node.counters.dropped.banned ?? 0) > 0, 'later tricks were dropped as from a banned peer')
})

test('200 concurrent range requests, aborted requests and 1-byte/s readers do not hurt other players', async (t) => {
  const { rt, body, mediaPath } = await liveRuntime(t)
  const base = rt.httpUrl!
  const port = Number(new URL(base).port)
  // Slow readers: one never reads, one reads a byte a second; both ask for the whole stream.
  const slow: net.Socket[] = []
  for (let i = 0; i < 2; i++) {
    const s = net.connect(port, '127.0.0.1')
    s.on('error', () => {})
    s.write(`GET ${mediaPath} HTTP/1.1\r\nHost: x\r\n\r\n`)
    s.pause()
    slow.push(s)
  }
  const dribble = setInterval(() => slow[1].read(1), 1000)
  t.after(() => { clearInterval(dribble); for (const s of slow) s.destroy() })
  // Aborted range requests: the client hangs up after the headers.
  await Promise.all(Array.from({ length: 50 }, (_, i) => new Promise<void>((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: mediaPath, headers: { Range: `bytes=${i * 1000}-` } }, (res) => { res.destroy(); resolve() })
    req.on('error', () => resolve())
  })))
  // 200 concurrent players asking for random ranges get exactly the verified bytes.
  const started = Date.now()
  const results = await Promise.all(Array.from({ length: 200 }, async () => {
    const a = Math.floor(Math.random() * (body.length - 1))
    const b = Math.min(body.length - 1, a + Math.floor(Math.random() * 200_000))
    const r = await rawGet(base, mediaPath, { Range: `bytes=${a}-${b}` })
    return r.status === 206 && r.body.equals(body.subarray(a, b + 1))
  }))
  assert.equal(results.filter(Boolean).length, 200, 'every range answered correctly')
  t.diagnostic(`200 concurrent range requests in ${Date.now() - started} ms with 2 slow readers and 50 aborts`)
  const st = await rawGet(base, '/status.json')
  assert.equal(st.status, 200, 'the node still answers')
})

test('a Host that is neither an IP literal, localhost nor an allowed name is refused (DNS rebinding)', async (t) => {
  const app = createPlayerApp({ streams: { list: () => [], get: () => undefined }, status: () => ({ ok: true }), logger: { debug() {}, info() {}, warn() {} } }, { allowedHosts: ['cam.example'] })
  const srv = await startHttpServer(app, { port: 0 })
  t.after(() => srv.close())
  const port = new URL(srv.url).port
  const ask = (host: string) => new Promise<number>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/status.json', headers: { host } }, (res) => { res.resume(); resolve(res.statusCode ?? 0) })
    req.on('error', reject)
    req.end()
  })
  assert.equal(await ask('attacker.example:' + port), 403)
  assert.equal(await ask('127.0.0.1:' + port), 200)
  assert.equal(await ask('[::1]:' + port), 200)
  assert.equal(await ask('localhost:' + port), 200)
  assert.equal(await ask('cam.example'), 200)
})
