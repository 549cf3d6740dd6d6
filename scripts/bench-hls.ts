// The baseline users would otherwise run: one HTTP server serving the growing log as a live
// byte-range HLS playlist, and viewers that poll the playlist and fetch each new segment's bytes
// from it. The server uploads one copy per viewer; that is the figure the swarm is compared with.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { StreamLog } from '../src/store/stream-log.ts'
import { CHUNK_SIZE } from '../src/store/stream-types.ts'

/** Segments listed in the live playlist, as a typical live HLS window. */
const PLAYLIST_WINDOW = 6

export async function startHlsServer(log: StreamLog): Promise<{ url: string; servedBytes(): number; playlistBytes(): number; close(): Promise<void> }> {
  let served = 0
  let playlists = 0
  const server = http.createServer((req, res) => {
    void (async () => {
      if (req.url === '/index.m3u8') {
        const count = log.segmentCount()
        const first = Math.max(0, count - PLAYLIST_WINDOW)
        const lines = ['#EXTM3U', '#EXT-X-VERSION:4', `#EXT-X-TARGETDURATION:${log.info()?.targetDuration ?? 1}`, `#EXT-X-MEDIA-SEQUENCE:${first}`]
        for (let n = first; n < count; n++) {
          const s = log.segment(n)
          if (!s) continue
          lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.pdt).toISOString()}`, `#EXTINF:${s.duration.toFixed(3)},`, `#EXT-X-BYTERANGE:${s.length}@${s.offset}`, 'media.ts')
        }
        const body = lines.join('\n') + '\n'
        playlists += body.length
        res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl', 'cache-control': 'no-cache' }).end(body)
        return
      }
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')
      if (req.url !== '/media.ts' || !m) { res.writeHead(404).end(); return }
      const start = Number(m[1])
      const len = Number(m[2]) - start + 1
      try {
        const bytes = await log.read(start, len)
        served += bytes.length
        res.writeHead(206, { 'content-range': `bytes ${start}-${start + len - 1}/*`, 'content-length': bytes.length }).end(bytes)
      } catch {
        res.writeHead(416).end()
      }
    })()
  })
  server.keepAliveTimeout = 30_000
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    servedBytes: () => served,
    playlistBytes: () => playlists,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()) }),
  }
}

interface Seg { n: number; offset: number; length: number; duration: number; pdt: number }

function parsePlaylist(text: string): Seg[] {
  const out: Seg[] = []
  let seq = 0
  let pdt = 0
  let dur = 0
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) seq = Number(line.slice(22))
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(line.slice(25))
    else if (line.startsWith('#EXTINF:')) dur = parseFloat(line.slice(8))
    else if (line.startsWith('#EXT-X-BYTERANGE:')) {
      const [len, off] = line.slice(17).split('@').map(Number)
      out.push({ n: seq++, offset: off, length: len, duration: dur, pdt })
    }
  }
  return out
}

/** One HLS viewer: starts three segments back from the live edge (as hls.js does), polls the
 * playlist every pollMs and fetches each new segment once. Records, per 16 KiB chunk of the log,
 * when its bytes arrived, so the same delay and completeness figures apply as for the swarm. */
export class HlsViewer {
  readonly verified: Array<[number, number]> = []
  firstPlayableAt: number | null = null
  receivedBytes = 0
  startChunk = -1
  private next = -1
  private timer: NodeJS.Timeout | undefined
  private busy = false
  private closed = false
  private agent = new http.Agent({ keepAlive: true, maxSockets: 1 })

  constructor(private base: string, private pollMs: number) {}

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.pollMs)
    void this.poll()
  }

  private get(path: string, range?: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const req = http.get(this.base + path, { agent: this.agent, headers: range ? { range } : {} }, (res) => {
        const parts: Buffer[] = []
        res.on('data', (d: Buffer) => parts.push(d))
        res.on('end', () => (res.statusCode && res.statusCode < 300 ? resolve(Buffer.concat(parts)) : reject(new Error(`HTTP ${res.statusCode}`))))
        res.on('error', reject)
      })
      req.on('error', reject)
    })
  }

  private async poll(): Promise<void> {
    if (this.busy || this.closed) return
    this.busy = true
    try {
      const segs = parsePlaylist((await this.get('/index.m3u8')).toString())
      if (segs.length === 0) return
      if (this.next < 0) {
        this.next = segs[Math.max(0, segs.length - 3)].n
        this.startChunk = Math.floor(segs[Math.max(0, segs.length - 3)].offset / CHUNK_SIZE)
      }
      for (const s of segs) {
        if (s.n < this.next || this.closed) continue
        const body = await this.get('/media.ts', `bytes=${s.offset}-${s.offset + s.length - 1}`)
        const at = Date.now()
        this.receivedBytes += body.length
        // A chunk counts as here once every segment overlapping it is: record the chunks this
        // segment completes (its last chunk may be finished by the next segment).
        const end = s.offset + s.length
        for (let n = Math.ceil(s.offset / CHUNK_SIZE); (n + 1) * CHUNK_SIZE <= end; n++) this.verified.push([n, at])
        if (s.offset % CHUNK_SIZE !== 0 && this.next > segs[0].n) this.verified.push([Math.floor(s.offset / CHUNK_SIZE), at])
        this.firstPlayableAt ??= at
        this.next = s.n + 1
      }
    } catch { /* the server is busy or gone; poll again */ } finally { this.busy = false }
  }

  close(): void {
    this.closed = true
    clearInterval(this.timer)
    this.agent.destroy()
  }
}
