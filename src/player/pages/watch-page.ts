import type { StreamInfo, StreamId } from '../../store/stream-types.ts'
import { streamPath } from '../stream-directory.ts'
import { html, page } from './html.ts'

/** Stats the player page shows; each cell is filled by static/player.js with textContent. */
const STAT_ROWS: ReadonlyArray<[string, string]> = [
  ['state', 'state'],
  ['latency', 'hls.js latency (s)'],
  ['pdtLatency', 'program-date-time latency (s)'],
  ['buffer', 'buffer ahead (s)'],
  ['stalls', 'stalls (count / seconds)'],
  ['bytesFromPeers', 'bytes from peers'],
  ['bytesFromSource', 'bytes from the source'],
  ['peers', 'peers'],
]

/** Where the page loads hls.js from (routes-pages.ts serves its light build there). */
export const HLS_JS_PATH = '/vendor/hls.light.min.js'

/** The player page. Configuration travels in data attributes (escaped) rather than inline
 * script, so the page runs under a CSP that allows scripts from this origin only. */
/** `start`: what the playlist can be played as right now (verified-segments.ts playableStart). */
export function watchPage(id: StreamId, info: StreamInfo | null, start: 'low' | 'normal' | null = null): string {
  const path = streamPath(id)
  return page(`watch ${id}`, html`<h1>Watching <code>${id}</code></h1>
<div id="player"
  data-stream-id="${id}"
  data-playlist="/streams/${path}/index.m3u8"
  data-report="/streams/${path}/playback-report"
  data-target-duration="${info?.targetDuration ?? ''}"
  data-start="${start ?? ''}">
<video id="video" controls muted playsinline></video>
<p id="message" class="error" hidden></p>
<table id="stats"><tbody>
${STAT_ROWS.map(([key, label]) => html`<tr><td>${label}</td><td data-stat="${key}">-</td></tr>`)}
</tbody></table>
</div>
<p><a href="/streams/${path}/index.m3u8">playlist</a> (for VLC or ffplay)</p>`,
  [HLS_JS_PATH, '/static/player.js'])
}
