import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildLivePlaylist } from '../../src/player/playlist.ts'
import type { SegmentRecord } from '../../src/store/stream-types.ts'

const TS = { format: 'ts' as const, init: null, targetDuration: 1 }

function segs(from: number, count: number, opts: { disc?: number[]; duration?: number } = {}): SegmentRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const n = from + i
    return { n, offset: n * 1000, length: 1000, duration: opts.duration ?? 1, pdt: Date.UTC(2025, 0, 1) + n * 1000,
      discontinuity: opts.disc?.includes(n) ?? false, sig: 'x' }
  })
}

const tags = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(name))
const tag = (text: string, name: string) => tags(text, name)[0]?.slice(name.length + 1)

test('a live playlist lists the newest window with MEDIA-SEQUENCE of the first listed segment', () => {
  const text = buildLivePlaylist({ info: TS, segments: segs(0, 10), ended: false, window: 4, mediaUri: 'media' })
  assert.equal(tag(text, '#EXT-X-MEDIA-SEQUENCE'), '6')
  assert.equal(tags(text, '#EXTINF').length, 4)
  assert.deepEqual(tags(text, '#EXT-X-BYTERANGE'), ['#EXT-X-BYTERANGE:1000@6000', '#EXT-X-BYTERANGE:1000@7000',
    '#EXT-X-BYTERANGE:1000@8000', '#EXT-X-BYTERANGE:1000@9000'])
  assert.equal(tag(text, '#EXT-X-VERSION'), '4')
  assert.ok(!text.includes('#EXT-X-ENDLIST'))
  assert.ok(!text.includes('#EXT-X-MAP'))
  assert.ok(text.startsWith('#EXTM3U\n'))
  assert.ok(text.includes('#EXT-X-INDEPENDENT-SEGMENTS'))
})

test('each segment carries PROGRAM-DATE-TIME with milliseconds, EXTINF, BYTERANGE and the media URI in order', () => {
  const [s] = segs(3, 1)
  s.pdt += 250
  s.duration = 0.96
  const text = buildLivePlaylist({ info: TS, segments: [s], ended: false, mediaUri: 'media' })
  const body = text.split('\n').slice(-5)
  assert.deepEqual(body, ['#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:00:03.250Z', '#EXTINF:0.960000,',
    '#EXT-X-BYTERANGE:1000@3000', 'media', ''])
})

test('TARGETDURATION is the ceiling of the longest listed segment', () => {
  const s = segs(0, 3)
  s[1].duration = 2.02
  assert.equal(tag(buildLivePlaylist({ info: TS, segments: s, ended: false, mediaUri: 'media' }), '#EXT-X-TARGETDURATION'), '3')
  assert.equal(tag(buildLivePlaylist({ info: TS, segments: segs(0, 3, { duration: 0.48 }), ended: false, mediaUri: 'media' }),
    '#EXT-X-TARGETDURATION'), '1')
})

test('DISCONTINUITY-SEQUENCE counts discontinuities before the window; tags stay on listed segments', () => {
  const text = buildLivePlaylist({ info: TS, segments: segs(10, 10, { disc: [12, 15, 18] }), ended: false, window: 3,
    mediaUri: 'media', discontinuitiesBefore: 2 })
  assert.equal(tag(text, '#EXT-X-MEDIA-SEQUENCE'), '17')
  assert.equal(tag(text, '#EXT-X-DISCONTINUITY-SEQUENCE'), '4')
  const lines = text.split('\n')
  const i = lines.indexOf('#EXT-X-DISCONTINUITY')
  assert.equal(tags(text, '#EXT-X-DISCONTINUITY').filter((l) => l === '#EXT-X-DISCONTINUITY').length, 1)
  assert.equal(lines[i + 3], '#EXT-X-BYTERANGE:1000@18000')
})

test('an ended stream keeps its window (MEDIA-SEQUENCE does not go back) and ends with ENDLIST', () => {
  const text = buildLivePlaylist({ info: TS, segments: segs(2, 20), ended: true, window: 4, mediaUri: 'media' })
  assert.equal(tags(text, '#EXTINF').length, 4)
  assert.equal(tag(text, '#EXT-X-MEDIA-SEQUENCE'), '18')
  assert.equal(text.trimEnd().split('\n').at(-1), '#EXT-X-ENDLIST')
})

test('fMP4 uses version 6 and an EXT-X-MAP byte range into the same media file', () => {
  const text = buildLivePlaylist({ info: { format: 'fmp4', init: { offset: 0, length: 1360 }, targetDuration: 1 },
    segments: segs(1, 2), ended: false, mediaUri: 'media.m4s', mapUri: 'init.mp4' })
  assert.equal(tag(text, '#EXT-X-VERSION'), '6')
  assert.equal(tag(text, '#EXT-X-MAP'), 'URI="init.mp4",BYTERANGE="1360@0"')
  assert.ok(text.indexOf('#EXT-X-MAP') < text.indexOf('#EXTINF'))
})

test('an empty run gives a valid playlist with no segments', () => {
  const text = buildLivePlaylist({ info: TS, segments: [], ended: false, mediaUri: 'media' })
  assert.equal(tag(text, '#EXT-X-MEDIA-SEQUENCE'), '0')
  assert.equal(tag(buildLivePlaylist({ info: TS, segments: [], ended: false, mediaUri: 'media', firstSequence: 42 }), '#EXT-X-MEDIA-SEQUENCE'), '42')
  assert.equal(tag(text, '#EXT-X-TARGETDURATION'), '1')
  assert.equal(tags(text, '#EXTINF').length, 0)
  const odd = buildLivePlaylist({ info: { ...TS, targetDuration: NaN }, segments: [], ended: false, mediaUri: 'media' })
  assert.equal(tag(odd, '#EXT-X-TARGETDURATION'), '1')
})

test('refuses gaps, bad windows and URIs that would break the playlist', () => {
  const gap = [...segs(0, 2), ...segs(3, 1)]
  assert.throws(() => buildLivePlaylist({ info: TS, segments: gap, ended: false, mediaUri: 'media' }), /consecutive/)
  assert.throws(() => buildLivePlaylist({ info: TS, segments: [], ended: false, window: 0, mediaUri: 'media' }), RangeError)
  assert.throws(() => buildLivePlaylist({ info: TS, segments: [], ended: false, mediaUri: 'a"b' }), RangeError)
})

test('a PROGRAM-DATE-TIME Date cannot represent is left out rather than thrown on', () => {
  const [s] = segs(0, 1)
  s.pdt = 1e20
  const text = buildLivePlaylist({ info: TS, segments: [s], ended: false, mediaUri: 'media' })
  assert.ok(!text.includes('PROGRAM-DATE-TIME'))
  assert.equal(tags(text, '#EXTINF').length, 1)
})
