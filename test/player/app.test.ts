import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { createRequire } from 'node:module'
import { createPlayerApp, startHttpServer, type PlayerComponents } from '../../src/player/app.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'
import { noMetrics, type MetricsSink } from '../../src/metrics/types.ts'
import { FakeStreamLog, TEST_KEY, fakeDirectory } from './fake-log.ts'
import { rawRequest } from './http-client.ts'

const quiet = { debug() {}, info() {}, warn() {} }

interface Harness {
  url: string
  log: FakeStreamLog
  requests: Array<[string, number]>
  stalls: number[]
  reports: Array<[string, unknown]>
  get: (path: string, headers?: Record<string, string>) => ReturnType<typeof rawRequest>
}

async function serve(t: TestContext, extra: Partial<PlayerComponents> = {}, logs?: FakeStreamLog[]): Promise<Harness> {
  const log = logs?.[0] ?? new FakeStreamLog()
  const requests: Array<[string, number]> = []
  const stalls: number[] = []
  const reports: Array<[string, unknown]> = []
  const sink: MetricsSink = { ...noMetrics, httpRequest: (r, s) => requests.push([r, s]), playbackStall: (s) => stalls.push(s) }
  const app = createPlayerApp({
    streams: fakeDirectory(...(logs ?? [log])), status: () => ({ peers: { active: 3 }, ok: true }), logger: quiet,
    metricsSink: sink, onPlaybackReport: (id, r) => reports.push([id, r]), ...extra,
  }, { window: 3 })
  const server = await startHttpServer(app, { port: 0 })
  t.after(() => server.close())
  return { url: server.url, log, requests, stalls, reports, get: (path, headers) => rawRequest(server.url, path, { headers }) }
}

const P = `/streams/stream/${TEST_KEY}/test`

/** Ten one-chunk segments, all verified. */
function tenSegments(log: FakeStreamLog): void {
  for (let i = 0; i < 10; i++) log.addSegment(CHUNK_SIZE)
  log.verify()
}

test('serves a windowed live playlist for a known stream only', async (t) => {
  const h = await serve(t)
  tenSegments(h.log)
  const r = await h.get(`${P}/index.m3u8`)
  assert.equal(r.status, 200)
  assert.equal(r.headers['content-type'], 'application/vnd.apple.mpegurl')
  assert.equal(r.headers['cache-control'], 'no-cache')
  assert.match(r.text, /#EXT-X-MEDIA-SEQUENCE:7\n/)
  assert.equal(r.text.match(/#EXTINF/g)?.length, 3)
  assert.match(r.text, new RegExp(`#EXT-X-BYTERANGE:${CHUNK_SIZE}@${CHUNK_SIZE * 9}\nmedia.ts\n`))
  assert.equal((await h.get(`/streams/stream/${'cd'.repeat(32)}/test/index.m3u8`)).status, 404)
  assert.equal((await h.get(`/streams/stream/${TEST_KEY.toUpperCase()}/test/index.m3u8`)).status, 404)
})

test('segment and map URIs end in a media extension; each name serves the same verified bytes', async (t) => {
  const ts = await serve(t)
  tenSegments(ts.log)
  const range = { range: `bytes=0-${CHUNK_SIZE - 1}` }
  for (const name of ['media.ts', 'media']) {
    const r = await ts.get(`${P}/${name}`, range)
    assert.equal(r.status, 206, name)
    assert.equal(r.headers['content-type'], 'video/mp2t')
    assert.deepEqual(r.body, FakeStreamLog.expectedBytes(0, CHUNK_SIZE))
  }
  assert.equal((await ts.get(`${P}/media.m4s`, range)).status, 404, 'a ts stream has no .m4s')
  assert.equal((await ts.get(`${P}/other.ts`, range)).status, 404)

  const log = new FakeStreamLog({ format: 'fmp4', init: { offset: 0, length: 1000 } })
  const f = await serve(t, {}, [log])
  for (let i = 0; i < 4; i++) log.addSegment(CHUNK_SIZE)
  log.verify()
  const text = (await f.get(`${P}/index.m3u8`)).text
  assert.match(text, /#EXT-X-MAP:URI="init\.mp4",BYTERANGE="1000@0"\n/)
  assert.match(text, /\nmedia\.m4s\n/)
  assert.ok(!/\nmedia\n/.test(text))
  for (const name of ['init.mp4', 'media.m4s', 'media']) {
    const r = await f.get(`${P}/${name}`, { range: 'bytes=0-999' })
    assert.equal(r.status, 206, name)
    assert.equal(r.headers['content-type'], 'video/mp4')
  }
  assert.equal((await f.get(`${P}/media.ts`, range)).status, 404, 'an fmp4 stream has no .ts')
})

test('MEDIA-SEQUENCE never goes backwards: not when a hole fills in, not at the end of the stream', async (t) => {
  const h = await serve(t)
  const seq = async (): Promise<number> => Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)\n/.exec((await h.get(`${P}/index.m3u8`)).text)?.[1])
  for (let i = 0; i < 10; i++) h.log.addSegment(CHUNK_SIZE)
  h.log.verify()
  h.log.unverify(8) // segment 8's bytes are late; 9 came first
  assert.equal(await seq(), 9)
  h.log.verify(8)
  assert.equal(await seq(), 9, 'the late segment does not pull the window back')
  for (let i = 0; i < 3; i++) h.log.addSegment(CHUNK_SIZE)
  h.log.verify()
  assert.equal(await seq(), 10)
  h.log.end()
  const final = (await h.get(`${P}/index.m3u8`)).text
  assert.match(final, /#EXT-X-ENDLIST\n$/)
  assert.equal(await seq(), 10, 'the ended stream keeps its window (it once went from 659 back to 0)')
  assert.equal(final.match(/#EXTINF/g)?.length, 3)
})

test('a stream without signed info answers 503 with Retry-After', async (t) => {
  const h = await serve(t, {}, [new FakeStreamLog({ withInfo: false })])
  const r = await h.get(`${P}/index.m3u8`)
  assert.equal(r.status, 503)
  assert.equal(r.headers['retry-after'], '1')
})

test('media: a verified Range gets 206 with exactly those bytes', async (t) => {
  const h = await serve(t)
  tenSegments(h.log)
  const r = await h.get(`${P}/media`, { range: `bytes=${CHUNK_SIZE - 10}-${CHUNK_SIZE * 5 + 9}` })
  assert.equal(r.status, 206)
  assert.equal(r.headers['accept-ranges'], 'bytes')
  assert.equal(r.headers['content-type'], 'video/mp2t')
  assert.equal(r.headers['content-range'], `bytes ${CHUNK_SIZE - 10}-${CHUNK_SIZE * 5 + 9}/*`)
  assert.deepEqual(r.body, FakeStreamLog.expectedBytes(CHUNK_SIZE - 10, CHUNK_SIZE * 4 + 20))
  const head = await rawRequest(h.url, `${P}/media`, { method: 'HEAD', headers: { range: 'bytes=0-99' } })
  assert.equal(head.status, 206)
  assert.equal(head.headers['content-length'], '100')
  assert.equal(head.body.length, 0)
})

test('media: unverified bytes are never served', async (t) => {
  const h = await serve(t)
  tenSegments(h.log)
  h.log.unverify(4)
  const before = h.log.reads.length
  const across = await h.get(`${P}/media`, { range: `bytes=0-${CHUNK_SIZE * 5}` })
  assert.equal(across.status, 416)
  assert.equal(across.headers['content-range'], `bytes */${CHUNK_SIZE * 10}`)
  assert.equal((await h.get(`${P}/media`, { range: `bytes=${CHUNK_SIZE * 4 + 1}-${CHUNK_SIZE * 4 + 2}` })).status, 416)
  assert.equal(h.log.reads.length, before, 'nothing unverified was even read')
  const open = await h.get(`${P}/media`, { range: `bytes=${CHUNK_SIZE * 2}-` })
  assert.equal(open.status, 206, 'an open range clamps to the verified run')
  assert.equal(open.body.length, CHUNK_SIZE * 2)
  assert.deepEqual(open.body, FakeStreamLog.expectedBytes(CHUNK_SIZE * 2, CHUNK_SIZE * 2))
  const suffix = await h.get(`${P}/media`, { range: 'bytes=-100' })
  assert.equal(suffix.status, 206)
  assert.deepEqual(suffix.body, FakeStreamLog.expectedBytes(CHUNK_SIZE * 10 - 100, 100))
  // The playlist stops at the hole too: only segments after it are listed.
  assert.match((await h.get(`${P}/index.m3u8`)).text, /#EXT-X-MEDIA-SEQUENCE:7\n/)
})

test('media: malformed ranges get 416; a whole-file GET needs an ended, fully verified stream', async (t) => {
  const h = await serve(t)
  tenSegments(h.log)
  for (const range of ['bytes=5-1', 'bytes=0-1,3-4', 'bytes=x-', 'pages=1-2', 'bytes=-0']) {
    assert.equal((await h.get(`${P}/media`, { range })).status, 416, range)
  }
  assert.equal((await h.get(`${P}/media`)).status, 416)
  h.log.end()
  const full = await h.get(`${P}/media`)
  assert.equal(full.status, 200)
  assert.deepEqual(full.body, FakeStreamLog.expectedBytes(0, CHUNK_SIZE * 10))
  const last = await h.get(`${P}/media`, { range: `bytes=${CHUNK_SIZE * 10 - 5}-${CHUNK_SIZE * 20}` })
  assert.equal(last.headers['content-range'], `bytes ${CHUNK_SIZE * 10 - 5}-${CHUNK_SIZE * 10 - 1}/${CHUNK_SIZE * 10}`)
  assert.match((await h.get(`${P}/index.m3u8`)).text, /#EXT-X-ENDLIST\n$/)
  assert.equal((await h.get(`/streams/stream/${'cd'.repeat(32)}/test/media`, { range: 'bytes=0-1' })).status, 404)
})

test('media: a client that goes away stops the reads', async (t) => {
  const h = await serve(t)
  for (let i = 0; i < 64; i++) h.log.addSegment(CHUNK_SIZE * 4) // 4 MiB: 64 reads of 64 KiB
  h.log.verify()
  h.log.readDelayMs = 5
  const controller = new AbortController()
  const res = await fetch(`${h.url}${P}/media`, { headers: { range: 'bytes=0-' }, signal: controller.signal })
  assert.equal(res.status, 206)
  const reader = res.body!.getReader()
  await reader.read()
  controller.abort()
  await reader.read().catch(() => {})
  const deadline = Date.now() + 5000
  let settled = -1
  while (Date.now() < deadline) {
    const n = h.log.reads.length
    await new Promise((r) => setTimeout(r, 200))
    if (h.log.reads.length === n) { settled = n; break }
  }
  assert.ok(settled >= 0 && settled < 48, `reads stopped early (got ${settled} of 64)`)
})

test('path tricks are refused before any route sees them', async (t) => {
  const h = await serve(t)
  tenSegments(h.log)
  const bad = [
    `/streams/stream/${TEST_KEY}/..%2F..%2Fpackage.json/media`, '/vendor/..%2f..%2fpackage.json', '/vendor/../package.json',
    `/watch/stream/${TEST_KEY}/%2e%2e`, `/watch/stream/${TEST_KEY}/..`, `/streams/stream/${TEST_KEY}/te%00st/media`,
    '/vendor/%5c..%5cpackage.json', '/%E0%A4%A', `/streams/stream/${TEST_KEY}/test/..%2fmedia`, '/vendor\\hls.min.js',
  ]
  for (const path of bad) {
    const r = await h.get(path)
    assert.ok(r.status === 400 || r.status === 404, `${path} -> ${r.status}`)
    assert.ok(!r.text.includes('"name"'), `${path} leaked a file`)
  }
  assert.equal((await h.get(`/streams/stream/${TEST_KEY}/a.b/index.m3u8`)).status, 404, 'a valid but unknown name')
  assert.equal((await h.get('/x'.repeat(2000))).status, 414)
})

test('vendor hls.js and the player script are served; the watch page loads them and escapes its values', async (t) => {
  const h = await serve(t)
  const hls = await h.get('/vendor/hls.light.min.js')
  assert.equal(hls.status, 200)
  assert.match(String(hls.headers['content-type']), /javascript/)
  assert.ok(hls.body.equals(readFileSync(createRequire(import.meta.url).resolve('hls.js/dist/hls.light.min.js'))), 'the light build, unchanged')
  const player = await h.get('/static/player.js')
  assert.equal(player.status, 200)
  assert.match(player.text, /cjp2pPlayer/)
  const page = await h.get(`/watch/stream/${TEST_KEY}/test`)
  assert.equal(page.status, 200)
  assert.match(page.text, /<script src="\/vendor\/hls.light.min.js"><\/script>/)
  assert.match(page.text, new RegExp(`data-playlist="/streams/stream/${TEST_KEY}/test/index.m3u8"`))
  assert.match(page.text, /data-start=""/, 'no verified segment yet: the page polls the playlist first')
  assert.match(String(page.headers['content-security-policy']), /script-src 'self'/)
  assert.ok(!/<script>/.test(page.text), 'no inline script')
  assert.equal((await h.get(`/watch/stream/${'cd'.repeat(32)}/test`)).status, 404)
})

test('page scripts go out gzipped to a browser that accepts it, and a cached copy is confirmed with 304 (issue #14, first frame)', async (t) => {
  const h = await serve(t)
  const file = readFileSync(createRequire(import.meta.url).resolve('hls.js/dist/hls.light.min.js'))
  // Compressed in the background at start-up: the plain bytes go out until it is done.
  const deadline = Date.now() + 30_000
  let zipped = await h.get('/vendor/hls.light.min.js', { 'accept-encoding': 'gzip, deflate' })
  while (zipped.headers['content-encoding'] !== 'gzip' && Date.now() < deadline) {
    assert.ok(zipped.body.equals(file), 'before the gzip is ready, the plain file')
    await new Promise((r) => setTimeout(r, 50))
    zipped = await h.get('/vendor/hls.light.min.js', { 'accept-encoding': 'gzip, deflate' })
  }
  assert.equal(zipped.headers['content-encoding'], 'gzip')
  assert.equal(zipped.headers.vary, 'Accept-Encoding')
  assert.ok(gunzipSync(zipped.body).equals(file), 'gunzips to the file')
  assert.ok(zipped.body.length < file.length / 2, `gzip ${zipped.body.length} B of ${file.length} B`)
  const plain = await h.get('/vendor/hls.light.min.js')
  assert.equal(plain.headers['content-encoding'], undefined, 'no Accept-Encoding: plain')
  assert.ok(plain.body.equals(file))
  const etag = String(plain.headers.etag)
  assert.equal(zipped.headers.etag, etag, 'one ETag for the one script')
  const again = await h.get('/vendor/hls.light.min.js', { 'if-none-match': etag, 'accept-encoding': 'gzip' })
  assert.equal(again.status, 304)
  assert.equal(again.body.length, 0)
  const player = await h.get('/static/player.js', { 'if-none-match': etag })
  assert.equal(player.status, 200, 'another script has another ETag')
  assert.notEqual(player.headers.etag, etag)
  assert.equal((await h.get('/vendor/hls.min.js')).status, 404, 'the full build is not served')
})

test('the index lists streams with escaped ids and links; the dashboard placeholder exists', async (t) => {
  const h = await serve(t, {}, [new FakeStreamLog({ name: 'cam-1' }), new FakeStreamLog({ name: 'x_y.z' })])
  const r = await h.get('/')
  assert.equal(r.status, 200)
  assert.match(r.text, new RegExp(`href="/watch/stream/${TEST_KEY}/cam-1"`))
  assert.match(r.text, new RegExp(`href="/streams/stream/${TEST_KEY}/x_y.z/index.m3u8"`))
  for (const link of ['/dashboard', '/status.json', '/metrics']) assert.ok(r.text.includes(`href="${link}"`))
  assert.equal((await h.get('/dashboard')).status, 200)
})

test('status.json and /metrics; /metrics is 404 without a registry', async (t) => {
  const h = await serve(t, { metrics: { contentType: 'text/plain; version=0.0.4', text: async () => 'cjp2p_up 1\n' } })
  const s = await h.get('/status.json')
  assert.equal(s.status, 200)
  assert.deepEqual(JSON.parse(s.text), { peers: { active: 3 }, ok: true })
  const m = await h.get('/metrics')
  assert.equal(m.status, 200)
  assert.equal(m.headers['content-type'], 'text/plain; version=0.0.4')
  assert.equal(m.text, 'cjp2p_up 1\n')
  const none = await serve(t)
  assert.equal((await none.get('/metrics')).status, 404)
})

test('playback reports are validated, then reach onPlaybackReport and the stall metric', async (t) => {
  const h = await serve(t)
  const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }, path = `${P}/playback-report`) =>
    rawRequest(h.url, path, { method: 'POST', headers, body })
  assert.equal((await post(JSON.stringify({ stalls: 2, stallSeconds: 3, latencySeconds: 1.25 }))).status, 204)
  assert.deepEqual(h.reports, [[h.log.id, { stalls: 2, stallSeconds: 3, latencySeconds: 1.25 }]])
  assert.deepEqual(h.stalls, [1.5, 1.5])
  assert.equal((await post('{"stalls":-1,"stallSeconds":0}')).status, 400)
  assert.equal((await post('{not json')).status, 400)
  assert.equal((await post(JSON.stringify({ stalls: 1, stallSeconds: 1, pad: 'x'.repeat(5000) }))).status, 413)
  assert.equal((await post('{"stalls":1,"stallSeconds":1}', { 'content-type': 'text/plain' })).status, 415)
  assert.equal((await post('{"stalls":1,"stallSeconds":1}', { 'content-type': 'application/json', origin: 'http://evil.example' })).status, 403)
  assert.equal((await post('{"stalls":1,"stallSeconds":1}', undefined, `/streams/stream/${'cd'.repeat(32)}/x/playback-report`)).status, 404)
  assert.equal(h.reports.length, 1)
  assert.equal((await rawRequest(h.url, `${P}/playback-report`)).status, 404, 'GET is not a route')
})

test('a throwing onPlaybackReport does not fail the request', async (t) => {
  const h = await serve(t, { onPlaybackReport: () => { throw new Error('boom') } })
  const r = await rawRequest(h.url, `${P}/playback-report`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: '{"stalls":0,"stallSeconds":0}' })
  assert.equal(r.status, 204)
})

test('every request is counted under a fixed route label', async (t) => {
  const h = await serve(t, { status: () => { throw new Error('status broke') } })
  tenSegments(h.log)
  await h.get('/')
  await h.get(`${P}/index.m3u8`)
  await h.get(`${P}/media`, { range: 'bytes=0-9' })
  await h.get('/status.json')
  await h.get('/nowhere')
  await h.get('/vendor/..%2fx')
  await new Promise((r) => setTimeout(r, 50))
  assert.deepEqual(h.requests, [['index', 200], ['playlist', 200], ['media', 206], ['status', 500], ['other', 404], ['other', 400]])
})

test('createPlayerApp validates its window; close() is idempotent and drops keep-alive sockets', async () => {
  assert.throws(() => createPlayerApp({ streams: fakeDirectory(), status: () => ({}), logger: quiet }, { window: 0 }),
    { code: 'ERR_PLAYER_CONFIG' })
  const server = await startHttpServer(createPlayerApp({ streams: fakeDirectory(), status: () => ({}), logger: quiet }), { port: 0 })
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  const res = await fetch(`${server.url}/status.json`) // undici keeps this connection alive
  await res.text()
  const started = Date.now()
  await Promise.all([server.close(), server.close()])
  await server.close()
  assert.ok(Date.now() - started < 2000, 'close did not wait for the keep-alive timeout')
  assert.equal(server.server.listening, false)
})
