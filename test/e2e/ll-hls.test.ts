// Low latency end to end, real processes: `ingest testsrc --latency low` -> relay 1 -> relay 2, and
// relay 2's one playlist serves both kinds of player: Chromium (hls.js in lowLatencyMode, loading
// EXT-X-PART byte ranges with blocking reloads) plays it, and FFmpeg's HLS demuxer (ffprobe, ffplay,
// which know nothing of parts) reads and plays its whole segments. Latency figures are not asserted
// here (a busy machine); `npm run latency` measures them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { join } from 'node:path'
import { startCli, tempDir, until, loopbackFlags, sleep } from '../helpers/cli-process.ts'
import { launchChromium, missingForBrowser } from '../helpers/browser.ts'
import { FFPROBE } from './live-stream-tools.ts'

const run = promisify(execFile)
interface Started { udp: string; http: string; id: string; player?: string }

test('Chromium plays a low-latency stream two relays out, and ffprobe and ffplay read the same playlist', { timeout: 200_000 }, async (t) => {
  const missing = missingForBrowser()
  if (missing) { console.warn(`SKIPPED: ${missing}`); t.skip(missing); return }
  const dir = await tempDir(t, 'cjp2p-llhls-')
  const src = await startCli(t, ['ingest', 'testsrc', '--name', 'llhls', '--latency', 'low', '--json', ...loopbackFlags(join(dir, 'source'))]).firstJson<Started>()
  const r1 = await startCli(t, ['watch', src.id, '--peer', src.udp, '--json', ...loopbackFlags(join(dir, 'relay1'))]).firstJson<Started>()
  const relay2 = startCli(t, ['watch', src.id, '--peer', r1.udp, '--json', ...loopbackFlags(join(dir, 'relay2'))])
  const r2 = await relay2.firstJson<Started>()
  const url = `${r2.http}/streams/${src.id}/index.m3u8`
  const text = await until('relay 2 to list two complete segments and their parts', 60_000, async () => {
    const body = await fetch(url).then((r) => (r.ok ? r.text() : ''), () => '')
    return (body.match(/#EXTINF/g) ?? []).length >= 2 ? body : null
  }).catch((err) => { throw new Error(`${err.message}\n${relay2.stderr.slice(-3000)}`) })

  // The LL-HLS playlist of an fMP4 stream, parts as byte ranges of the one media file.
  assert.match(text, /#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0\.720/)
  assert.match(text, /#EXT-X-PART-INF:PART-TARGET=0\.240/)
  assert.match(text, /#EXT-X-MAP:URI="init\.mp4",BYTERANGE="\d+@0"/)
  assert.match(text, /#EXT-X-PART:DURATION=0\.24000,URI="media\.m4s",BYTERANGE="\d+@\d+",INDEPENDENT=YES/)
  // Every segment starts with a keyframe part: the source read that from the fragments.
  assert.match(text, /#EXT-X-INDEPENDENT-SEGMENTS/)

  // A blocking reload for the next part is answered once it exists (well within the 3 s bound).
  const msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)![1]) + (text.match(/#EXTINF/g) ?? []).length
  const asked = Date.now()
  const blocked = await fetch(`${url}?_HLS_msn=${msn}&_HLS_part=3`)
  assert.equal(blocked.status, 200)
  assert.ok(Date.now() - asked < 3000, `a blocked reload took ${Date.now() - asked} ms`)
  const reloaded = await blocked.text()
  assert.ok(reloaded.includes('#EXTINF') && new RegExp(`#EXT-X-MEDIA-SEQUENCE:\\d+`).test(reloaded))

  // FFmpeg's HLS demuxer ignores the part tags and reads the whole segments.
  const probe = await run(FFPROBE, ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name', '-of', 'json', url], { timeout: 60_000 })
  const streams = (JSON.parse(probe.stdout) as { streams: Array<{ codec_type: string; codec_name: string }> }).streams
  assert.deepEqual(streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort(), ['audio:aac', 'video:h264'])
  await run('/usr/bin/ffplay', ['-v', 'error', '-autoexit', '-nodisp', '-t', '3', url], { timeout: 60_000 })

  // Chromium: hls.js in low-latency mode, playing.
  const { page, consoleErrors } = await launchChromium(t)
  await page.goto(r2.player ?? `${r2.http}/watch/${src.id}`)
  const state = () => page.evaluate(() => {
    const p = (window as unknown as { cjp2pPlayer?: { hls: { config: { lowLatencyMode: boolean }; latency: number } | null; video: HTMLVideoElement; stats: { fatalErrors: string[] }; lowLatency: boolean } }).cjp2pPlayer
    return { time: p?.video.currentTime ?? 0, low: p?.lowLatency ?? false, mode: p?.hls?.config.lowLatencyMode ?? null,
      latency: p?.hls && Number.isFinite(p.hls.latency) ? p.hls.latency : null, fatal: p?.stats.fatalErrors ?? ['no player'], wall: Date.now() }
  })
  const first = await until('playback to start', 60_000, async () => { const s = await state(); return s.time > 0.3 ? s : null })
    .catch(async (err) => { throw new Error(`${err.message}: ${JSON.stringify(await state())} console: ${consoleErrors.join(' | ')}`) })
  await sleep(10_000)
  const last = await state()
  const played = last.time - first.time
  const wall = (last.wall - first.wall) / 1000
  t.diagnostic(`played ${played.toFixed(2)} s in ${wall.toFixed(2)} s; hls.latency ${last.latency?.toFixed(2)} s`)
  assert.equal(last.low, true, 'the page saw EXT-X-PART-INF')
  assert.equal(last.mode, true, 'hls.js runs in lowLatencyMode')
  assert.ok(played >= 8, `currentTime advanced ${played.toFixed(2)} s over ${wall.toFixed(2)} s`)
  assert.deepEqual(last.fatal, [])
  // Loose (a busy 2-core machine), tight enough to catch a player that is not using parts at all.
  assert.ok(last.latency !== null && last.latency < 4, `hls.latency ${last.latency}`)
})
