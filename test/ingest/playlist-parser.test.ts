import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { buildFfmpegArgs, toArgv } from '../../src/ingest/ffmpeg-args.ts'
import { resolveFfmpeg } from '../../src/ingest/ffmpeg-binary.ts'
import { parsePlaylist, type ParsedPlaylist } from '../../src/ingest/playlist-parser.ts'

function ok (text: string): ParsedPlaylist {
  const r = parsePlaylist(text)
  if (!r.ok) assert.fail(r.error)
  return r.playlist
}

/** Runs ffmpeg on testsrc until its playlist lists `segments` segments, then SIGINT (so it writes ENDLIST). */
async function realPlaylist (format: 'ts' | 'fmp4', segments: number): Promise<{ text: string; mediaSize: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'ingest-parser-'))
  const ffmpeg = await resolveFfmpeg()
  const mediaPath = join(dir, format === 'ts' ? 'stream.ts' : 'stream.m4s')
  const playlistPath = join(dir, 'stream.m3u8')
  const args = buildFfmpegArgs({ kind: 'testsrc' }, {
    segmentSeconds: 1, format, bitrate: '500k', loop: false, fps: 25, fontFile: null, startMs: Date.now(), mediaPath, playlistPath,
  })
  const child = spawn(ffmpeg.path, toArgv(args), { stdio: 'ignore' })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  try {
    const count = async () => (await readFile(playlistPath, 'utf8').catch(() => '')).split('\n').filter((l) => l.startsWith('#EXTINF')).length
    let n = 0
    const deadline = Date.now() + 30_000
    while ((n = await count()) < segments) {
      if (Date.now() > deadline) throw new Error(`ffmpeg listed only ${n} segments`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    child.kill('SIGINT')
    await exited
    return { text: await readFile(playlistPath, 'utf8'), mediaSize: (await stat(mediaPath)).size }
  } finally {
    child.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  }
}

test('parses playlists written by real ffmpeg (ts and fmp4)', async () => {
  const [ts, mp4] = await Promise.all([realPlaylist('ts', 2), realPlaylist('fmp4', 2)])
  for (const [name, real] of [['ts', ts], ['fmp4', mp4]] as const) {
    const p = ok(real.text)
    assert.equal(p.ended, true, `${name}: SIGINT makes ffmpeg write ENDLIST`)
    assert.equal(p.targetDuration, 1)
    assert.ok(p.segments.length >= 2, `${name}: ${p.segments.length} segments`)
    let expected = name === 'fmp4' ? p.map!.offset + p.map!.length : 0
    for (const s of p.segments) {
      assert.equal(s.offset, expected, `${name}: segments are contiguous`)
      assert.ok(s.length > 0 && s.duration > 0 && s.duration <= 1.1)
      assert.ok(s.pdt !== null && Math.abs(s.pdt - Date.now()) < 120_000, `${name}: pdt near now`)
      expected = s.offset + s.length
    }
    assert.equal(expected, real.mediaSize, `${name}: segments cover the whole media file`)
  }
  const map = ok(mp4.text).map!
  assert.equal(map.uri, 'stream.m4s')
  assert.equal(map.offset, 0)
  assert.ok(map.length > 100)
  assert.equal(ok(ts.text).map, null)
})

const HEAD = '#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n'

test('byte ranges without @offset continue from the previous range; PDT is extrapolated', () => {
  const p = ok(HEAD +
    '#EXTINF:1.5,\n#EXT-X-BYTERANGE:100@10\n#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:00:00.000+0000\ns.ts\n' +
    '#EXTINF:1,\n#EXT-X-BYTERANGE:50\ns.ts\n' +
    '#EXT-X-DISCONTINUITY\n#EXTINF:0.5,\n#EXT-X-BYTERANGE:7\n#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:01:00Z\ns.ts\n')
  assert.deepEqual(p.segments.map((s) => [s.offset, s.length, s.duration, s.discontinuity]), [[10, 100, 1.5, false], [110, 50, 1, false], [160, 7, 0.5, true]])
  const t0 = Date.UTC(2025, 0, 1)
  assert.deepEqual(p.segments.map((s) => s.pdt), [t0, t0 + 1500, t0 + 60_000])
  assert.equal(p.ended, false)
  assert.equal(p.targetDuration, 2)
})

test('EXT-X-MAP with quoted BYTERANGE; CRLF and blank lines tolerated', () => {
  const p = ok('#EXTM3U\r\n#EXT-X-TARGETDURATION:1\r\n#EXT-X-MAP:URI="a.m4s",BYTERANGE="1360@0"\r\n\r\n#EXTINF:1.0,\r\n#EXT-X-BYTERANGE:500@1360\r\na.m4s\r\n#EXT-X-ENDLIST\r\n')
  assert.deepEqual(p.map, { uri: 'a.m4s', offset: 0, length: 1360 })
  assert.equal(p.segments[0].offset, 1360)
  assert.equal(p.segments[0].pdt, null)
  assert.equal(p.ended, true)
})

test('a segment still being written (tags without URI) is not returned; the cursor stops before it', () => {
  const text = HEAD + '#EXTINF:1,\n#EXT-X-BYTERANGE:100@0\ns.ts\n#EXTINF:1,\n#EXT-X-BYTERANGE:100@100\n'
  const p = ok(text)
  assert.equal(p.segments.length, 1)
  assert.equal(p.cursor.textOffset, text.indexOf('s.ts\n') + 5)
})

test('resuming from a cursor parses only the new lines', () => {
  const first = HEAD + '#EXTINF:1,\n#EXT-X-BYTERANGE:100@0\n#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:00:00Z\ns.ts\n'
  const a = ok(first)
  const grown = first + '#EXTINF:1,\n#EXT-X-BYTERANGE:80\ns.ts\n#EXT-X-ENDLIST\n'
  const r = parsePlaylist(grown, a.cursor)
  assert.ok(r.ok)
  if (!r.ok) return
  assert.equal(r.playlist.firstIndex, 1)
  assert.deepEqual(r.playlist.segments.map((s) => [s.offset, s.length, s.pdt]), [[100, 80, Date.UTC(2025, 0, 1) + 1000]])
  assert.equal(r.playlist.targetDuration, 2, 'header carried by the cursor')
  assert.equal(r.playlist.ended, true)
  assert.equal(r.playlist.cursor.segmentCount, 2)
  const full = ok(grown)
  assert.deepEqual(full.segments.slice(1), r.playlist.segments)
})

test('garbage and inconsistencies come back as errors, not exceptions', () => {
  const bad = (text: string, re: RegExp) => {
    const r = parsePlaylist(text)
    assert.equal(r.ok, false, text)
    if (!r.ok) assert.match(r.error, re)
  }
  bad('', /EXTM3U/)
  bad('hello\n', /EXTM3U/)
  bad(HEAD + 's.ts\n', /without #EXTINF/)
  bad(HEAD + '#EXTINF:1,\ns.ts\n', /BYTERANGE/)
  bad(HEAD + '#EXTINF:1,\n#EXT-X-BYTERANGE:10\ns.ts\n', /without offset/)
  bad(HEAD + '#EXTINF:x,\n', /EXTINF/)
  bad(HEAD + '#EXT-X-BYTERANGE:0@5\n', /BYTERANGE/)
  bad(HEAD + '#EXT-X-BYTERANGE:12a\n', /BYTERANGE/)
  bad(HEAD + '#EXT-X-PROGRAM-DATE-TIME:yesterday\n', /PROGRAM-DATE-TIME/)
  bad(HEAD + '#EXT-X-MAP:URI="a.m4s"\n', /MAP/)
  bad('#EXTM3U\n#EXT-X-TARGETDURATION:-1\n', /TARGETDURATION/)
  assert.equal(parsePlaylist(HEAD, { ...ok(HEAD).cursor, textOffset: 10_000 }).ok, false)
  assert.equal(parsePlaylist(42 as unknown as string).ok, false)
})

test('property: never throws, whatever the text (and whatever the cursor)', () => {
  const line = fc.oneof(
    fc.constantFrom('#EXTM3U', '#EXTINF:1,', '#EXTINF:', '#EXT-X-BYTERANGE:10', '#EXT-X-BYTERANGE:5@3', '#EXT-X-DISCONTINUITY',
      '#EXT-X-ENDLIST', '#EXT-X-MAP:URI="a",BYTERANGE="1@0"', '#EXT-X-MAP:', '#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:00:00Z', 's.ts', ''),
    fc.string(), fc.string({ unit: 'binary' }),
  )
  fc.assert(fc.property(fc.array(line, { maxLength: 40 }), fc.nat(), (lines, at) => {
    const text = lines.join('\n')
    const r = parsePlaylist(text)
    assert.equal(typeof r.ok, 'boolean')
    if (r.ok) {
      for (const s of r.playlist.segments) assert.ok(s.offset >= 0 && s.length > 0 && Number.isFinite(s.duration))
      parsePlaylist(text + '\n' + text, r.playlist.cursor)
    }
    parsePlaylist('#EXTM3U\n' + text)
    parsePlaylist(text.slice(0, at % (text.length + 1)))
  }), { numRuns: 2000 })
})
