import type { StreamLogReader } from '../../store/stream-types.ts'
import { streamPath } from '../stream-directory.ts'
import { html, page } from './html.ts'

export function indexPage(streams: readonly StreamLogReader[]): string {
  const rows = streams.map((log) => {
    const info = log.info()
    const head = log.head()
    const path = streamPath(log.id)
    return html`<tr>
<td><code>${log.id}</code></td>
<td>${info?.format ?? 'waiting for info'}</td>
<td>${log.segmentCount()}</td>
<td>${head ? (head.ended ? 'ended' : 'live') : 'no head yet'}</td>
<td><a href="/watch/${path}">watch</a> <a href="/streams/${path}/index.m3u8">playlist</a></td>
</tr>`
  })
  return page('cjp2p-stream', html`<h1>Streams</h1>
${streams.length === 0
    ? html`<p>No streams yet.</p>`
    : html`<table><thead><tr><th>id</th><th>format</th><th>segments</th><th>state</th><th></th></tr></thead><tbody>${rows}</tbody></table>`}`)
}
