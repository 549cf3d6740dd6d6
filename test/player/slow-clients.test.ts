// Slow HTTP clients must not starve the player (issue 17, item 4): 256+ connections that each send
// half a request and hold it used to fill every connection slot, so the viewer's endpoint refused
// its own playlist for the whole hold. Real sockets on loopback; a second loopback address plays
// "another client" for the per-address cap.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { createPlayerApp, startHttpServer } from '../../src/player/app.ts'
import { HTTP_LIMITS } from '../../src/player/http-server.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'
import { FakeStreamLog, TEST_KEY, fakeDirectory } from './fake-log.ts'
import { rawRequest } from './http-client.ts'

const quiet = { debug() {}, info() {}, warn() {} }
const P = `/streams/stream/${TEST_KEY}/test`

async function serve(t: TestContext) {
  const log = new FakeStreamLog()
  for (let i = 0; i < 10; i++) log.addSegment(CHUNK_SIZE)
  log.verify()
  const app = createPlayerApp({ streams: fakeDirectory(log), status: () => ({}), logger: quiet }, { window: 3 })
  const server = await startHttpServer(app, { port: 0 })
  t.after(() => server.close())
  return server
}

/** Opens `count` connections from `localAddress` that each send half a request and then hold;
 * with `sustainMs`, every one the server closes is opened again at once until then. */
async function holdHalfRequests(t: TestContext, url: string, count: number, localAddress = '127.0.0.1', sustainMs = 0): Promise<Socket[]> {
  const { port } = new URL(url)
  const sockets: Socket[] = []
  const until = Date.now() + sustainMs
  let stopped = false
  t.after(() => { stopped = true; for (const s of sockets) s.destroy() })
  const open = () => new Promise<void>((resolve) => {
    const s = connect({ host: '127.0.0.1', port: Number(port), localAddress }, () => {
      s.write(`GET ${P}/index.m3u8 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: `)
      resolve()
    })
    s.resume() // read the server's 408 and FIN, so 'close' fires when it hangs up
    s.on('error', () => resolve())
    s.on('close', () => {
      resolve()
      if (!stopped && Date.now() < until) void open()
    })
    sockets.push(s)
  })
  await Promise.all(Array.from({ length: count }, open))
  return sockets
}

interface Timing { ok: number; failed: string[]; ms: number[] }

/** Asks for the playlist and a media range every 100 ms for `forMs`, each on a new connection. */
async function playerDuring(url: string, forMs: number): Promise<Timing> {
  const out: Timing = { ok: 0, failed: [], ms: [] }
  const end = Date.now() + forMs
  while (Date.now() < end) {
    for (const [path, headers] of [[`${P}/index.m3u8`, {}], [`${P}/media.ts`, { range: `bytes=0-${CHUNK_SIZE - 1}` }]] as const) {
      const t0 = performance.now()
      try {
        const r = await rawRequest(url, path, { headers })
        if (r.status === 200 || r.status === 206) { out.ok++; if (path.endsWith('.m3u8')) out.ms.push(performance.now() - t0) } else out.failed.push(`${path}: ${r.status}`)
      } catch (err) {
        out.failed.push(`${path}: ${(err as Error).message}`)
      }
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  return out
}

const pct = (xs: number[], p: number) => xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] : NaN

for (const reopen of [false, true]) {
  const how = reopen ? 'each reopened at once when the server closes it' : 'as in the report'
  test(`256 half-open requests held 10 s (${how}): the playlist and media routes keep answering`, { timeout: 60_000 }, async (t) => {
    const server = await serve(t)
    const held = await holdHalfRequests(t, server.url, 256, '127.0.0.1', reopen ? 10_000 : 0)
    const timing = await playerDuring(server.url, 10_000)
    console.log(`playlist during a hold of 256 half-open requests (${how}): ${timing.ms.length} answers, p50 ${pct(timing.ms, 0.5).toFixed(1)} ms, ` +
      `p95 ${pct(timing.ms, 0.95).toFixed(1)} ms, max ${pct(timing.ms, 1).toFixed(1)} ms; failures ${timing.failed.length}`)
    assert.deepEqual(timing.failed, [])
    // Starved means refused or unanswered (`failed` above), not slow: on a busy 2-core machine (CI
    // with a simulation beside it) the reopening flood left 16 answers in 10 s, p50 606 ms, none
    // failed. A handful of answers to each route is the behaviour; speed is for bench:gateway.
    assert.ok(timing.ok >= 8, `${timing.ok} answers`)
    // The server cut half requests off (eviction, the header timeout) rather than refusing us.
    const closed = held.filter((s) => s.destroyed || s.readyState !== 'open').length
    assert.ok(closed > 0, 'none of the half-open connections was ever closed')
  })
}

test('a half-sent request is closed after the header timeout; one address cannot take every slot', { timeout: 60_000 }, async (t) => {
  const server = await serve(t)
  const [one] = await holdHalfRequests(t, server.url, 1)
  const closedAt = await new Promise<number>((resolve) => { const t0 = Date.now(); one.on('close', () => resolve(Date.now() - t0)) })
  assert.ok(closedAt <= HTTP_LIMITS.headersTimeoutMs + 3000, `closed after ${closedAt} ms`)
  // Another address floods past its cap: it loses its own oldest idle connections, not ours.
  const flood = await holdHalfRequests(t, server.url, HTTP_LIMITS.perAddress + 50, '127.0.0.2')
  // The server closes the excess at once; its FINs reach our sockets when this process next runs,
  // which a busy machine delays (CI at load, 200 ms: 66 still open of a cap of 64). Polled for up to
  // 5 s: a server that does not close them fails all the same.
  const openNow = () => flood.filter((s) => !s.destroyed && s.readyState === 'open').length
  for (const t0 = Date.now(); openNow() > HTTP_LIMITS.perAddress && Date.now() - t0 < 5000;) await new Promise((r) => setTimeout(r, 100))
  const open = openNow()
  assert.ok(open <= HTTP_LIMITS.perAddress, `${open} connections open from one address (cap ${HTTP_LIMITS.perAddress})`)
  const r = await rawRequest(server.url, `${P}/index.m3u8`)
  assert.equal(r.status, 200)
})
