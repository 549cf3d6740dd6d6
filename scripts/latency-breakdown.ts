// Where glass-to-glass latency goes, for `npm run latency` (scripts/latency.ts). Each low-latency
// part is timed at every step from the camera to the screen, all on this machine's one clock:
//   fill    the rest of the part being captured after the sampled frame (part end - frame)
//   ingest  ffmpeg encodes and writes the part, the source reads, signs and lists it
//   mesh    the part's chunks and record cross the relays, are verified and the part is listed
//   answer  the blocking playlist reload that lists it reaches hls.js in the page
//   fetch   hls.js requests the part's bytes and has them
//   append  demuxed and appended to the MediaSource buffer
//   held    waits in the buffer until its frame is shown (the player's hold-back behind the edge)
// A part's listing at each node is seen by a poller here that asks every node's playlist with the
// same blocking reload (`_HLS_msn`/`_HLS_part`) hls.js uses, so it is answered when the part's
// record and last chunk are verified there. The page side comes from hls.js's own events.
// The seven terms of one sampled frame add up to its glass-to-glass latency exactly.

import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const KEY = (msn: number, part: number) => `${msn}/${part}`
const POLLER_ARG = '--part-listings'
/** A poller's blocked request gives up after this (the node answers 503 after three targets). */
const POLL_TIMEOUT_MS = 10_000

/** Each node's PartListings, kept in a child process: this script's own thread decodes
 * screenshots, which would stamp listings late by hundreds of ms on a busy machine. */
export class ListingsWorker {
  private readonly child: ChildProcess

  constructor(urls: string[]) {
    this.child = fork(fileURLToPath(import.meta.url), [POLLER_ARG, ...urls], { execArgv: ['--import', 'tsx'], stdio: 'inherit' })
  }

  /** Stops the pollers and returns each node's listing times, in the order of the URLs. */
  async finish(): Promise<Array<Map<string, number>>> {
    const answer = new Promise<Array<Array<[string, number]>>>((resolve) => this.child.once('message', (m) => resolve(m as Array<Array<[string, number]>>)))
    this.child.send('finish')
    return (await answer).map((entries) => new Map(entries))
  }
}

/** When each part was first listed by one node's playlist (ms since epoch). */
export class PartListings {
  readonly listedAt = new Map<string, number>()
  private readonly seen = new Set<string>()
  private stopped = false

  constructor(private readonly url: string) {}

  start(): void { void this.loop() }
  stop(): void { this.stopped = true }

  private async loop(): Promise<void> {
    let next: { msn: number; part: number } | null = null
    // The first answer lists parts that came before we asked: their listing time is unknown.
    let first = true
    while (!this.stopped) {
      const q = next ? `?_HLS_msn=${next.msn}&_HLS_part=${next.part}` : ''
      const text = await fetch(this.url + q, { signal: AbortSignal.timeout(POLL_TIMEOUT_MS) }).then((r) => (r.ok ? r.text() : ''), () => '')
      const at = Date.now()
      const parts = listedParts(text)
      for (const p of parts) {
        const k = KEY(p.msn, p.part)
        if (!this.seen.has(k) && !first) this.listedAt.set(k, at)
        this.seen.add(k)
      }
      if (parts.length > 0) first = false
      const last = parts.at(-1)
      if (last) next = { msn: last.msn, part: last.part + 1 }
      else await new Promise((r) => setTimeout(r, 100))
    }
  }
}

/** The parts an LL-HLS playlist lists, as (media sequence number, part index). */
export function listedParts(text: string): Array<{ msn: number; part: number }> {
  const seq = /#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)
  if (!seq) return []
  let msn = Number(seq[1])
  let part = 0
  const out: Array<{ msn: number; part: number }> = []
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-PART:')) out.push({ msn, part: part++ })
    else if (line.length > 0 && !line.startsWith('#')) { msn++; part = 0 }
  }
  return out
}

/** Installed in each page before the player starts: hls.js's events, stamped with Date.now(),
 * per part (`msn/index`; `msn/*` when hls.js loaded a whole segment). A string, so tsx does not
 * wrap it in helpers the page lacks. */
export const PAGE_HOOK = `(function () {
  var L = window.cjp2pParts = { learned: {}, loaded: {}, buffered: {}, startup: {} }
  // Start-up steps, in ms since navigation start (as the first frame's time is).
  function first(step) { if (!(step in L.startup)) L.startup[step] = performance.now() }
  function key(frag, part) { return frag.sn + '/' + (part ? part.index : '*') }
  (function hook() {
    var p = window.cjp2pPlayer
    if (!p || !p.hls || !window.Hls) { setTimeout(hook, 10); return }
    var E = window.Hls.Events
    first('hls.js started')
    p.hls.on(E.MANIFEST_PARSED, function () { first('playlist parsed') })
    p.hls.on(E.LEVEL_LOADED, function (_e, d) {
      var now = Date.now()
      ;(d.details.partList || []).forEach(function (part) { var k = key(part.fragment, part); if (!(k in L.learned)) L.learned[k] = now })
    })
    p.hls.on(E.FRAG_LOADED, function (_e, d) { if (d.frag.sn !== 'initSegment') first('media loaded'); var k = key(d.frag, d.part); if (!(k in L.loaded)) L.loaded[k] = Date.now() })
    p.hls.on(E.BUFFER_APPENDED, function (_e, d) { if (d.frag && d.frag.sn !== 'initSegment') first('media appended') })
    p.video.addEventListener('seeking', function () { first('start seek') })
    p.video.addEventListener('playing', function () { first('playing') })
    p.hls.on(E.FRAG_BUFFERED, function (_e, d) { var k = key(d.frag, d.part); if (!(k in L.buffered)) L.buffered[k] = Date.now() })
  })()
})()`

/** Evaluated inside the frame callback of a sample (scripts/latency.ts): which part the frame at
 * media time \`t\` belongs to, from hls.js's list of parts. */
export const FRAME_PART = `function framePart(t) {
  var p = window.cjp2pPlayer, d = p && p.hls && p.hls.latestLevelDetails
  var parts = (d && d.partList) || []
  for (var i = 0; i < parts.length; i++) {
    var q = parts[i]
    if (q.start - 0.001 <= t && t < q.end - 0.001) return { msn: q.fragment.sn, part: q.index, endsIn: q.end - t }
  }
  return null
}`

export interface FramePart { msn: number; part: number; endsIn: number }
export interface PageTimes { learned: Record<string, number>; loaded: Record<string, number>; buffered: Record<string, number>; startup: Record<string, number> }
/** The start-up steps PAGE_HOOK times, in order (then the first frame): hls.js running, the
 * playlist read, the first media bytes loaded and in the MediaSource buffer, hls.js's seek to its
 * start position (once the first part is buffered), and the video element playing. */
export const STARTUP_STEPS = ['hls.js started', 'playlist parsed', 'media loaded', 'media appended', 'start seek', 'playing'] as const
export const TERMS = ['fill', 'ingest', 'mesh', 'answer', 'fetch', 'append', 'held'] as const
export type Breakdown = Record<(typeof TERMS)[number], number>

/** One sampled frame's latency split into TERMS (ms), or null when a step was not seen. */
export function breakdown(frame: { clock: number; shownAt: number; part: FramePart | null }, atSource: Map<string, number>, atNode: Map<string, number>,
  page: Pick<PageTimes, 'learned' | 'loaded' | 'buffered'>): Breakdown | null {
  const p = frame.part
  if (!p) return null
  const k = KEY(p.msn, p.part)
  const whole = `${p.msn}/*`
  const captured = frame.clock + p.endsIn * 1000
  const source = atSource.get(k)
  const listed = atNode.get(k)
  const learned = page.learned[k]
  const loaded = page.loaded[k] ?? page.loaded[whole]
  const buffered = page.buffered[k] ?? page.buffered[whole]
  if ([source, listed, learned, loaded, buffered].some((x) => x === undefined)) return null
  return {
    fill: captured - frame.clock, ingest: source! - captured, mesh: listed! - source!, answer: learned - listed!,
    fetch: loaded! - learned, append: buffered! - loaded!, held: frame.shownAt - buffered!,
  }
}

/** How much later than at the source each node listed the parts both listed (ms). */
export function listingDelays(atSource: Map<string, number>, atNode: Map<string, number>): number[] {
  const out: number[] = []
  for (const [k, t] of atNode) {
    const s = atSource.get(k)
    if (s !== undefined) out.push(t - s)
  }
  return out
}

if (process.argv[2] === POLLER_ARG && process.send) {
  const listings = process.argv.slice(3).map((url) => new PartListings(url))
  for (const l of listings) l.start()
  // Exits with its parent, whatever happens to it.
  process.once('disconnect', () => process.exit(0))
  process.once('message', () => {
    for (const l of listings) l.stop()
    process.send!(listings.map((l) => [...l.listedAt]), () => process.exit(0))
  })
}
