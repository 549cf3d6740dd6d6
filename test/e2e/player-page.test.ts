// End to end: a real ffmpeg HLS stream served through the player app and played by a real
// Chromium with hls.js. Skips loudly when ffmpeg or Chromium is not installed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPlayerApp, startHttpServer } from '../../src/player/app.ts'
import { E2E_KEY, FFMPEG, FfmpegHlsLog } from './ffmpeg-hls-log.ts'

const CHROMIUM = '/usr/bin/chromium'
// Exactly the flags MEDIA.md lists: no outside hosts, autoplay without a gesture.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required', '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1']

async function until<T>(what: string, deadlineMs: number, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  const deadline = Date.now() + deadlineMs
  while (Date.now() < deadline) {
    const v = await probe()
    if (v) return v
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`timed out waiting for ${what}`)
}

test('the player page plays a real live HLS stream served by the app', { timeout: 180_000 }, async (t) => {
  const missing = [FFMPEG, CHROMIUM].filter((p) => !existsSync(p))
  if (missing.length) {
    const reason = `SKIPPED: ${missing.join(' and ')} not installed (apt-get install -y ffmpeg chromium)`
    console.warn(reason)
    t.skip(reason)
    return
  }
  const { chromium } = await import('playwright-core')
  // One ordered teardown (node:test runs after-hooks first-registered first): the browser, then
  // the server, then ffmpeg, and only then their directories, which they may still be writing.
  const cleanups: Array<() => unknown> = []
  t.after(async () => {
    for (const step of cleanups.reverse()) {
      try { await step() } catch (err) { console.warn('player e2e cleanup:', err) }
    }
  })
  const removeLater = (path: string) => cleanups.push(() => rmSync(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }))
  const dir = mkdtempSync(join(tmpdir(), 'cjp2p-player-e2e-'))
  removeLater(dir)
  // 45 s bounds ffmpeg even if close() were never reached; the test stops it sooner.
  const log = new FfmpegHlsLog(dir, 45)
  cleanups.push(() => log.close())
  await until('ffmpeg to write two segments', 30_000, async () => log.segmentCount() >= 2)
    .catch((err) => { throw new Error(`${err.message}; ffmpeg said: ${log.stderr.join('')}`) })

  const reports: unknown[] = []
  const app = createPlayerApp({
    streams: { list: () => [log], get: (id) => (id === log.id ? log : undefined) },
    status: () => ({ peers: { active: 0 }, streams: [{ id: log.id, bytesFromPeers: 0, bytesFromSource: 0 }] }),
    logger: { debug() {}, info() {}, warn: (m, f) => console.warn(m, f) },
    onPlaybackReport: (_id, r) => reports.push(r),
  })
  const server = await startHttpServer(app, { port: 0 })
  cleanups.push(() => server.close())

  const profile = mkdtempSync(join(tmpdir(), 'cjp2p-chromium-'))
  removeLater(profile)
  const browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true })
  cleanups.push(() => browser.close())
  const page = browser.pages()[0] ?? await browser.newPage()
  const consoleErrors: string[] = []
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()) })
  page.on('pageerror', (e) => consoleErrors.push(String(e)))
  await page.goto(`${server.url}/watch/stream/${E2E_KEY}/e2e`)

  type Probe = { time: number; fatal: string[]; hls: boolean; state: string; stalls: number; segments: number }
  const probe = async (): Promise<Probe> => ({
    ...await page.evaluate(() => {
      const p = (window as unknown as { cjp2pPlayer?: { hls: unknown; video: HTMLVideoElement; stats: { fatalErrors: string[]; state: string; stalls: number } } }).cjp2pPlayer
      return { time: p?.video.currentTime ?? 0, fatal: p?.stats.fatalErrors ?? [], hls: Boolean(p?.hls), state: p?.stats.state ?? 'no player', stalls: p?.stats.stalls ?? 0 }
    }),
    segments: log.segmentCount(),
  })
  const diagnose = (p: Probe) => `${JSON.stringify(p)}; console: ${consoleErrors.join(' | ') || 'clean'}`
  const first = await until('playback to start', 60_000, async () => {
    const p = await probe()
    return p.time > 0.5 ? p : null
  }).catch(async (err) => { throw new Error(`${err.message}: ${diagnose(await probe())}`) })
  const wallStart = Date.now()
  await until('six seconds of wall time', 20_000, async () => Date.now() - wallStart >= 6000)
  const later = await probe()

  mkdirSync('artifacts', { recursive: true })
  await page.screenshot({ path: 'artifacts/player.png', fullPage: true })

  assert.ok(first.hls, 'played through hls.js, not native HLS')
  // The segment counts in the message tell a slow encoder (a loaded machine) from a player fault.
  assert.ok(later.time - first.time >= 3, `currentTime advanced ${(later.time - first.time).toFixed(2)} s in ` +
    `${((Date.now() - wallStart) / 1000).toFixed(1)} s; from ${diagnose(first)} to ${diagnose(later)}`)
  assert.deepEqual(later.fatal, [], `no fatal hls.js error: ${diagnose(later)}`)
  const stats = await page.evaluate(() => (window as unknown as { cjp2pPlayer: { stats: Record<string, unknown> } }).cjp2pPlayer.stats)
  assert.equal(typeof stats.latency, 'number', `hls.latency is shown: ${JSON.stringify(stats)}`)
  assert.equal(typeof stats.pdtLatency, 'number', `program-date-time latency is shown: ${JSON.stringify(stats)}`)
  assert.equal(stats.peers, 0, `status.json was read: ${JSON.stringify(stats)}`)
})
