import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildFfmpegArgs, clockOffsetSeconds, lowLatencyTiming, parseInput, toArgv, type EncodeOptions } from '../../src/ingest/ffmpeg-args.ts'
import { IngestError } from '../../src/ingest/ingest-error.ts'

const base: EncodeOptions = {
  segmentSeconds: 1, format: 'ts', bitrate: '1500k', loop: false, fps: 25,
  fontFile: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  startMs: Date.UTC(2025, 0, 1, 12, 34, 56, 789),
  mediaPath: '/w/run-1/stream.ts', playlistPath: '/w/run-1/stream.m3u8',
}

/** The value following flag `name` (first occurrence). */
function opt (argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name)
  return i === -1 ? undefined : argv[i + 1]
}

test('parseInput recognises testsrc, v4l2 devices, URLs and files', () => {
  assert.deepEqual(parseInput('testsrc'), { kind: 'testsrc' })
  assert.deepEqual(parseInput('/dev/video2'), { kind: 'v4l2', device: '/dev/video2' })
  assert.deepEqual(parseInput('/dev/video0', 'hw:1'), { kind: 'v4l2', device: '/dev/video0', audio: 'hw:1' })
  assert.deepEqual(parseInput('rtsp://cam.local/stream'), { kind: 'url', url: 'rtsp://cam.local/stream' })
  assert.deepEqual(parseInput('clip.mp4'), { kind: 'file', path: 'clip.mp4' })
  assert.deepEqual(parseInput('/dev/videox'), { kind: 'file', path: '/dev/videox' })
  assert.throws(() => parseInput(''), (e: IngestError) => e.code === 'ERR_BAD_INPUT')
})

test('testsrc: lavfi picture + sine, burned-in UTC clock with ms, single-file HLS with a bounded playlist', () => {
  const a = buildFfmpegArgs({ kind: 'testsrc' }, base)
  const argv = toArgv(a)
  assert.deepEqual(a.warnings, [])
  assert.equal(a.inputs.length, 2)
  assert.equal(a.inputs[0].source, 'testsrc2=size=640x360:rate=25')
  assert.equal(a.inputs[1].source, 'sine=frequency=440:sample_rate=48000')
  for (const i of a.inputs) assert.ok(i.options.includes('-re'), 'both lavfi inputs paced in real time')
  const vf = opt(argv, '-vf') ?? ''
  // The burned clock is the wall clock at filter time: pts becomes seconds since UTC midnight of the
  // start day (2025-01-01 is 1735689600 s after the epoch), then frame-count pts are restored.
  // Between the two: the machine-readable block strip (clock-strip.ts), then the human clock.
  assert.match(vf, /^setpts='\(RTCTIME-1735689600000000\)\/\(TB\*1000000\)',split\[cjm\]\[cjs\];\[cjs\]crop=594:12:0:0,geq=lum='if\(mod\(floor\(T\*1000\/pow\(2\\,floor\(X\/22\)\)\)\\,2\)\\,235\\,16\)':cb=128:cr=128\[cjb\];\[cjm\]\[cjb\]overlay=0:0,drawtext=fontfile=\/usr\/share\/fonts\/truetype\/dejavu\/DejaVuSans\.ttf:/)
  assert.ok(vf.includes("text='%{pts\\:hms} UTC'"), vf)
  assert.ok(vf.endsWith(',setpts=N/(FRAME_RATE*TB)'), vf)
  assert.equal(opt(argv, '-c:v'), 'libx264')
  assert.equal(opt(argv, '-c:a'), 'aac')
  assert.equal(opt(argv, '-g'), '25')
  assert.equal(opt(argv, '-keyint_min'), '25')
  assert.equal(opt(argv, '-sc_threshold'), '0')
  assert.equal(opt(argv, '-b:v'), '1500k')
  assert.equal(opt(argv, '-f'), 'lavfi')
  assert.equal(opt(a.output.options, '-f'), 'hls')
  assert.equal(opt(argv, '-hls_time'), '1')
  // A bounded sliding window (a minute of segments), never an event playlist that grows forever.
  assert.equal(opt(argv, '-hls_list_size'), '60')
  assert.equal(argv.includes('-hls_playlist_type'), false)
  assert.equal(opt(argv, '-hls_flags'), 'single_file+independent_segments+program_date_time')
  assert.equal(opt(argv, '-hls_segment_type'), 'mpegts')
  assert.equal(opt(argv, '-hls_segment_filename'), '/w/run-1/stream.ts')
  assert.equal(argv.at(-1), '/w/run-1/stream.m3u8')
  assert.ok(argv.includes('-nostdin'))
})

test('fmp4, segment seconds, bitrate and fps drive the muxer and the GOP', () => {
  const argv = toArgv(buildFfmpegArgs({ kind: 'testsrc' }, { ...base, format: 'fmp4', segmentSeconds: 0.5, bitrate: '800k', fps: 30, mediaPath: '/w/s.m4s' }))
  assert.equal(opt(argv, '-hls_segment_type'), 'fmp4')
  assert.equal(opt(argv, '-hls_time'), '0.5')
  assert.equal(opt(argv, '-g'), '15')
  assert.equal(opt(argv, '-keyint_min'), '15')
  assert.equal(opt(argv, '-r'), '30')
  assert.equal(opt(argv, '-b:v'), '800k')
  assert.equal(opt(argv, '-maxrate'), '800k')
  assert.equal(opt(argv, '-hls_segment_filename'), '/w/s.m4s')
})

test('no font (or an unsafe font path): no drawtext, a warning instead', () => {
  const none = buildFfmpegArgs({ kind: 'testsrc' }, { ...base, fontFile: null })
  assert.equal(toArgv(none).includes('-vf'), false)
  assert.match(none.warnings[0], /fonts-dejavu-core/)
  const odd = buildFfmpegArgs({ kind: 'testsrc' }, { ...base, fontFile: "/tmp/x':y.ttf" })
  assert.equal(toArgv(odd).includes('-vf'), false)
  assert.equal(odd.warnings.length, 1)
})

test('v4l2 device: -f v4l2, no -re, optional ALSA audio', () => {
  const silent = toArgv(buildFfmpegArgs({ kind: 'v4l2', device: '/dev/video2' }, base))
  assert.equal(opt(silent, '-f'), 'v4l2')
  assert.equal(opt(silent, '-i'), '/dev/video2')
  assert.equal(silent.includes('-re'), false)
  assert.ok(silent.includes('-an'))
  assert.equal(silent.includes('-vf'), false, 'no clock on camera input')
  const withAudio = buildFfmpegArgs({ kind: 'v4l2', device: '/dev/video2', audio: 'hw:1,0' }, base)
  assert.equal(withAudio.inputs[1].source, 'hw:1,0')
  assert.deepEqual(withAudio.inputs[1].options.slice(0, 2), ['-f', 'alsa'])
  assert.equal(toArgv(withAudio).includes('-an'), false)
})

test('file: -re, --loop adds -stream_loop -1 before -i; URL: no -re', () => {
  const once = buildFfmpegArgs({ kind: 'file', path: 'in.mp4' }, base)
  assert.ok(once.inputs[0].options.includes('-re'))
  assert.equal(once.inputs[0].options.includes('-stream_loop'), false)
  const looped = toArgv(buildFfmpegArgs({ kind: 'file', path: 'in.mp4' }, { ...base, loop: true }))
  assert.equal(opt(looped, '-stream_loop'), '-1')
  assert.ok(looped.indexOf('-stream_loop') < looped.indexOf('-i'))
  assert.ok(looped.includes('0:a:0?'), 'audio optional for files')
  const url = buildFfmpegArgs({ kind: 'url', url: 'http://127.0.0.1:1/x.m3u8' }, base)
  assert.equal(url.inputs[0].options.includes('-re'), false)
  assert.equal(url.inputs[0].source, 'http://127.0.0.1:1/x.m3u8')
})

test('bad options are typed errors', () => {
  const bad = (o: Partial<EncodeOptions>) => assert.throws(() => buildFfmpegArgs({ kind: 'testsrc' }, { ...base, ...o }),
    (e: IngestError) => e instanceof IngestError && e.code === 'ERR_BAD_INPUT')
  bad({ segmentSeconds: 0 })
  bad({ segmentSeconds: Number.NaN })
  bad({ segmentSeconds: 100 })
  bad({ bitrate: '1500 kbit' })
  bad({ bitrate: '-1k' })
  bad({ fps: 0 })
  bad({ fps: 29.97 })
})

test('clock offset wraps at UTC midnight', () => {
  assert.equal(clockOffsetSeconds(Date.UTC(2025, 0, 2, 0, 0, 0, 5)), '0.005')
  assert.equal(clockOffsetSeconds(Date.UTC(2025, 0, 1, 23, 59, 59, 999)), '86399.999')
})

test('--latency low: parts of whole frames, a keyframe every few parts, no B-frames, ffmpeg cutting by time', () => {
  assert.deepEqual(lowLatencyTiming(25, 1), { partFrames: 6, partSeconds: 0.24, partsPerSegment: 4, gopFrames: 24, segmentSeconds: 0.96 })
  assert.deepEqual(lowLatencyTiming(30, 1), { partFrames: 8, partSeconds: 8 / 30, partsPerSegment: 4, gopFrames: 32, segmentSeconds: 32 / 30 })
  assert.deepEqual(lowLatencyTiming(25, 2), { partFrames: 6, partSeconds: 0.24, partsPerSegment: 8, gopFrames: 48, segmentSeconds: 1.92 })
  const argv = toArgv(buildFfmpegArgs({ kind: 'testsrc' }, { ...base, format: 'fmp4', latency: 'low', mediaPath: '/w/run-1/stream.m4s' }))
  assert.equal(opt(argv, '-g'), '24')
  assert.equal(opt(argv, '-keyint_min'), '24')
  assert.equal(opt(argv, '-bf'), '0')
  assert.equal(opt(argv, '-tune'), 'zerolatency')
  assert.equal(opt(argv, '-hls_time'), '0.24')
  assert.equal(opt(argv, '-hls_segment_type'), 'fmp4')
  assert.equal(opt(argv, '-hls_flags'), 'single_file+split_by_time+program_date_time')
  assert.equal(opt(argv, '-hls_list_size'), String(Math.ceil(60 / 0.24)))
  // Normal latency is what it was: a keyframe per segment, ffmpeg's segments are ours.
  const normal = toArgv(buildFfmpegArgs({ kind: 'testsrc' }, base))
  assert.equal(opt(normal, '-g'), '25')
  assert.equal(opt(normal, '-bf'), undefined)
  assert.equal(opt(normal, '-hls_flags'), 'single_file+independent_segments+program_date_time')
  assert.throws(() => buildFfmpegArgs({ kind: 'testsrc' }, { ...base, latency: 'low' }), (e: IngestError) => e.code === 'ERR_BAD_INPUT' && /fmp4/.test(e.message))
})
