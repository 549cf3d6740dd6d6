import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { FRAME_PART, PAGE_HOOK, PartListings, TERMS, breakdown, listedParts, listingDelays } from '../../scripts/latency-breakdown.ts'

const playlist = (seq: number, segments: number[][]) => [
  '#EXTM3U', `#EXT-X-MEDIA-SEQUENCE:${seq}`,
  ...segments.flatMap((parts, i) => [
    ...parts.map((p) => `#EXT-X-PART:DURATION=0.24000,URI="media.m4s",BYTERANGE="100@${p}",INDEPENDENT=YES`),
    // Every segment but the last one (in progress) is complete.
    ...(i < segments.length - 1 ? ['#EXTINF:0.960000,', '#EXT-X-BYTERANGE:400@0', 'media.m4s'] : []),
  ]),
].join('\n') + '\n'

test('listedParts numbers parts by segment and index, complete segments without parts included', () => {
  const text = ['#EXTM3U', '#EXT-X-MEDIA-SEQUENCE:7', '#EXTINF:0.96,', 'media.m4s', playlist(8, [[0, 1], [2]]).split('\n').slice(2).join('\n')].join('\n')
  assert.deepEqual(listedParts(text), [{ msn: 8, part: 0 }, { msn: 8, part: 1 }, { msn: 9, part: 0 }])
  assert.deepEqual(listedParts('garbage'), [])
})

test('a sampled frame splits into terms that add up to its glass-to-glass latency', () => {
  const clock = 1_000_000
  const frame = { clock, shownAt: clock + 950, part: { msn: 3, part: 2, endsIn: 0.12 } }
  const source = new Map([['3/2', clock + 200]])
  const relay = new Map([['3/2', clock + 260]])
  const page = { learned: { '3/2': clock + 270 }, loaded: { '3/2': clock + 290 }, buffered: { '3/2': clock + 295 } }
  const b = breakdown(frame, source, relay, page)
  assert.ok(b)
  assert.deepEqual(b, { fill: 120, ingest: 80, mesh: 60, answer: 10, fetch: 20, append: 5, held: 655 })
  assert.equal(TERMS.reduce((sum, t) => sum + b[t], 0), frame.shownAt - frame.clock)
  // A whole segment hls.js loaded instead of its parts still times the frame.
  assert.ok(breakdown(frame, source, relay, { ...page, loaded: { '3/*': clock + 290 }, buffered: { '3/*': clock + 295 } }))
  // A step nobody saw: no breakdown rather than a wrong one.
  assert.equal(breakdown(frame, source, new Map(), page), null)
  assert.equal(breakdown({ ...frame, part: null }, source, relay, page), null)
  assert.deepEqual(listingDelays(source, relay), [60])
})

test('PartListings follows a playlist by blocking reload and times only the parts listed after its first answer', async (t) => {
  let parts = [0, 1]
  const asked: string[] = []
  const server = createServer((req, res) => {
    asked.push(req.url ?? '')
    // Blocking reload: answer a directive only once the part asked for exists (here: 50 ms later).
    const wait = req.url?.includes('_HLS_msn') ? 50 : 0
    setTimeout(() => {
      if (wait) parts = [...parts, parts.length]
      res.end(playlist(5, [parts]))
    }, wait)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => server.close())
  const l = new PartListings(`http://127.0.0.1:${(server.address() as AddressInfo).port}/index.m3u8`)
  l.start()
  t.after(() => l.stop())
  const deadline = Date.now() + 20_000
  while (l.listedAt.size < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  l.stop()
  assert.ok(l.listedAt.size >= 3, `timed ${l.listedAt.size} parts`)
  assert.equal(l.listedAt.has('5/0'), false, 'parts in the first answer were listed before we asked')
  assert.equal(l.listedAt.has('5/1'), false)
  assert.ok(l.listedAt.has('5/2'))
  assert.equal(asked[1], '/index.m3u8?_HLS_msn=5&_HLS_part=2', 'asks for the part after the newest listed')
})

test('the scripts run in the page are JavaScript a browser can parse', () => {
  // They are strings (tsx must not rewrite them), so nothing else would catch a syntax error before a run.
  assert.doesNotThrow(() => new Function(PAGE_HOOK))
  assert.doesNotThrow(() => new Function(FRAME_PART))
})
