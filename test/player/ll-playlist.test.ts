// LL-HLS rendering from signed part records: pure functions, no clock.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildLivePlaylist } from '../../src/player/playlist.ts'
import { groupParts, hasPart, windowRecords } from '../../src/player/playlist-parts.ts'
import type { SegmentRecord } from '../../src/store/stream-types.ts'

const FMP4 = { format: 'fmp4' as const, init: { offset: 0, length: 1000 }, targetDuration: 1 }
const T0 = Date.UTC(2025, 0, 1)

/** `segments` segments of `per` parts of 0.24 s each (records n = 0...), the last `open` parts of a
 * further segment still being written; parts are 10000 bytes with 384 bytes of padding after each. */
function parts(segments: number, per: number, open = 0): SegmentRecord[] {
  const out: SegmentRecord[] = []
  const total = segments * per + open
  for (let n = 0; n < total; n++) {
    const msn = Math.floor(n / per)
    const index = n % per
    out.push({ n, offset: 1000 + n * 10384, length: 10000, duration: 0.24, pdt: T0 + n * 240, discontinuity: false,
      part: { msn, index, independent: index === 0 }, sig: 'x' })
  }
  return out
}

const lines = (text: string, prefix: string) => text.split('\n').filter((l) => l.startsWith(prefix))
const tag = (text: string, name: string) => lines(text, name)[0]?.slice(name.length + 1)

test('parts group into segments by msn; the newest is open until a later msn or the end', () => {
  const g = groupParts(parts(3, 4, 2), false)
  assert.deepEqual(g.map((s) => [s.msn, s.parts.length, s.complete]), [[0, 4, true], [1, 4, true], [2, 4, true], [3, 2, false]])
  const ended = groupParts(parts(3, 4), true)
  assert.deepEqual(ended.map((s) => s.complete), [true, true, true])
  // A window that starts inside a segment drops that segment: no segment without its first part.
  assert.deepEqual(groupParts(parts(3, 4, 2).slice(2), false).map((s) => s.msn), [1, 2, 3])
})

test('an LL-HLS playlist: SERVER-CONTROL, PART-INF, parts as byte ranges, segments spanning their parts', () => {
  const text = buildLivePlaylist({ info: FMP4, segments: parts(8, 4, 2), ended: false, window: 3, mediaUri: 'media.m4s', mapUri: 'init.mp4' })
  assert.equal(tag(text, '#EXT-X-SERVER-CONTROL'), 'CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.720')
  assert.equal(tag(text, '#EXT-X-PART-INF'), 'PART-TARGET=0.240')
  assert.equal(tag(text, '#EXT-X-TARGETDURATION'), '1')
  // Three complete segments (5, 6, 7) and the open one (8).
  assert.equal(tag(text, '#EXT-X-MEDIA-SEQUENCE'), '5')
  assert.equal(lines(text, '#EXTINF').length, 3)
  assert.ok(text.includes('#EXT-X-INDEPENDENT-SEGMENTS'))
  assert.ok(text.includes('#EXT-X-MAP:URI="init.mp4",BYTERANGE="1000@0"'))
  assert.ok(!text.includes('#EXT-X-PRELOAD-HINT'), 'hls.js makes no open-ended range requests')
  // Segment 7 = parts 28..31: from part 28's start to part 31's end, padding between parts included.
  const seg7 = 1000 + 28 * 10384
  assert.ok(text.includes(`#EXTINF:0.960000,\n#EXT-X-BYTERANGE:${3 * 10384 + 10000}@${seg7}\nmedia.m4s`))
  // Parts of the last three segments listed (6, 7 and the open 8): 4 + 4 + 2; segment 5 has none.
  const partLines = lines(text, '#EXT-X-PART:')
  assert.equal(partLines.length, 10)
  assert.equal(partLines[0], `#EXT-X-PART:DURATION=0.24000,URI="media.m4s",BYTERANGE="10000@${1000 + 24 * 10384}",INDEPENDENT=YES`)
  assert.equal(partLines[1], `#EXT-X-PART:DURATION=0.24000,URI="media.m4s",BYTERANGE="10000@${1000 + 25 * 10384}"`)
  // The open segment: its PROGRAM-DATE-TIME and parts, no EXTINF, last in the playlist.
  const tail = text.trimEnd().split('\n').slice(-3)
  assert.equal(tail[0], `#EXT-X-PROGRAM-DATE-TIME:${new Date(T0 + 32 * 240).toISOString()}`)
  assert.match(tail[2], new RegExp(`^#EXT-X-PART:DURATION=0\\.24000,URI="media\\.m4s",BYTERANGE="10000@${1000 + 33 * 10384}"$`))
})

test('the hold-back follows the longest part, and a custom hold-back in parts is honoured', () => {
  const recs = parts(2, 4, 1)
  recs[5].duration = 0.3
  const text = buildLivePlaylist({ info: FMP4, segments: recs, ended: false, mediaUri: 'm.m4s', partHoldBackParts: 2 })
  assert.equal(tag(text, '#EXT-X-PART-INF'), 'PART-TARGET=0.300')
  assert.equal(tag(text, '#EXT-X-SERVER-CONTROL'), 'CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600')
})

test('an ended LL stream lists its last segment whole and ENDLIST', () => {
  const text = buildLivePlaylist({ info: FMP4, segments: parts(3, 4), ended: true, mediaUri: 'm.m4s' })
  assert.equal(lines(text, '#EXTINF').length, 3)
  assert.ok(text.trimEnd().endsWith('#EXT-X-ENDLIST'))
})

test('a discontinuity starts its segment; DISCONTINUITY-SEQUENCE counts the ones that left the window', () => {
  const recs = parts(6, 2, 1)
  recs[2].discontinuity = true // segment 1
  recs[8].discontinuity = true // segment 4
  const text = buildLivePlaylist({ info: FMP4, segments: recs, ended: false, window: 3, mediaUri: 'm.m4s' })
  assert.equal(tag(text, '#EXT-X-MEDIA-SEQUENCE'), '3')
  assert.equal(tag(text, '#EXT-X-DISCONTINUITY-SEQUENCE'), '1')
  assert.equal(lines(text, '#EXT-X-DISCONTINUITY').filter((l) => l === '#EXT-X-DISCONTINUITY').length, 1)
})

test('a segment that does not start with a keyframe drops INDEPENDENT-SEGMENTS', () => {
  const recs = parts(3, 4, 1)
  recs[4].part!.independent = false
  const text = buildLivePlaylist({ info: FMP4, segments: recs, ended: false, mediaUri: 'm.m4s' })
  assert.ok(!text.includes('#EXT-X-INDEPENDENT-SEGMENTS'))
})

test('windowRecords keeps `window` complete segments plus the open one; whole segments keep the newest', () => {
  const recs = parts(8, 4, 2)
  const w = windowRecords(recs, 3, false)
  assert.equal(w[0].n, 20)
  assert.equal(w.at(-1)!.n, 33)
  const whole = recs.map(({ part: _, ...r }) => r)
  assert.deepEqual(windowRecords(whole, 3, false).map((r) => r.n), [31, 32, 33])
})

test('hasPart: a blocking reload waits for that part, or a later segment, or segment msn whole', () => {
  const recs = parts(2, 4, 2) // segment 2 has parts 0 and 1
  assert.equal(hasPart(recs, 2, 1, false), true)
  assert.equal(hasPart(recs, 2, 2, false), false)
  assert.equal(hasPart(recs, 1, 7, false), true, 'segment 1 ended before a part 7: the next segment answers')
  assert.equal(hasPart(recs, 2, null, false), false, 'segment 2 whole is not there yet')
  assert.equal(hasPart(recs, 2, null, true), true, 'unless the stream ended')
  assert.equal(hasPart(recs, 3, 0, false), false)
  assert.equal(hasPart([], 0, 0, false), false)
})
