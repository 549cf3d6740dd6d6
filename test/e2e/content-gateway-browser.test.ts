// A Chromium <video> on the node's /watch/content/<id> page plays a file the node did not have and
// seeks to the middle while the file is still arriving. Screenshots before and after the seek land
// in artifacts/ (SHOTS_DIR overrides) for a person to look at; the seek time is a diagnostic.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../helpers/cli-process.ts'
import { launchChromium, missingForBrowser } from '../helpers/browser.ts'
import { MP4_SECONDS, makeMp4, startGateway, startSeeders } from '../helpers/gateway-swarm.ts'

const SHOTS = process.env.SHOTS_DIR ?? 'artifacts'
/** The gateway's downlink: about 12 s for the whole file, so the seek lands on missing bytes. */
const SLOW_BPS = 4_000_000

const missing = missingForBrowser()
test('content gateway: a Chromium <video> plays and seeks a file the node is still fetching', { timeout: 240_000, skip: missing ?? false }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-gateway-browser-')
  const seeders = await startSeeders(t, dir, await makeMp4())
  const g = await startGateway(t, join(dir, 'gateway'), seeders.udp, { bytesPerSecond: SLOW_BPS })
  const { page, consoleErrors } = await launchChromium(t)
  await page.goto(`${g.http}/watch/content/${seeders.id}?name=test.mp4`)
  const video = page.locator('video')
  await page.evaluate(() => { const v = document.querySelector('video')!; v.muted = true; void v.play() })
  await page.waitForFunction(() => document.querySelector('video')!.currentTime > 1, undefined, { timeout: 60_000 })
  mkdirSync(SHOTS, { recursive: true })
  await video.screenshot({ path: join(SHOTS, 'gateway-before-seek.png') })

  const target = MP4_SECONDS / 2
  const state = await (await fetch(`${g.http}/api/fetches/${seeders.id}`)).json() as { bytes: number; size: number }
  const t0 = Date.now()
  await page.evaluate((s) => { document.querySelector('video')!.currentTime = s }, target)
  await page.waitForFunction((s) => {
    const v = document.querySelector('video')!
    return !v.seeking && v.currentTime > s + 0.5 && v.readyState >= 3
  }, target, { timeout: 60_000 })
  const seekMs = Date.now() - t0
  await video.screenshot({ path: join(SHOTS, 'gateway-after-seek.png') })
  const after = await page.evaluate(() => { const v = document.querySelector('video')!; return { t: v.currentTime, paused: v.paused, error: v.error?.message ?? null } })
  t.diagnostic(`seek to ${target} s played ${seekMs} ms later; the node had ${state.bytes} of ${state.size} bytes when asked`)
  assert.equal(after.error, null)
  assert.equal(after.paused, false, 'still playing after the seek')
  assert.ok(after.t > target, `playing past the seek point (${after.t})`)
  assert.deepEqual(consoleErrors, [])
})
