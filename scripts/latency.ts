// `npm run latency`: glass-to-glass latency in Chromium (hls.js), measured as a viewer sees it.
// For each mode (`--latency low`, then `--latency normal` with 1 s segments) it starts a real
// source (`ingest testsrc`, real ffmpeg) and a chain of five relays, each started with `--peer` of
// the one before (the chain is asked for, not enforced: a relay may still learn of other peers).
// Chromium opens three player pages: the source's own, the relay two hops out and the one five
// hops out. The picture carries the source's wall clock burned in as a row of black/white blocks
// (src/ingest/clock-strip.ts) above the human one. Every few seconds, for each page, the blocks are
// read from the frame being shown (at a video frame callback: glass-to-glass = the browser clock
// at that frame's display time - the clock in its pixels), and a screenshot is saved and read too.
// Also: stalls after the first 5 s of playback, page load to first frame, and whether ffplay
// plays the same playlist. Screenshots go to a folder it prints. Run it under the heavy lock.
//
//   node --import tsx scripts/latency.ts [--samples 20] [--seconds 120] [--modes low,normal] [--out dir]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Page } from 'playwright-core'
import { PNG } from 'pngjs'
import { CHROMIUM, CHROMIUM_ARGS } from '../test/helpers/browser.ts'
import { CLOCK_BIT_WIDTH, CLOCK_BITS, CLOCK_STRIP_HEIGHT, clockStripToEpoch, readClockStrip } from '../src/ingest/clock-strip.ts'

const REPO = resolve(import.meta.dirname, '..')
const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback
}
const SAMPLES = Number(arg('samples', '20'))
const SECONDS = Number(arg('seconds', '120'))
const MODES = arg('modes', 'low,normal').split(',') as Array<'low' | 'normal'>
const RELAYS = 5
/** Hop counts whose pages are measured: 0 is the source's own page. */
const WATCHED_HOPS = [0, 2, 5]
/** Stalls in the first seconds after the first frame are start-up, not playback. */
const SETTLE_MS = 5000
const OUT = resolve(arg('out', join(REPO, 'artifacts', `latency-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}`)))

interface Started { udp: string; http: string; id: string; player?: string }
interface Node { proc: ChildProcess; info: Started; stderr: string[] }
/** g2g: from the frame-callback reading (exact display time); shot: from the screenshot (midpoint of
 * the browser clock around a capture that took captureMs). */
interface Sample { g2g: number | null; shot: number | null; captureMs: number; file: string }
interface Row {
  mode: string; hops: number; samples: Sample[]; startupMs: number | null; stallsAfter5s: number; jumps: number
  hlsLatency: number[]; ffplay: string
}

const children: ChildProcess[] = []
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN }
const quantile = (xs: number[], q: number) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] : NaN }

/** Starts the CLI from source and resolves with the first JSON line it prints. */
function startNode(args: string[], dataHome: string): Promise<Node> {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src', 'main.ts'), ...args], {
    cwd: REPO, env: { ...process.env, NO_COLOR: '1', XDG_DATA_HOME: dataHome }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  })
  children.push(proc)
  const stderr: string[] = []
  proc.stderr!.on('data', (d: Buffer) => { stderr.push(d.toString()); if (stderr.length > 200) stderr.shift() })
  return new Promise((resolvePromise, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`${args[0]} printed nothing in 60 s: ${stderr.join('').slice(-2000)}`)), 60_000)
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const line = out.split('\n').find((l) => l.startsWith('{'))
      if (line && out.includes('\n')) {
        clearTimeout(timer)
        resolvePromise({ proc, info: JSON.parse(line) as Started, stderr })
      }
    })
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${args[0]} exited ${code}: ${stderr.join('').slice(-2000)}`)) })
  })
}

function stopAll(): void {
  for (const p of children.splice(0)) if (p.exitCode === null && p.pid) { try { process.kill(-p.pid, 'SIGINT') } catch { /* gone */ } }
}

function playerUrl(node: Node): string {
  return node.info.player ?? `${node.info.http}/watch/${node.info.id}`
}

function playlistUrl(node: Node, id: string): string {
  return `${node.info.http}/streams/${id}/index.m3u8`
}

/** ffplay (FFmpeg's HLS demuxer, as mpv uses) plays 5 s of the same playlist headless. */
function ffplayPlays(url: string): string {
  const r = spawnSync('ffplay', ['-v', 'error', '-autoexit', '-nodisp', '-t', '5', url], { timeout: 30_000, encoding: 'utf8' })
  if (r.error) return `no (${r.error.message})`
  return r.status === 0 ? 'yes' : `no (exit ${r.status}: ${r.stderr.trim().split('\n').at(-1)})`
}

/** Two readings of the burned-in clock. First the exact one: in the page, at the next video frame
 * callback, the frame is drawn to a canvas and the browser's wall clock at its expected display
 * time is taken. Then a screenshot (for people, and as a cross-check): its pixels are read the same
 * way against the browser clock read before and after the capture, which on a busy machine can
 * take most of a second, so its error is up to half the capture time. */
async function sample(page: Page, file: string): Promise<Sample> {
  const frame = await page.evaluate(`new Promise((resolve) => {
    var v = document.querySelector('video')
    v.requestVideoFrameCallback(function (now, meta) {
      var c = document.createElement('canvas')
      c.width = ${CLOCK_BITS * CLOCK_BIT_WIDTH}; c.height = ${CLOCK_STRIP_HEIGHT}
      var g = c.getContext('2d')
      g.drawImage(v, 0, 0, c.width, c.height, 0, 0, c.width, c.height)
      var shownAt = Date.now() + (meta.expectedDisplayTime - performance.now())
      resolve({ shownAt: shownAt, rgba: Array.from(g.getImageData(0, 0, c.width, c.height).data) })
    })
  })`) as { shownAt: number; rgba: number[] }
  const frameMs = readClockStrip(Uint8Array.from(frame.rgba), CLOCK_BITS * CLOCK_BIT_WIDTH, 0, 0)
  const box = await page.locator('video').boundingBox()
  const before = await page.evaluate(() => Date.now())
  const png = await page.screenshot({ path: file })
  const after = await page.evaluate(() => Date.now())
  const img = PNG.sync.read(png)
  const shotMs = box ? readClockStrip(img.data, img.width, box.x, box.y) : null
  const mid = (before + after) / 2
  return {
    g2g: frameMs === null ? null : (frame.shownAt - clockStripToEpoch(frameMs, frame.shownAt)) / 1000,
    shot: shotMs === null ? null : (mid - clockStripToEpoch(shotMs, mid)) / 1000,
    captureMs: after - before, file,
  }
}

interface PageState { currentTime: number; stalls: number; jumps: number; latency: number | null; firstFrameMs: number | null }
const state = (page: Page): Promise<PageState> => page.evaluate(() => {
  const w = window as unknown as { cjp2pPlayer?: { hls: { latency: number } | null; video: HTMLVideoElement; stats: { stalls: number; liveJumps: number } }; firstFrameMs?: number }
  const p = w.cjp2pPlayer
  return {
    currentTime: p?.video.currentTime ?? 0, stalls: p?.stats.stalls ?? 0, jumps: p?.stats.liveJumps ?? 0, firstFrameMs: w.firstFrameMs ?? null,
    latency: p?.hls && Number.isFinite(p.hls.latency) ? p.hls.latency : null,
  }
})

async function runMode(mode: 'low' | 'normal', browser: import('playwright-core').BrowserContext, work: string): Promise<Row[]> {
  const dataHome = join(work, 'xdg')
  const flags = (dir: string) => ['--host', '127.0.0.1', '--port', '0', '--http-port', '0', '--dir', join(work, mode, dir), '--json']
  const source = await startNode(['ingest', 'testsrc', '--name', `latency-${mode}`, '--latency', mode, ...flags('source')], dataHome)
  const id = source.info.id
  const chain: Node[] = [source]
  for (let i = 1; i <= RELAYS; i++) chain.push(await startNode(['watch', id, '--peer', chain[i - 1].info.udp, ...flags(`relay${i}`)], dataHome))
  process.stdout.write(`${mode}: source and ${RELAYS} relays up (${id})\n`)
  // Every watched node lists a complete segment before the pages open (startup is the page's own).
  for (const hops of WATCHED_HOPS) {
    const deadline = Date.now() + 60_000
    for (;;) {
      const text = await fetch(playlistUrl(chain[hops], id)).then((r) => (r.ok ? r.text() : ''), () => '')
      if (text.includes('#EXTINF')) break
      if (Date.now() > deadline) throw new Error(`${mode}: hop ${hops} listed no segment in 60 s: ${chain[hops].stderr.join('').slice(-1500)}`)
      await sleep(250)
    }
  }

  const consoleLines: string[] = []
  const pages = await Promise.all(WATCHED_HOPS.map(async (hops) => {
    const page = await browser.newPage()
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') consoleLines.push(`hop ${hops}: ${m.text()}`) })
    page.on('pageerror', (e) => consoleLines.push(`hop ${hops}: ${String(e)}`))
    // Time from navigation start to the first frame the compositor shows.
    // (A string: tsx would wrap a named function in a helper the page does not have.)
    await page.addInitScript(`document.addEventListener('DOMContentLoaded', function arm () {
      var v = document.querySelector('video')
      if (!v) { requestAnimationFrame(arm); return }
      v.requestVideoFrameCallback(function () { window.firstFrameMs = performance.now() })
    })`)
    return page
  }))
  await Promise.all(pages.map((page, i) => page.goto(playerUrl(chain[WATCHED_HOPS[i]]))))
  // The picture at its native 640x360 in the screenshot, so the clock blocks are where we read them.
  await Promise.all(pages.map((page) => page.addStyleTag({ content: 'video { width: 640px !important; height: 360px !important; }' })))

  const startDeadline = Date.now() + 60_000
  while ((await Promise.all(pages.map(state))).some((s) => s.firstFrameMs === null || s.currentTime < 0.1)) {
    if (Date.now() > startDeadline) {
      const states = await Promise.all(pages.map((p) => p.evaluate(() => JSON.stringify({ ...(window as unknown as { cjp2pPlayer: { stats: object } }).cjp2pPlayer?.stats, firstFrameMs: (window as unknown as { firstFrameMs?: number }).firstFrameMs }))))
      throw new Error(`${mode}: a page did not start playing in 60 s: ${states.join(' | ')}\n${consoleLines.slice(-20).join('\n')}`)
    }
    await sleep(200)
  }
  const startups = (await Promise.all(pages.map(state))).map((s) => s.firstFrameMs)
  await sleep(SETTLE_MS)
  const stallsAtSettle = (await Promise.all(pages.map(state))).map((s) => s.stalls)

  const rows: Row[] = WATCHED_HOPS.map((hops, i) => ({ mode, hops, samples: [], startupMs: startups[i], stallsAfter5s: 0, jumps: 0, hlsLatency: [], ffplay: '' }))
  const every = (SECONDS * 1000) / SAMPLES
  const began = Date.now()
  for (let k = 0; k < SAMPLES; k++) {
    await sleep(Math.max(0, began + k * every - Date.now()))
    for (let i = 0; i < pages.length; i++) {
      const file = join(OUT, `${mode}-hop${WATCHED_HOPS[i]}-${String(k).padStart(2, '0')}.png`)
      rows[i].samples.push(await sample(pages[i], file))
      const s = await state(pages[i])
      if (s.latency !== null) rows[i].hlsLatency.push(s.latency)
    }
  }
  const ends = await Promise.all(pages.map(state))
  ends.forEach((s, i) => { rows[i].stallsAfter5s = s.stalls - stallsAtSettle[i]; rows[i].jumps = s.jumps })
  await Promise.all(pages.map((p) => p.close()))
  for (const row of rows) row.ffplay = ffplayPlays(playlistUrl(chain[row.hops], id))
  stopAll()
  await sleep(1500)
  return rows
}

function table(rows: Row[]): string {
  const head = ['mode', 'page', 'read', 'g2g median s', 'g2g p90 s', 'g2g max s', 'screenshot median s (capture ms)', 'stalls after 5 s', 'first frame ms', 'live jumps', 'hls.latency median s', 'ffplay plays']
  const body = rows.map((r) => {
    const g = r.samples.map((s) => s.g2g).filter((x): x is number => x !== null)
    const shots = r.samples.map((s) => s.shot).filter((x): x is number => x !== null)
    return [r.mode, r.hops === 0 ? 'source' : `${r.hops} relays out`, `${g.length}/${r.samples.length}`, median(g).toFixed(2), quantile(g, 0.9).toFixed(2),
      (g.length ? Math.max(...g) : NaN).toFixed(2), `${median(shots).toFixed(2)} (${median(r.samples.map((s) => s.captureMs)).toFixed(0)})`,
      String(r.stallsAfter5s), r.startupMs === null ? '-' : r.startupMs.toFixed(0), String(r.jumps), median(r.hlsLatency).toFixed(2), r.ffplay]
  })
  const all = [head, ...body]
  const w = head.map((_, i) => Math.max(...all.map((r) => r[i].length)))
  return all.map((r) => r.map((c, i) => c.padEnd(w[i])).join(' | ').trimEnd()).join('\n')
}

async function main(): Promise<void> {
  for (const need of [CHROMIUM, '/usr/bin/ffmpeg']) if (!existsSync(need)) throw new Error(`${need} is not installed (apt-get install -y ffmpeg chromium)`)
  await mkdir(OUT, { recursive: true })
  const work = await mkdtemp(join(tmpdir(), 'cjp2p-latency-'))
  const profile = await mkdtemp(join(tmpdir(), 'cjp2p-latency-chromium-'))
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, viewport: { width: 800, height: 900 } })
  const rows: Row[] = []
  try {
    for (const mode of MODES) rows.push(...await runMode(mode, browser, work))
  } finally {
    stopAll()
    await browser.close().catch(() => {})
    await rm(profile, { recursive: true, force: true })
    await sleep(1000)
    await rm(work, { recursive: true, force: true })
  }
  const text = `glass-to-glass in Chromium + hls.js, ${SAMPLES} samples over ${SECONDS} s per page: the browser clock when a frame is shown - the source clock burned into it\n` +
    `${table(rows)}\nscreenshots: ${OUT}\n`
  await writeFile(join(OUT, 'latency.txt'), text)
  await writeFile(join(OUT, 'latency.json'), JSON.stringify(rows, null, 2))
  process.stdout.write(text)
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { stopAll(); process.exit(130) })
main().catch((err: unknown) => {
  stopAll()
  process.stderr.write(`latency: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
