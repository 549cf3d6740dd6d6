// Real players against a live node over HTTP, both formats: ffprobe and `ffmpeg -i <playlist URL>`
// (FFmpeg's HLS demuxer, the one ffplay and mpv use, refuses segment URIs without a media extension),
// mpv itself, and a viewer's MEDIA-SEQUENCE polled across the end of the stream (it must never go
// back: it once went from 659 to 0 when the stream ended).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { startCli, tempDir, until, loopbackFlags, sleep } from '../helpers/cli-process.ts'
import { FFPROBE, playlist } from './live-stream-tools.ts'

const run = promisify(execFile)
const FFMPEG = '/usr/bin/ffmpeg'
const MPV = '/usr/bin/mpv'

interface Started { udp: string; http: string; id: string }

/** Starts `ingest testsrc --format <format>` and waits for a playlist with a few segments. */
async function liveSource(t: Parameters<typeof startCli>[0], dir: string, format: 'ts' | 'fmp4') {
  const source = startCli(t, ['ingest', 'testsrc', '--name', `players-${format}`, '--format', format, '--bitrate', '600k', '--json',
    ...loopbackFlags(join(dir, format))])
  const src = await source.firstJson<Started>()
  await until(`${format}: 4 segments in the playlist`, 60_000, async () => ((await playlist(src.http, src.id))?.segments.length ?? 0) >= 4)
  return { source, ...src, url: `${src.http}/streams/${src.id}/index.m3u8` }
}

const missing = [FFMPEG, FFPROBE].filter((p) => !existsSync(p))

for (const format of ['ts', 'fmp4'] as const) {
  test(`${format}: ffprobe, ffmpeg and mpv play the live playlist URL`, { timeout: 150_000 }, async (t) => {
    if (missing.length) { console.warn(`SKIPPED: ${missing.join(', ')} not installed (apt-get install -y ffmpeg)`); t.skip('no ffmpeg'); return }
    const dir = await tempDir(t, 'cjp2p-players-')
    const { url } = await liveSource(t, dir, format)

    const probe = await run(FFPROBE, ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', url], { timeout: 60_000 })
    console.log(`ffprobe ${format}: ${JSON.stringify(probe.stdout.trim().split('\n'))} stderr=${JSON.stringify(probe.stderr.trim())}`)
    assert.deepEqual([...new Set(probe.stdout.trim().split('\n').map((l) => l.trim()).filter(Boolean))].sort(), ['aac', 'h264'])
    assert.equal(probe.stderr.trim(), '')

    const decode = await run(FFMPEG, ['-hide_banner', '-v', 'error', '-stats', '-i', url, '-t', '5', '-f', 'null', '-'], { timeout: 90_000 })
    const stats = decode.stderr.split(/[\r\n]/).filter((l) => l.includes('time=')).at(-1) ?? ''
    console.log(`ffmpeg -i ${format}: ${stats.trim()}`)
    assert.doesNotMatch(decode.stderr, /allowed_segment_extensions|Invalid data/)
    const [, hh, mm, ss] = /time=(\d+):(\d+):([\d.]+)/.exec(stats) ?? []
    assert.ok(Number(hh) * 3600 + Number(mm) * 60 + Number(ss) >= 4.5, `decoded 5 s: ${stats}`)

    if (!existsSync(MPV)) { console.warn('mpv not installed: its check is SKIPPED'); return }
    const mpv = await run(MPV, ['--no-config', '--vo=null', '--ao=null', '--length=3', '--msg-level=all=info', url], { timeout: 60_000 })
    const out = mpv.stdout + mpv.stderr
    console.log(`mpv ${format}: ${out.split(/[\r\n]/).filter((l) => /Video|Audio|Exiting/.test(l)).map((l) => l.trim()).join(' | ')}`)
    assert.match(out, /\(\+\) Video --vid=1 .*h264/)
    assert.match(out, /\(\+\) Audio --aid=1 .*aac/)
    assert.match(out, /Exiting\.\.\. \(End of file\)/)
  })
}

test('a viewer\'s MEDIA-SEQUENCE never goes back, across the end of the stream', { timeout: 150_000 }, async (t) => {
  if (missing.length) { console.warn(`SKIPPED: ${missing.join(', ')} not installed (apt-get install -y ffmpeg)`); t.skip('no ffmpeg'); return }
  const dir = await tempDir(t, 'cjp2p-players-')
  const src = await liveSource(t, dir, 'ts')
  const viewer = startCli(t, ['watch', src.id, '--peer', src.udp, '--json', ...loopbackFlags(join(dir, 'viewer'))])
  const v = await viewer.firstJson<Started>()
  const seen: number[] = []
  let ended = false
  const poll = (async () => {
    const deadline = Date.now() + 90_000
    while (!ended && Date.now() < deadline) {
      const p = await playlist(v.http, src.id).catch(() => null)
      if (p && p.segments.length > 0) {
        seen.push(p.mediaSequence)
        ended = p.ended
      }
      await sleep(100)
    }
  })()
  await until('the viewer lists 8 segments past the start', 60_000, () => (seen.at(-1) ?? 0) >= 8)
  const exit = await src.source.stop('SIGINT')
  await poll
  assert.equal(exit.code, 0, 'Ctrl-C ends the source cleanly')
  assert.doesNotMatch(src.source.stderr, /^(warn|error): /m, 'Ctrl-C prints no warning (it used to log a spurious "missing #EXTM3U")')
  assert.ok(ended, `the viewer's playlist reached ENDLIST (sequences seen: ${seen.slice(-5).join(', ')})`)
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i] >= seen[i - 1], `MEDIA-SEQUENCE went from ${seen[i - 1]} to ${seen[i]}`)
  assert.ok(seen.at(-1)! >= 8, `the final playlist starts at ${seen.at(-1)}, not back at 0`)
})
