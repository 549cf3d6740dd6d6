import type { StreamLogReader } from '../../store/stream-types.ts'
import { streamPath } from '../stream-directory.ts'
import type { FetchEntry, SharedEntry } from '../content-library.ts'
import { html, page, type SafeHtml } from './html.ts'

export function indexPage(streams: readonly StreamLogReader[], files?: { shared: SharedEntry[]; fetches: FetchEntry[] }): string {
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
    : html`<table><thead><tr><th>id</th><th>format</th><th>segments</th><th>state</th><th></th></tr></thead><tbody>${rows}</tbody></table>`}
${files ? filesSection(files) : ''}`)
}

function filesSection({ shared, fetches }: { shared: SharedEntry[]; fetches: FetchEntry[] }): SafeHtml {
  const links = (id: string, name: string | null) => {
    const q = name ? `?name=${encodeURIComponent(name)}` : ''
    return html`<a href="/watch/content/${id}${q}">play</a> <a href="/content/${id}${q}">download</a>`
  }
  const running = fetches.filter((f) => f.state === 'starting' || f.state === 'downloading')
  return html`<h1>Files</h1>
${shared.length === 0 && running.length === 0
    ? html`<p>No shared files. <code>cjp2p-stream share &lt;path&gt;</code> adds one; any file is at <code>/content/&lt;sha256&gt;</code>.</p>`
    : html`<table><thead><tr><th>name</th><th>id</th><th>size</th><th>state</th><th></th></tr></thead><tbody>
${shared.map((f) => html`<tr><td>${f.name ?? ''}</td><td><code>${f.id}</code></td><td>${f.size}</td><td>shared</td><td>${links(f.id, f.name)}</td></tr>`)}
${running.map((f) => html`<tr><td>${f.name ?? ''}</td><td><code>${f.id}</code></td><td>${f.size ?? '?'}</td><td>downloading ${f.size ? Math.floor((100 * f.bytes) / f.size) : 0}%</td><td>${links(f.id, f.name)}</td></tr>`)}
</tbody></table>`}`
}
