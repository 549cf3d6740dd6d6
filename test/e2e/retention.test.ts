// Retention through real processes: a source that keeps everything, a viewer with `--keep 10s`,
// and a second viewer fed only by the first. The first viewer deletes what falls out of its
// window (floor file, data pieces gone), answers 416 for deleted bytes while the source still
// serves them, relays the live edge to the second viewer, and after a restart keeps its floor.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { readFile, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { startCli, tempDir, until, loopbackFlags } from '../helpers/cli-process.ts'
import { playlist } from './live-stream-tools.ts'

interface Started { udp: string; http: string; id: string }

async function rangeStatus(http: string, id: string, start: number, end: number): Promise<number> {
  const res = await fetch(`${http}/streams/${id}/media.ts`, { headers: { range: `bytes=${start}-${end}` }, signal: AbortSignal.timeout(5000) })
  await res.arrayBuffer()
  return res.status
}

async function floorOf(streamDir: string): Promise<number> {
  return Number((await readFile(join(streamDir, 'floor'), 'utf8').catch(() => '0')).trim())
}

async function pieces(streamDir: string): Promise<{ count: number; bytes: number; first: number }> {
  const names = (await readdir(streamDir)).filter((f) => /^data\.\d+$/.test(f))
  let bytes = 0
  for (const n of names) bytes += (await stat(join(streamDir, n))).blocks * 512
  return { count: names.length, bytes, first: Math.min(...names.map((n) => Number(n.slice(5)))) }
}

test('a viewer with --keep 10s deletes what falls out, never serves it, relays the edge, and keeps its floor across a restart', { timeout: 200_000 }, async (t) => {
  if (!existsSync('/usr/bin/ffmpeg')) { console.warn('SKIPPED: ffmpeg not installed (apt-get install -y ffmpeg)'); t.skip('no ffmpeg'); return }
  const dir = await tempDir(t, 'cjp2p-retention-')
  const source = startCli(t, ['ingest', 'testsrc', '--name', 'keep', '--json', ...loopbackFlags(join(dir, 'source'))])
  const src = await source.firstJson<Started>()
  const [, key, name] = src.id.split('/')
  const v1Args = ['watch', src.id, '--peer', src.udp, '--keep', '10s', '--json', ...loopbackFlags(join(dir, 'v1'))]
  let v1p = startCli(t, v1Args)
  let v1 = await v1p.firstJson<Started>()
  const v1Stream = join(dir, 'v1', 'streams', key, name)
  const v2 = await startCli(t, ['watch', src.id, '--peer', v1.udp, '--json', ...loopbackFlags(join(dir, 'v2'))]).firstJson<Started>()

  // Let the window fill and move on: 10 s of stream, then well past it.
  const firstPlaylist = await until('viewer 1 lists segments', 60_000, () => playlist(v1.http, src.id).then((p) => p && p.segments.length > 0 ? p : null))
  const early = firstPlaylist.segments[0]
  await until('viewer 1 deleted its first segment', 90_000, async () => (await floorOf(v1Stream)) * 16384 > early.offset + early.length)
  const floor = await floorOf(v1Stream)
  const onDisk = await pieces(v1Stream)
  console.log(`viewer 1: floor chunk ${floor}, ${onDisk.count} data pieces, ${(onDisk.bytes / 1e6).toFixed(1)} MB on disk`)
  // 10 s at about 1.7 Mb/s is ~2.2 MB; pieces are ~19 chunks, so a few linger past the window at most.
  assert.ok(onDisk.bytes < 6e6, `${onDisk.bytes} bytes of data on disk for a 10 s window`)

  // Deleted: 416 at the viewer, still 206 at the source (which keeps everything).
  assert.equal(await rangeStatus(v1.http, src.id, early.offset, early.offset + early.length - 1), 416)
  assert.equal(await rangeStatus(src.http, src.id, early.offset, early.offset + early.length - 1), 206)
  const p1 = (await playlist(v1.http, src.id))!
  assert.ok(p1.segments.every((s) => s.offset >= floor * 16384), 'the playlist lists nothing deleted')
  for (const s of p1.segments.slice(-2)) assert.equal(await rangeStatus(v1.http, src.id, s.offset, s.offset + s.length - 1), 206)

  // Viewer 2 (fed by viewer 1 only) plays the live edge.
  const v2seq = await until('viewer 2 lists segments', 60_000, () => playlist(v2.http, src.id).then((p) => p && p.segments.length > 0 ? p : null))
  await until('viewer 2 gets newer segments', 30_000, async () => ((await playlist(v2.http, src.id))?.mediaSequence ?? 0) > v2seq.mediaSequence + 2)

  // Restart viewer 1: the floor and the deletions stay, and it keeps up with the stream.
  await v1p.stop()
  v1p = startCli(t, v1Args)
  v1 = await v1p.firstJson<Started>()
  assert.ok(await floorOf(v1Stream) >= floor)
  assert.equal(await rangeStatus(v1.http, src.id, early.offset, early.offset + early.length - 1), 416)
  const before = p1.mediaSequence
  await until('viewer 1 lists newer segments after its restart', 60_000, async () => ((await playlist(v1.http, src.id))?.mediaSequence ?? 0) > before + 3)
  await until('viewer 1 trims again after its restart', 60_000, async () => (await floorOf(v1Stream)) > floor)
})
