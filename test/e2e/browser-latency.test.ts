// Browser end to end, real processes: `ingest testsrc` -> viewer1 -> viewer2, and Chromium plays
// viewer2's /watch/ page (two hops from the source). The video must play (currentTime advances at
// least 8 s in 10 s of wall time, no fatal hls.js error). The test reports latency three ways:
// hls.latency, program date time (Date.now() - hls.playingDate), and a screenshot of the picture,
// whose burned-in source wall clock can be read against the browser clock saved beside it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { REPO, startCli, tempDir, until, loopbackFlags, sleep } from '../helpers/cli-process.ts'
import { launchChromium, missingForBrowser } from '../helpers/browser.ts'
import { playlist } from './live-stream-tools.ts'

interface Started { udp: string; http: string; id: string; player?: string }
interface Sample { wall: number; time: number; latency: number | null; pdt: number | null; fatal: string[]; buffer: number; playingDate: number | null }

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN }

test('Chromium plays a stream two hops from the source, and the latency is measured', { timeout: 150_000 }, async (t) => {
  const missing = missingForBrowser()
  if (missing) { console.warn(`SKIPPED: ${missing}`); t.skip(missing); return }
  const dir = await tempDir(t, 'cjp2p-latency-')
  const source = startCli(t, ['ingest', 'testsrc', '--name', 'latency', '--json', ...loopbackFlags(join(dir, 'source'))])
  const src = await source.firstJson<Started>()
  const v1 = await startCli(t, ['watch', src.id, '--peer', src.udp, '--json', ...loopbackFlags(join(dir, 'viewer1'))]).firstJson<Started>()
  const viewer2 = startCli(t, ['watch', src.id, '--peer', v1.udp, '--json', ...loopbackFlags(join(dir, 'viewer2'))])
  const v2 = await viewer2.firstJson<Started>()
  await until('viewer2 to list 2 verified segments', 40_000, async () => ((await playlist(v2.http, src.id))?.segments.length ?? 0) >= 2)
    .catch((err) => { throw new Error(`${err.message}\n${viewer2.stderr.slice(-3000)}`) })

  const { page, consoleErrors } = await launchChromium(t)
  await page.goto(v2.player!)
  const sample = (): Promise<Sample> => page.evaluate(() => {
    const p = (window as unknown as { cjp2pPlayer?: { hls: { latency: number; playingDate: Date | null } | null; video: HTMLVideoElement; stats: { fatalErrors: string[] } } }).cjp2pPlayer
    const v = p?.video
    const buffered = v && v.buffered.length ? v.buffered.end(v.buffered.length - 1) - v.currentTime : 0
    const pd = p?.hls?.playingDate?.getTime() ?? null
    return {
      wall: Date.now(), time: v?.currentTime ?? 0, fatal: p?.stats.fatalErrors ?? ['no player'], buffer: buffered,
      latency: p?.hls && Number.isFinite(p.hls.latency) ? p.hls.latency : null, pdt: pd === null ? null : (Date.now() - pd) / 1000, playingDate: pd,
    }
  })
  const first = await until('playback to start', 60_000, async () => { const s = await sample(); return s.time > 0.5 ? s : null })
    .catch(async (err) => { throw new Error(`${err.message}: ${JSON.stringify(await sample())} console: ${consoleErrors.join(' | ')}`) })

  // Ten seconds of wall time, sampled every half second.
  const samples: Sample[] = [first]
  while (Date.now() - first.wall < 10_000) {
    await sleep(500)
    samples.push(await sample())
  }
  const last = samples.at(-1)!
  const wall = (last.wall - first.wall) / 1000
  const played = last.time - first.time

  // The screenshot: the browser clock is read right before and after the capture.
  await mkdir(join(REPO, 'artifacts'), { recursive: true })
  const before = await sample()
  await page.locator('video').screenshot({ path: join(REPO, 'artifacts', 'glass-to-glass.png') })
  const after = await sample()
  const iso = (ms: number | null) => (ms === null ? 'unknown' : new Date(ms).toISOString())
  // What the burned clock should read if PDT latency were the whole story: playingDate at capture.
  const report = [
    `browser Date.now() at capture: ${iso(before.wall)} .. ${iso(after.wall)} (UTC)`,
    `hls.playingDate at capture:    ${iso(before.playingDate)} .. ${iso(after.playingDate)}`,
    `hls.latency at capture: ${before.latency?.toFixed(3)} s; program-date-time latency: ${before.pdt?.toFixed(3)} s`,
    'glass-to-glass = browser clock - the clock burned into the picture (bottom left, UTC)',
  ].join('\n') + '\n'
  await writeFile(join(REPO, 'artifacts', 'glass-to-glass.txt'), report)

  const lat = samples.map((s) => s.latency).filter((x): x is number => x !== null)
  const pdt = samples.map((s) => s.pdt).filter((x): x is number => x !== null)
  t.diagnostic(`played ${played.toFixed(2)} s of video in ${wall.toFixed(2)} s of wall time; buffer ${last.buffer.toFixed(2)} s`)
  t.diagnostic(`hls.latency median ${median(lat).toFixed(2)} s (min ${Math.min(...lat).toFixed(2)}, max ${Math.max(...lat).toFixed(2)})`)
  t.diagnostic(`program-date-time latency median ${median(pdt).toFixed(2)} s (min ${Math.min(...pdt).toFixed(2)}, max ${Math.max(...pdt).toFixed(2)})`)
  t.diagnostic(report.trim().replace(/\n/g, ' | '))

  assert.ok(played >= 8, `currentTime advanced ${played.toFixed(2)} s over ${wall.toFixed(2)} s of wall time`)
  assert.deepEqual(last.fatal, [], 'no fatal hls.js error')
  assert.ok(lat.length > 0 && pdt.length > 0, 'hls.latency and program date time were both available')
  // Loose on purpose (a busy 2-core machine), tight enough to catch a player stuck far behind.
  assert.ok(median(pdt) < 10, `program-date-time latency ${median(pdt).toFixed(2)} s`)
})
