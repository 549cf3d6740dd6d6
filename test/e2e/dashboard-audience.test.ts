// End to end: a live swarm (real ffmpeg testsrc, real UDP on loopback, AUDIENCE_VIEWERS viewers,
// default 6), the source's audience telemetry. The source alone must count every viewer (no
// status of any viewer is read), `status --audience` must print it, and the source's /dashboard in
// headless Chromium must show it, with the last hour kept by the node across a reload. The
// screenshot is kept as a test artifact (artifacts/dashboard-audience.png).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { CHROMIUM, FFMPEG_BIN, missingTools, openChromiumPage, startLiveSwarm } from './dashboard-swarm.ts'

const skip = missingTools([FFMPEG_BIN, CHROMIUM])
if (skip) console.warn(`\n*** ${skip} ***\n`)
const VIEWERS = Number(process.env.AUDIENCE_VIEWERS ?? 6)

async function until<T>(what: string, deadlineMs: number, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, describe?: () => string): Promise<T> {
  const deadline = Date.now() + deadlineMs
  while (Date.now() < deadline) {
    const v = await probe()
    if (v) return v
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`timed out waiting for ${what}${describe ? ': ' + describe() : ''}`)
}

test(`the source counts its ${VIEWERS} viewers up the tree, prints them and draws them`, { skip: skip ?? false, timeout: 240_000 }, async (t) => {
  const swarm = await startLiveSwarm(VIEWERS)
  t.after(() => swarm.close())
  // The dashboard must not lean on viewers' HTTP endpoints: the source reads none.
  swarm.source.dashboardPeers = []
  const source = swarm.source.streams.list()[0]
  const joinedAt = Date.now()
  // The count climbs at once (counts alone); delays come with the full summaries, a few seconds later.
  const audience = await until(`the source to count ${VIEWERS} viewers, with their delays`, 120_000, () => {
    const a = source.status().audience
    return a.viewers === VIEWERS && a.delayMs.p50 !== null ? a : null
  }, () => JSON.stringify(source.status().audience).slice(0, 600))
  t.diagnostic(`counted ${VIEWERS} viewers ${((Date.now() - joinedAt) / 1000).toFixed(1)} s after the last joined; depths ${JSON.stringify(audience.byDepth)}`)
  assert.equal(audience.byDepth.reduce((a, b) => a + b, 0), VIEWERS)
  assert.equal(audience.suspect, 0)
  assert.ok(audience.kids.length >= 1, 'the top of the tree is listed by address')

  const port = new URL(swarm.source.httpUrl!).port
  // Asynchronously: the source's HTTP server lives in this process and must keep answering.
  const cli = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/main.ts', 'status', '--audience', '--http-port', port], { encoding: 'utf8', timeout: 30_000 })
  assert.match(cli.stdout, new RegExp(`audience: ${VIEWERS} viewers`))
  assert.match(cli.stdout, /delay {6}p50 \d+ ms {2}p95 \d+/)
  t.diagnostic(cli.stdout)

  const page = await openChromiumPage(t)
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(String(e)))
  page.on('response', (r) => { if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) errors.push(`${r.status()} ${r.url()}`) })
  await page.goto(`${swarm.source.httpUrl}/dashboard`)
  const shown = () => page.evaluate(() => ({
    viewers: document.querySelector('#a-viewers .value')?.textContent,
    tree: document.querySelectorAll('#aud-tree .tree-node').length,
    history: document.querySelectorAll('#aud-history svg path').length,
    tiles: ['t-nodes', 't-offload', 't-delay', 't-stalls'].map((id) => document.querySelector(`#${id} .value`)?.textContent + ' | ' + document.querySelector(`#${id} .hint`)?.textContent),
  }))
  // Two history points (one every 10 s) make a line.
  await until('the audience card with a history line', 60_000, async () => {
    const s = await shown()
    return s.viewers === String(VIEWERS) && s.tree >= 1 && s.history >= 1 ? s : null
  }, () => errors.join(' | '))
  // The top tiles see the swarm through the telemetry too (the source reads no viewer's status):
  // the viewers, and their offload and delay, not "no viewer's status is readable here".
  const tiles = await until('the top tiles from the audience', 20_000, async () => {
    const s = await shown()
    // Offload and delay read '–' until the window holds reported bytes and delays (CI once read the
    // offload tile in that moment, the viewers' count already in).
    return s.tiles[0].startsWith(`${VIEWERS} | viewers counted up the tree`) && !s.tiles[1].startsWith('–') && !s.tiles[2].startsWith('–') ? s.tiles : null
  }, () => JSON.stringify(errors))
  t.diagnostic(`tiles: ${tiles.join(' ; ')}`)
  for (const text of tiles) assert.doesNotMatch(text, /status is readable/)
  assert.match(tiles[1], /^\d+(\.\d)? % \| of what \d+ viewers received came from other viewers/)
  // The history lives in the node: a fresh page draws it at once.
  await page.reload()
  const again = await until('the history after a reload', 10_000, async () => { const s = await shown(); return s.history >= 1 ? s : null })
  assert.ok(again.history >= 1)
  assert.deepEqual(errors, [])
  mkdirSync(process.env.SHOTS_DIR ?? 'artifacts', { recursive: true })
  await page.screenshot({ path: join(process.env.SHOTS_DIR ?? 'artifacts', 'dashboard-audience.png'), fullPage: true })
})
