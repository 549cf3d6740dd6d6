// The gateway's player figures: a ~48 MiB faststart MP4 held by three seeders (real `node`
// processes), read through /content/<id> of a node that starts with none of it, each figure on a
// fresh node alone with the seeders. Prints milliseconds from the player's start to:
//   ffprobe done, ffmpeg's first frame, ffmpeg's frame from the middle (-ss 30), mpv playing from
//   the start, mpv playing from the middle (--start=30); and how much of the file the node had when
//   the middle frame was out (the rest was still arriving: the seek moved the download there).
//   npm run bench:gateway [-- --reps 3] [--downlinks 0,4000000]   (0 = no limit: loopback speed)
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { scriptFlags } from './script-args.ts'
import {
  MPV, type Cleanup, ffprobeArgs, firstFrameArgs, makeMp4, midFrameArgs, mpvPlay, startGateway, startSeeders, timed,
} from '../test/helpers/gateway-swarm.ts'

const args = scriptFlags('bench:gateway', 'npm run bench:gateway [-- --reps 3] [--downlinks 0,4000000]   (bytes/s per downlink; 0 = no limit)', { reps: { type: 'string', default: '1' }, downlinks: { type: 'string', default: '0,4000000' } })
const reps = Math.max(1, Number(args.reps))
const downlinks = args.downlinks.split(',').map(Number)

const cleanups: Array<() => unknown> = []
const ctx: Cleanup = { after: (fn: () => unknown) => { cleanups.push(fn) } } as unknown as Cleanup
const dir = await mkdtemp(join(tmpdir(), 'cjp2p-bench-gateway-'))
let n = 0

const median = (xs: number[]) => { const s = xs.filter(Number.isFinite).sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN }
const ms = (x: number) => Number.isFinite(x) ? `${Math.round(x)}` : 'n/a'

try {
  const file = await makeMp4()
  const seeders = await startSeeders(ctx, dir, file)
  const url = (http: string) => `${http}/content/${seeders.id}`
  /** One figure on a fresh node, which is stopped afterwards. */
  async function onFresh<T>(downlink: number, measure: (http: string) => Promise<T>): Promise<T> {
    const g = await startGateway(ctx, join(dir, `gateway-${n++}`), seeders.udp, { bytesPerSecond: downlink || undefined })
    try { return await measure(g.http) } finally { await g.proc.stop() }
  }
  const ok = <T extends { code: number | null; ms: number; stderr: string }>(r: T, what: string): number => {
    if (r.code !== 0) { console.error(`${what} failed: ${r.stderr.slice(-300)}`); return NaN }
    return r.ms
  }

  const rows: string[][] = []
  for (const downlink of downlinks) {
    const f = { probe: [] as number[], first: [] as number[], mid: [] as number[], midHad: [] as number[], mpv: [] as number[], mpvMid: [] as number[] }
    for (let r = 0; r < reps; r++) {
      f.probe.push(await onFresh(downlink, async (h) => ok(await timed('ffprobe', ffprobeArgs(url(h))), 'ffprobe')))
      f.first.push(await onFresh(downlink, async (h) => ok(await timed('ffmpeg', firstFrameArgs(url(h), join(dir, 'first.png'))), 'ffmpeg first frame')))
      f.mid.push(await onFresh(downlink, async (h) => {
        const m = ok(await timed('ffmpeg', midFrameArgs(url(h), join(dir, 'mid.png'))), 'ffmpeg mid frame')
        const st = await (await fetch(`${h}/api/fetches/${seeders.id}`)).json() as { bytes: number; size: number }
        f.midHad.push((100 * st.bytes) / st.size)
        return m
      }))
      if (existsSync(MPV)) {
        f.mpv.push(await onFresh(downlink, async (h) => (await mpvPlay(url(h))).restartMs ?? NaN))
        f.mpvMid.push(await onFresh(downlink, async (h) => (await mpvPlay(url(h), 30)).restartMs ?? NaN))
      }
    }
    rows.push([downlink ? `${downlink / 1e6} MB/s` : 'loopback', ms(median(f.probe)), ms(median(f.first)), ms(median(f.mid)),
      `${median(f.midHad).toFixed(0)}%`, existsSync(MPV) ? ms(median(f.mpv)) : 'no mpv', existsSync(MPV) ? ms(median(f.mpvMid)) : 'no mpv'])
  }
  const head = ['downlink', 'ffprobe ms', 'first frame ms', 'mid seek ms', 'had at mid', 'mpv play ms', 'mpv --start=30 ms']
  console.log(`\ngateway: ${seeders.id.slice(0, 12)}… (${(await import('node:fs')).statSync(file).size} bytes, 60 s H.264+AAC, faststart) from 3 seeders; median of ${reps}; each on a fresh node`)
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ')
  console.log(line(head))
  for (const r of rows) console.log(line(r))
} finally {
  for (const fn of cleanups.reverse()) await fn()
  await rm(dir, { recursive: true, force: true, maxRetries: 3 })
}
