// LL-HLS blocking playlist reload over real HTTP: a request for a part not yet verified is held
// until it is, and answered 503 after three target durations of (virtual) time.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createPlayerApp, startHttpServer } from '../../src/player/app.ts'
import { parseReloadQuery } from '../../src/player/blocking-reload.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'
import { VirtualTimers } from '../../src/util/timers.ts'
import { FakeStreamLog, TEST_KEY, fakeDirectory } from './fake-log.ts'
import { rawRequest } from './http-client.ts'

const quiet = { debug() {}, info() {}, warn() {} }
const P = `/streams/stream/${TEST_KEY}/test/index.m3u8`

/** An fMP4 log with `segments` whole segments of 4 parts and `open` parts of the next, all verified.
 * Init and parts are one chunk each, so a new part's bytes are in a chunk of their own. */
function partedLog(segments: number, open: number): FakeStreamLog {
  const log = new FakeStreamLog({ format: 'fmp4', init: { offset: 0, length: CHUNK_SIZE } })
  for (let i = 0; i < segments * 4 + open; i++) addPart(log, Math.floor(i / 4), i % 4)
  log.verify()
  return log
}

function addPart(log: FakeStreamLog, msn: number, index: number): void {
  log.addSegment(CHUNK_SIZE, { duration: 0.24, part: { msn, index, independent: index === 0 } })
}

async function serve(t: TestContext, log: FakeStreamLog, timers: VirtualTimers) {
  const server = await startHttpServer(createPlayerApp({ streams: fakeDirectory(log), status: () => ({}), logger: quiet, timers }, { window: 3 }), { port: 0 })
  t.after(() => server.close())
  return (query: string) => rawRequest(server.url, P + query)
}

/** Settles within `ms` of real time, or says it is still pending. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'pending'> {
  let timer: NodeJS.Timeout | undefined
  const pending = new Promise<'pending'>((resolve) => { timer = setTimeout(() => resolve('pending'), ms) })
  try { return await Promise.race([p, pending]) } finally { clearTimeout(timer) }
}

test('the reload query: _HLS_msn with an optional _HLS_part; anything else is a 400', () => {
  assert.equal(parseReloadQuery({}), null)
  assert.deepEqual(parseReloadQuery({ _HLS_msn: '12' }), { msn: 12, part: null })
  assert.deepEqual(parseReloadQuery({ _HLS_msn: '12', _HLS_part: '3' }), { msn: 12, part: 3 })
  assert.equal(typeof parseReloadQuery({ _HLS_part: '3' }), 'string')
  assert.equal(typeof parseReloadQuery({ _HLS_msn: '-1' }), 'string')
  assert.equal(typeof parseReloadQuery({ _HLS_msn: ['1', '2'] }), 'string')
  assert.equal(typeof parseReloadQuery({ _HLS_msn: '1', _HLS_part: 'x' }), 'string')
})

test('a blocked reload is answered once the part it asks for is verified, not before', async (t) => {
  const log = partedLog(3, 1) // segment 3 has part 0
  const timers = new VirtualTimers({ start: Date.now() })
  const get = await serve(t, log, timers)

  const now = await get('?_HLS_msn=3&_HLS_part=0')
  assert.equal(now.status, 200, 'a part that exists is answered at once')
  assert.match(now.body.toString(), /#EXT-X-PART:DURATION=0\.24000,URI="media\.m4s",BYTERANGE="16384@\d+",INDEPENDENT=YES\n$/)

  const held = get('?_HLS_msn=3&_HLS_part=1')
  assert.equal(await within(held, 300), 'pending')
  addPart(log, 3, 1) // its record arrives, its bytes are not verified yet
  assert.equal(await within(held, 300), 'pending', 'a part is listed only once its bytes are verified')
  log.verify()
  const res = await within(held, 5000)
  assert.notEqual(res, 'pending')
  if (res === 'pending') return
  assert.equal(res.status, 200)
  const last = res.body.toString().trimEnd().split('\n').at(-1)
  assert.match(last ?? '', /^#EXT-X-PART:DURATION=0\.24000,URI="media\.m4s",BYTERANGE="16384@\d+"$/)
  assert.equal(timers.active, 0, 'the bound timer was cleared')
})

test('a blocked reload gives up with 503 after three target durations', async (t) => {
  const log = partedLog(3, 1)
  const timers = new VirtualTimers({ start: Date.now() })
  const get = await serve(t, log, timers)
  const held = get('?_HLS_msn=4&_HLS_part=0')
  assert.equal(await within(held, 200), 'pending')
  await timers.runFor(2900)
  assert.equal(await within(held, 200), 'pending', 'still waiting before 3 s')
  await timers.runFor(200)
  const res = await within(held, 5000)
  assert.ok(res !== 'pending' && res.status === 503, 'answered 503 at the bound')
})

test('asking for a segment far past the newest, or a part without a segment, is a 400', async (t) => {
  const get = await serve(t, partedLog(3, 1), new VirtualTimers())
  assert.equal((await get('?_HLS_msn=9&_HLS_part=0')).status, 400)
  assert.equal((await get('?_HLS_part=0')).status, 400)
  assert.equal((await get('?_HLS_msn=abc')).status, 400)
})

test('the segment before a new one completes when the new one begins: waiting for msn 3 whole', async (t) => {
  const log = partedLog(3, 3)
  const get = await serve(t, log, new VirtualTimers({ start: Date.now() }))
  const held = get('?_HLS_msn=3')
  assert.equal(await within(held, 300), 'pending')
  addPart(log, 4, 0)
  log.verify()
  const res = await within(held, 5000)
  assert.ok(res !== 'pending' && res.status === 200)
  assert.equal((res.body.toString().match(/#EXTINF/g) ?? []).length, 3)
})
