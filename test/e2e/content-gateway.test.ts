// The HTTP gateway with real processes and real players: a ~48 MiB MP4 held by three seeders, and
// nodes that have none of it serving /content/<id>. ffprobe, ffmpeg (first frame, a frame from the
// middle) and mpv read it while it downloads; two concurrent readers share one download; a node
// killed with kill -9 mid-download resumes from its durable blocks; --verified-only refuses bytes
// until the whole file matched its id. Timings are printed as diagnostics, never asserted
// (`npm run bench:gateway` prints them as a table).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir, until } from '../helpers/cli-process.ts'
import {
  MPV, durableBlocks, ffprobeArgs, firstFrameArgs, makeMp4, midFrameArgs, mpvPlay, startGateway, startSeeders, timed,
} from '../helpers/gateway-swarm.ts'

/** The gateway's downlink in the slow runs: the whole file takes about 12 s, so a reader is
 * served while most of it is still missing. */
const SLOW_BPS = 4_000_000
/** Where only the order matters (bytes are served, or refused, while the download runs, and one
 * download serves two readers): the whole file in about 3 s, and the readers' requests start it. */
const FAST_BPS = 16_000_000

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

async function getBytes(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(url, { headers })
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) }
}

test('content gateway: real players through a node that had none of the file', { timeout: 400_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-gateway-')
  const file = await makeMp4()
  const original = await readFile(file)
  const seeders = await startSeeders(t, dir, file)
  assert.equal(seeders.id, sha256(original))
  const id = seeders.id
  let n = 0
  const freshGateway = (opts: { bytesPerSecond?: number; verifiedOnly?: boolean } = {}) => startGateway(t, join(dir, `gateway-${n++}`), seeders.udp, opts)

  await t.test('ffprobe, a first frame, a frame from the middle and mpv, each on a node starting with nothing', async () => {
    const probe = await freshGateway({ bytesPerSecond: SLOW_BPS })
    const url = `${probe.http}/content/${id}`
    const p = await timed('ffprobe', ffprobeArgs(url))
    await probe.proc.stop() // each figure on a node alone with the seeders
    assert.equal(p.code, 0, p.stderr)
    const info = JSON.parse(p.stdout) as { format: { duration: string; size: string }; streams: Array<{ codec_name: string }> }
    assert.equal(Number(info.format.size), original.length)
    assert.ok(Math.abs(Number(info.format.duration) - 60) < 1, `duration ${info.format.duration}`)
    assert.deepEqual(info.streams.map((s) => s.codec_name).sort(), ['aac', 'h264'])

    const first = await freshGateway({ bytesPerSecond: SLOW_BPS })
    const f = await timed('ffmpeg', firstFrameArgs(`${first.http}/content/${id}`, join(dir, 'first.png')))
    assert.equal(f.code, 0, f.stderr)
    assert.ok((await readFile(join(dir, 'first.png'))).length > 1000, 'a first frame was decoded')
    await first.proc.stop()

    const mid = await freshGateway({ bytesPerSecond: SLOW_BPS })
    const m = await timed('ffmpeg', midFrameArgs(`${mid.http}/content/${id}`, join(dir, 'mid.png')))
    assert.equal(m.code, 0, m.stderr)
    assert.ok((await readFile(join(dir, 'mid.png'))).length > 1000, 'a frame from the middle was decoded')
    // The middle was served while the file was still arriving (at this downlink it takes ~12 s).
    const listing = await (await fetch(`${mid.http}/api/fetches/${id}`)).json() as { state: string; bytes: number; size: number }
    t.diagnostic(`mid-seek node had ${listing.bytes} of ${listing.size} bytes when the frame was out (${listing.state})`)
    await mid.proc.stop()

    let mpv = 'skipped'
    if (!existsSync(MPV)) console.warn('mpv is not installed (apt-get install mpv): its check is SKIPPED')
    else {
      const g = await freshGateway({ bytesPerSecond: SLOW_BPS })
      const r = await mpvPlay(`${g.http}/content/${id}`)
      assert.equal(r.code, 0, `mpv exited ${r.code}: ${r.stderr}`)
      assert.ok(r.restartMs !== null, `mpv started playing: ${r.stderr}`)
      await g.proc.stop()
      const g2 = await freshGateway({ bytesPerSecond: SLOW_BPS })
      const s = await mpvPlay(`${g2.http}/content/${id}`, 30)
      assert.equal(s.code, 0, `mpv --start=30 exited ${s.code}: ${s.stderr}`)
      await g2.proc.stop()
      mpv = `first frame ${Math.round(r.restartMs)} ms, 3 s played in ${Math.round(r.ms)} ms; --start=30: playing after ${Math.round(s.restartMs ?? NaN)} ms`
    }
    t.diagnostic(`downlink ${SLOW_BPS / 1e6} MB/s: ffprobe ${Math.round(p.ms)} ms, first frame ${Math.round(f.ms)} ms, mid seek ${Math.round(m.ms)} ms, mpv ${mpv}`)
  })

  await t.test('two concurrent readers start one download, and both get the exact bytes', async () => {
    const g = await freshGateway({ bytesPerSecond: FAST_BPS })
    const url = `${g.http}/content/${id}`
    const half = Math.floor(original.length / 2)
    const [a, b] = await Promise.all([getBytes(url), getBytes(url, { Range: `bytes=${half}-` })])
    assert.equal(a.status, 200)
    assert.equal(a.headers.get('x-cjp2p-verified'), 'no', 'bytes served before the whole file verified say so')
    assert.equal(sha256(a.body), id)
    assert.equal(b.status, 206)
    assert.ok(b.body.equals(original.subarray(half)))
    const files = await (await fetch(`${g.http}/api/files`)).json() as { fetches: Array<{ id: string; state: string }> }
    assert.deepEqual(files.fetches.map((f) => f.id), [id], 'one fetch for the id')
    await until('the fetch to finish', 60_000, async () => ((await (await fetch(`${g.http}/api/fetches/${id}`)).json()) as { state: string }).state === 'done')
    const fetched = g.proc.stderr.split('\n').filter((l) => l.includes(`fetched ${id}`))
    assert.equal(fetched.length, 1, `one download ran: ${fetched.join(' | ')}`)
    assert.ok(!g.proc.stderr.includes('ERR_BUSY'), 'no second download was attempted')
    const done = await getBytes(url, { Range: 'bytes=0-99' })
    assert.equal(done.headers.get('x-cjp2p-verified'), 'yes')
    assert.equal(done.headers.get('content-range'), `bytes 0-99/${original.length}`)
  })

  await t.test('kill -9 mid-download: a new request resumes from the durable blocks', async () => {
    const gdir = join(dir, 'gateway-killed')
    const sidecar = join(gdir, 'shared', 'incoming', `${id}.blocks`)
    const blocks = Math.ceil(original.length / 4096)
    const g = await startGateway(t, gdir, seeders.udp, { bytesPerSecond: SLOW_BPS })
    const reading = fetch(`${g.http}/content/${id}`).then((r) => r.arrayBuffer()).catch(() => null)
    await until('a tenth of the blocks to be durable', 60_000, async () => (await durableBlocks(sidecar)) >= blocks / 10, 50)
    await g.proc.kill9()
    await reading
    const had = await durableBlocks(sidecar)
    assert.ok(had > 0 && had < blocks, `killed with ${had} of ${blocks} blocks durable`)
    assert.ok(!existsSync(join(gdir, 'shared', id)), 'no partial file in shared/')

    const again = await startGateway(t, gdir, seeders.udp)
    const r = await getBytes(`${again.http}/content/${id}`)
    assert.equal(r.status, 200)
    assert.equal(sha256(r.body), id)
    const f = await until('the resumed fetch to finish', 60_000, async () => {
      const v = (await (await fetch(`${again.http}/api/fetches/${id}`)).json()) as { state: string; resumedBlocks: number | null }
      return v.state === 'done' && v
    })
    t.diagnostic(`killed at ${had}/${blocks} durable blocks; the new run resumed ${f.resumedBlocks}`)
    assert.ok((f.resumedBlocks ?? 0) >= had, `resumed ${f.resumedBlocks} >= ${had} durable at the kill`)
  })

  await t.test('--verified-only refuses bytes until the whole file matched its id', async () => {
    const g = await freshGateway({ bytesPerSecond: FAST_BPS, verifiedOnly: true })
    const url = `${g.http}/content/${id}`
    const early = await fetch(url, { headers: { Range: 'bytes=0-1023' } })
    assert.equal(early.status, 503)
    assert.match(await early.text(), /verifies only the whole file/)
    await until('the fetch to finish', 90_000, async () => ((await (await fetch(`${g.http}/api/fetches/${id}`)).json()) as { state: string }).state === 'done')
    const late = await getBytes(url, { Range: 'bytes=0-1023' })
    assert.equal(late.status, 206)
    assert.equal(late.headers.get('x-cjp2p-verified'), 'yes')
    assert.ok(late.body.equals(original.subarray(0, 1024)))
  })
})
