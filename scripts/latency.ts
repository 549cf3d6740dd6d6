// `npm run latency`: glass-to-glass latency in Chromium (hls.js), measured as a viewer sees it.
// For each mode (`--latency low`, then `--latency normal` with 1 s segments) it starts a real
// source (`ingest testsrc`, real ffmpeg) and a chain of five relays, each started with `--peer` of
// the one before (the chain is asked for, not enforced: a relay may still learn of other peers).
// Chromium opens three player pages: the source's own, the relay two hops out and the one five
// hops out. The picture carries the source's wall clock burned in as a row of black/white blocks
// (src/ingest/clock-strip.ts) above the human one. Every few seconds, for each page, the blocks are
// read from the frame being shown (at a video frame callback: glass-to-glass = the browser clock
// at that frame's display time - the clock in its pixels), and a screenshot is saved and read too.
// Also: stalls after the first 5 s of playback, page load to first frame (the pages open one at
// a time, each in the front tab once the one before plays), and whether ffplay
// plays the same playlist. Screenshots go to a folder it prints. Run it under the heavy lock.
//
// A mode written `low@<git ref>` runs the same with the player page (src/player/static/player.js)
// of that ref, served in place of this one: before/after of a player change in one run.
//
//   node --import tsx scripts/latency.ts [--samples 20] [--seconds 120] [--modes low,normal,low@main] [--out dir]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Page } from 'playwright-core'
import { PNG } from 'pngjs'
import { CHROMIUM, CHROMIUM_ARGS } from '../test/helpers/browser.ts'
import { CLOCK_BIT_WIDTH, CLOCK_BITS, CLOCK_STRIP_HEIGHT, clockStripToEpoch, readClockStrip } from '../src/ingest/clock-strip.ts'
import { numberFlag, orExitUsage, scriptFlags } from './script-args.ts'
import { FRAME_PART, ListingsWorker, PAGE_HOOK, STARTUP_STEPS, TERMS, breakdown, listingDelays, type Breakdown, type FramePart, type PageTimes } from './latency-breakdown.ts'

const REPO = resolve(import.meta.dirname, '..')
const flags = scriptFlags('latency', 'npm run latency [-- --samples 20] [--seconds 120] [--modes low,normal,low@main] [--out dir]   (run it under the heavy lock)', {
  samples: { type: 'string' }, seconds: { type: 'string' }, modes: { type: 'string', default: 'low,normal' }, out: { type: 'string' },
})
const SAMPLES = orExitUsage('latency', () => numberFlag('samples', flags.samples, 20, 1, 10_000, true))
const SECONDS = orExitUsage('latency', () => numberFlag('seconds', flags.seconds, 120, 10, 3600))
const MODES = flags.modes.split(',')
const RELAYS = 5
/** Hop counts whose pages are measured: 0 is the source's own page. */
const WATCHED_HOPS = [0, 2, 5]
/** Stalls in the first seconds after the first frame are start-up, not playback. */
const SETTLE_MS = 5000
const OUT = resolve(flags.out ?? join(REPO, 'artifacts', `latency-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}`))

interface Started { udp: string; http: string; id: string; player?: string }
interface Node { proc: ChildProcess; info: Started; stderr: string[] }
/** g2g: from the frame-callback reading (exact display time); shot: from the screenshot (midpoint of
 * the browser clock around a capture that took captureMs). */
interface Sample { g2g: number | null; shot: number | null; captureMs: number; file: string; clock: number | null; shownAt: number; part: FramePart | null }
interface Row {
  mode: string; hops: number; samples: Sample[]; startupMs: number | null; stallsAfter5s: number; stallSecondsAfter5s: number; jumps: number
  hlsLatency: number[]; ffplay: string
  /** Low latency: where each sampled frame's latency went (latency-breakdown.ts). */
  terms: Breakdown[]
  /** Page load to each start-up step, ms (latency-breakdown.ts STARTUP_STEPS). */
  startup: Record<string, number>
}
/** Low latency: per relay hop, how much later than the source it listed each part (ms). */
interface HopDelays { mode: string; hops: number; delays: number[]; verified: VerifiedDelay | null }
/** A relay's own figures (status.json): chunk signed at the source -> verified here (ms, over
 * its recent chunks), and the chunks it received by how many hops they came. */
interface VerifiedDelay { p50: number; p95: number; max: number; hops: Record<string, number> }

async function verifiedDelay(node: Node): Promise<VerifiedDelay | null> {
  const status = await fetch(`${node.info.http}/status.json`).then((r) => r.json() as Promise<{ streams?: Array<{ delayMs: VerifiedDelay; hops: Record<string, number> }> }>, () => null)
  const s = status?.streams?.[0]
  return s ? { p50: s.delayMs.p50, p95: s.delayMs.p95, max: s.delayMs.max, hops: s.hops } : null
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
    ${FRAME_PART}
    v.requestVideoFrameCallback(function (now, meta) {
      var c = document.createElement('canvas')
      c.width = ${CLOCK_BITS * CLOCK_BIT_WIDTH}; c.height = ${CLOCK_STRIP_HEIGHT}
      var g = c.getContext('2d')
      g.drawImage(v, 0, 0, c.width, c.height, 0, 0, c.width, c.height)
      var shownAt = Date.now() + (meta.expectedDisplayTime - performance.now())
      resolve({ shownAt: shownAt, part: framePart(meta.mediaTime), rgba: Array.from(g.getImageData(0, 0, c.width, c.height).data) })
    })
  })`) as { shownAt: number; part: FramePart | null; rgba: number[] }
  const frameMs = readClockStrip(Uint8Array.from(frame.rgba), CLOCK_BITS * CLOCK_BIT_WIDTH, 0, 0)
  const box = await page.locator('video').boundingBox()
  const before = await page.evaluate(() => Date.now())
  const png = await page.screenshot({ path: file })
  const after = await page.evaluate(() => Date.now())
  const img = PNG.sync.read(png)
  const shotMs = box ? readClockStrip(img.data, img.width, box.x, box.y) : null
  const mid = (before + after) / 2
  const clock = frameMs === null ? null : clockStripToEpoch(frameMs, frame.shownAt)
  return {
    clock, shownAt: frame.shownAt, part: frame.part,
    g2g: clock === null ? null : (frame.shownAt - clock) / 1000,
    shot: shotMs === null ? null : (mid - clockStripToEpoch(shotMs, mid)) / 1000,
    captureMs: after - before, file,
  }
}

interface PageState { currentTime: number; stalls: number; stallSeconds: number; jumps: number; latency: number | null; firstFrameMs: number | null }
const state = (page: Page): Promise<PageState> => page.evaluate(() => {
  const w = window as unknown as { cjp2pPlayer?: { hls: { latency: number } | null; video: HTMLVideoElement; stats: { stalls: number; stallSeconds: number; liveJumps: number } }; firstFrameMs?: number }
  const p = w.cjp2pPlayer
  return {
    currentTime: p?.video.currentTime ?? 0, stalls: p?.stats.stalls ?? 0, stallSeconds: p?.stats.stallSeconds ?? 0, jumps: p?.stats.liveJumps ?? 0, firstFrameMs: w.firstFrameMs ?? null,
    latency: p?.hls && Number.isFinite(p.hls.latency) ? p.hls.latency : null,
  }
})

/** A mode's latency flag, and the player page it runs (null: this checkout's). */
function parseMode(mode: string): { latency: 'low' | 'normal'; playerJs: string | null } {
  const [latency, ref] = mode.split('@')
  if (latency !== 'low' && latency !== 'normal') throw new Error(`--modes: ${mode} is not low, normal, low@<ref> or normal@<ref>`)
  if (!ref) return { latency, playerJs: null }
  const r = spawnSync('git', ['show', `${ref}:src/player/static/player.js`], { cwd: REPO, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`--modes: no player page at ${ref}: ${r.stderr.trim()}`)
  return { latency, playerJs: r.stdout }
}

async function runMode(mode: string, browser: import('playwright-core').BrowserContext, work: string, hopDelays: HopDelays[]): Promise<Row[]> {
  const { latency, playerJs } = parseMode(mode)
  const dataHome = join(work, 'xdg')
  const dirName = mode.replace(/[^a-z0-9]+/gi, '-')
  const flags = (dir: string) => ['--host', '127.0.0.1', '--port', '0', '--http-port', '0', '--dir', join(work, dirName, dir), '--json']
  const source = await startNode(['ingest', 'testsrc', '--name', `latency-${dirName}`, '--latency', latency, ...flags('source')], dataHome)
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

  // Every node's playlist, followed as hls.js follows it, to time each part's listing hop by hop.
  const poller = latency === 'low' ? new ListingsWorker(chain.map((n) => playlistUrl(n, id))) : null

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
    await page.addInitScript(PAGE_HOOK)
    if (playerJs !== null) await page.route('**/static/player.js', (route) => route.fulfill({ body: playerJs, contentType: 'text/javascript' }))
    return page
  }))
  // One page at a time, each once the one before plays, as viewers arrive: three pages loading
  // at once on 2 cores timed Chromium starting three renderers and decoders, not our start-up.
  for (const [i, page] of pages.entries()) {
    // A viewer opens the page in the tab they look at. Chromium draws a tab that is not in front
    // late: its first frame came 0.8-1 s after the video played, where a tab in front drew it
    // within 12 ms (the 1.5-1.6 s first frames of earlier runs were that; issue #14).
    await page.bringToFront()
    await page.goto(playerUrl(chain[WATCHED_HOPS[i]]))
    // The picture at its native 640x360 in the screenshot, so the clock blocks are where we read them.
    await page.addStyleTag({ content: 'video { width: 640px !important; height: 360px !important; }' })
    const startDeadline = Date.now() + 60_000
    for (let s = await state(page); s.firstFrameMs === null || s.currentTime < 0.1; s = await state(page)) {
      if (Date.now() > startDeadline) {
        const stats = await page.evaluate(() => JSON.stringify({ ...(window as unknown as { cjp2pPlayer: { stats: object } }).cjp2pPlayer?.stats, firstFrameMs: (window as unknown as { firstFrameMs?: number }).firstFrameMs }))
        throw new Error(`${mode}: the page ${WATCHED_HOPS[i]} relays out did not start playing in 60 s: ${stats}\n${consoleLines.slice(-20).join('\n')}`)
      }
      await sleep(100)
    }
  }
  const startups = (await Promise.all(pages.map(state))).map((s) => s.firstFrameMs)
  await sleep(SETTLE_MS)
  const atSettle = await Promise.all(pages.map(state))

  const rows: Row[] = WATCHED_HOPS.map((hops, i) => ({ mode, hops, samples: [], startupMs: startups[i], stallsAfter5s: 0, stallSecondsAfter5s: 0, jumps: 0, hlsLatency: [], ffplay: '', terms: [], startup: {} }))
  const startupSteps = await Promise.all(pages.map((p) => p.evaluate(() => (window as unknown as { cjp2pParts?: PageTimes }).cjp2pParts?.startup ?? {})))
  startupSteps.forEach((steps, i) => { rows[i].startup = steps })
  const every = (SECONDS * 1000) / SAMPLES
  const began = Date.now()
  for (let k = 0; k < SAMPLES; k++) {
    await sleep(Math.max(0, began + k * every - Date.now()))
    for (let i = 0; i < pages.length; i++) {
      const file = join(OUT, `${dirName}-hop${WATCHED_HOPS[i]}-${String(k).padStart(2, '0')}.png`)
      rows[i].samples.push(await sample(pages[i], file))
      const s = await state(pages[i])
      if (s.latency !== null) rows[i].hlsLatency.push(s.latency)
    }
  }
  const ends = await Promise.all(pages.map(state))
  ends.forEach((s, i) => { rows[i].stallsAfter5s = s.stalls - atSettle[i].stalls; rows[i].stallSecondsAfter5s = s.stallSeconds - atSettle[i].stallSeconds; rows[i].jumps = s.jumps })
  if (poller) {
    const listings = await poller.finish()
    const times = await Promise.all(pages.map((p) => p.evaluate(() => (window as unknown as { cjp2pParts: PageTimes }).cjp2pParts)))
    rows.forEach((row, i) => {
      for (const s of row.samples) {
        const b = s.clock === null ? null : breakdown({ clock: s.clock, shownAt: s.shownAt, part: s.part }, listings[0], listings[row.hops], times[i])
        if (b) row.terms.push(b)
      }
    })
    for (let hops = 1; hops <= RELAYS; hops++) {
      hopDelays.push({ mode, hops, delays: listingDelays(listings[0], listings[hops]), verified: await verifiedDelay(chain[hops]) })
    }
  }
  await Promise.all(pages.map((p) => p.close()))
  for (const row of rows) row.ffplay = ffplayPlays(playlistUrl(chain[row.hops], id))
  stopAll()
  await sleep(1500)
  return rows
}

/** Low latency: the median of each term over the sampled frames, and each hop's listing delay. */
function breakdownTable(rows: Row[], hopDelays: HopDelays[]): string {
  const split = rows.filter((r) => r.terms.length > 0)
  if (split.length === 0) return ''
  const head = ['mode', 'page', 'frames', ...TERMS.map((t) => `${t} ms`), 'sum of medians ms']
  const body = split.map((r) => {
    const m = TERMS.map((t) => median(r.terms.map((b) => b[t])))
    return [r.mode, r.hops === 0 ? 'source' : `${r.hops} relays out`, `${r.terms.length}/${r.samples.length}`, ...m.map((x) => x.toFixed(0)), m.reduce((a, b) => a + b, 0).toFixed(0)]
  })
  const startHead = ['mode', 'page', ...STARTUP_STEPS.map((s) => `${s} ms`), 'first frame ms']
  const startBody = split.map((r) => [r.mode, r.hops === 0 ? 'source' : `${r.hops} relays out`,
    ...STARTUP_STEPS.map((s) => (r.startup[s] === undefined ? '-' : r.startup[s].toFixed(0))), r.startupMs === null ? '-' : r.startupMs.toFixed(0)])
  const hopHead = ['mode', 'node', 'parts', 'listed after the source p50 ms', 'p90 ms', 'max ms', 'chunk signed -> verified p50/p95/max ms', 'chunks by hops']
  const hopBody = hopDelays.map((h) => [h.mode, `relay ${h.hops}`, String(h.delays.length), median(h.delays).toFixed(0), quantile(h.delays, 0.9).toFixed(0),
    (h.delays.length ? Math.max(...h.delays) : NaN).toFixed(0), h.verified ? `${h.verified.p50.toFixed(0)}/${h.verified.p95.toFixed(0)}/${h.verified.max.toFixed(0)}` : '-',
    h.verified ? Object.entries(h.verified.hops).map(([k, v]) => `${k}:${v}`).join(' ') : '-'])
  return `where the latency goes (medians over the sampled frames; ${TERMS.join(', ')}: see scripts/latency-breakdown.ts)\n${align([head, ...body])}\n` +
    `start-up: ms from page load to each step\n${align([startHead, ...startBody])}\n` +
    `each part listed at each relay of the chain (blocking reload answered) after the source listed it\n${align([hopHead, ...hopBody])}\n`
}

function align(all: string[][]): string {
  const w = all[0].map((_, i) => Math.max(...all.map((r) => r[i].length)))
  return all.map((r) => r.map((c, i) => c.padEnd(w[i])).join(' | ').trimEnd()).join('\n')
}

function table(rows: Row[]): string {
  const head = ['mode', 'page', 'read', 'g2g median s', 'g2g p90 s', 'g2g max s', 'screenshot median s (capture ms)', 'stalls after 5 s', 'first frame ms', 'live jumps', 'hls.latency median s', 'ffplay plays']
  const body = rows.map((r) => {
    const g = r.samples.map((s) => s.g2g).filter((x): x is number => x !== null)
    const shots = r.samples.map((s) => s.shot).filter((x): x is number => x !== null)
    return [r.mode, r.hops === 0 ? 'source' : `${r.hops} relays out`, `${g.length}/${r.samples.length}`, median(g).toFixed(2), quantile(g, 0.9).toFixed(2),
      (g.length ? Math.max(...g) : NaN).toFixed(2), `${median(shots).toFixed(2)} (${median(r.samples.map((s) => s.captureMs)).toFixed(0)})`,
      `${r.stallsAfter5s} (${r.stallSecondsAfter5s.toFixed(1)} s)`, r.startupMs === null ? '-' : r.startupMs.toFixed(0), String(r.jumps), median(r.hlsLatency).toFixed(2), r.ffplay]
  })
  return align([head, ...body])
}

async function main(): Promise<void> {
  for (const need of [CHROMIUM, '/usr/bin/ffmpeg']) if (!existsSync(need)) throw new Error(`${need} is not installed (apt-get install -y ffmpeg chromium)`)
  await mkdir(OUT, { recursive: true })
  const work = await mkdtemp(join(tmpdir(), 'cjp2p-latency-'))
  const profile = await mkdtemp(join(tmpdir(), 'cjp2p-latency-chromium-'))
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, viewport: { width: 800, height: 900 } })
  const rows: Row[] = []
  const hopDelays: HopDelays[] = []
  try {
    for (const mode of MODES) rows.push(...await runMode(mode, browser, work, hopDelays))
  } finally {
    stopAll()
    await browser.close().catch(() => {})
    await rm(profile, { recursive: true, force: true })
    await sleep(1000)
    await rm(work, { recursive: true, force: true })
  }
  const text = `glass-to-glass in Chromium + hls.js, ${SAMPLES} samples over ${SECONDS} s per page: the browser clock when a frame is shown - the source clock burned into it\n` +
    `${table(rows)}\n${breakdownTable(rows, hopDelays)}screenshots: ${OUT}\n`
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
