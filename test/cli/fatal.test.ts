// Errors that end what a command exists for, through real processes: each prints one line and the
// process is gone within seconds (exit 1), with nothing created for a flag that was wrong (exit 2);
// Ctrl-C ends a node, and a second Ctrl-C ends it at once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runCli, startCli, tempDir, until, loopbackFlags } from '../helpers/cli-process.ts'

const FFMPEG = '/usr/bin/ffmpeg'
const noFfmpeg = existsSync(FFMPEG) ? false : `SKIPPED LOUDLY: ${FFMPEG} is missing (apt-get install ffmpeg)`

test('bad flags exit 2 before anything is created on disk', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-usage-')
  const cwd = join(dir, 'cwd')
  await mkdir(cwd)
  const env = { XDG_DATA_HOME: join(dir, 'xdg'), CJP2P_DIR: undefined, CJP2P_PORT: undefined, CJP2P_HTTP_PORT: undefined }
  for (const [args, want] of [
    [['ingest', 'testsrc', '--bitrate', 'lots'], /bitrate must look like 1500k or 2M, got "lots"/],
    [['ingest', 'testsrc', '--segment-seconds', '500'], /segment seconds must be/],
    [['ingest', 'testsrc', '--name', '../up'], /bad stream name/],
    [['node', '--peer', '127.0.0.1:99999'], /peer 127\.0\.0\.1:99999: port 99999 is out of range \(1\.\.65535\)/],
    [['get', 'ab'.repeat(32), '--peer', '127.0.0.1:0'], /port 0 is out of range/],
    [['watch', `stream/${'ab'.repeat(32)}/x`, '--peer', 'nohost'], /bad peer address "nohost" \(want host:port\)/],
    [['node', '--port', '70000'], /not a port number/],
  ] as Array<[string[], RegExp]>) {
    const r = await runCli(args, { cwd, env })
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, want, args.join(' '))
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`)
    assert.deepEqual(await readdir(cwd), [], `${args.join(' ')} created nothing in the working directory`)
    assert.ok(!existsSync(join(dir, 'xdg')), `${args.join(' ')} created no key folder`)
  }
})

test('ingest of a file that does not exist: one line, exit 1, no stream id, nothing created', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-noinput-')
  const r = await runCli(['ingest', join(dir, 'missing.mp4'), '--port', '0', '--http-port', '0'], { cwd: dir, env: { XDG_DATA_HOME: join(dir, 'xdg') } })
  assert.equal(r.code, 1, r.stderr)
  assert.equal(r.stdout, '', 'no stream id or URL was printed')
  assert.match(r.stderr, /^cjp2p-stream: .*missing\.mp4: no such file \(ERR_NO_INPUT\)\n$/)
  assert.deepEqual(await readdir(dir), [], 'nothing was created')

  const share = await runCli(['share', join(dir, 'missing.jpg')], { cwd: dir })
  assert.equal(share.code, 1, share.stderr)
  assert.match(share.stderr, /^cjp2p-stream: .*missing\.jpg: no such file \(ERR_NO_INPUT\)\n$/)
  assert.deepEqual(await readdir(dir), [], 'share created no shared/ for a missing file')
})

test('ffmpeg failing before the first segment: its last line, exit 1, no stream id printed', { timeout: 60_000, skip: noFfmpeg }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-noseg-')
  const wrapper = join(dir, 'ffmpeg')
  await writeFile(wrapper, `#!/bin/sh\ncase "$*" in *-version*) exec ${FFMPEG} "$@";; esac\necho "/dev/video7: camera unplugged" >&2\nexit 1\n`)
  await chmod(wrapper, 0o755)
  const started = Date.now()
  const r = await runCli(['ingest', 'testsrc', '--ffmpeg', wrapper, ...loopbackFlags(join(dir, 'n'))], { timeoutMs: 30_000 })
  assert.equal(r.code, 1, r.stderr)
  assert.equal(r.stdout, '', 'no stream id or URL for a stream that never existed')
  assert.match(r.stderr.trim().split('\n').at(-1)!, /^cjp2p-stream: ffmpeg failed before its first segment: .*\(ERR_FFMPEG_FAILED\)$/)
  assert.ok(Date.now() - started < 20_000)
})

test('a --dir the node cannot write: node and ingest print one line and exit 1 within seconds', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-baddir-')
  const env = { XDG_DATA_HOME: join(dir, 'xdg') }
  // A file where the node's folders go fails the way a read-only folder does, for root as well.
  const blocked = async (name: string, file: string) => {
    const d = join(dir, name)
    await mkdir(d, { recursive: true })
    await writeFile(join(d, file), 'not a folder')
    return d
  }
  for (const [args, want] of [
    [['node', ...loopbackFlags(await blocked('n', 'shared'))], /shared/],
    [['ingest', 'testsrc', '--name', 'sky', ...loopbackFlags(await blocked('i', 'streams'))], /streams/],
    [['ingest', 'testsrc', '--name', 'sky', ...loopbackFlags(await blocked('k', 'keys'))], /keys/],
  ] as Array<[string[], RegExp]>) {
    const started = Date.now()
    const r = await runCli(args, { env, timeoutMs: 30_000 })
    assert.equal(r.code, 1, `${args.join(' ')} exits 1: ${r.signal ?? ''} ${r.stderr}`)
    assert.match(r.stderr, want)
    assert.match(r.stderr.trim().split('\n').at(-1)!, /^cjp2p-stream: /)
    assert.equal(r.stdout, '')
    assert.ok(Date.now() - started < 20_000, `gone within seconds (${Date.now() - started} ms)`)
  }
})

test('Ctrl-C stops a node cleanly; a second Ctrl-C stops it at once', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-sigint-')
  const a = startCli(t, ['node', '--json', ...loopbackFlags(join(dir, 'a'))])
  await a.firstJson()
  a.proc.kill('SIGINT')
  const ea = await a.exited
  assert.equal(ea.code, 0, a.stderr)
  assert.match(a.stderr, /stopping/)

  const b = startCli(t, ['node', '--json', ...loopbackFlags(join(dir, 'b'))])
  await b.firstJson()
  const sent = Date.now()
  b.proc.kill('SIGINT')
  b.proc.kill('SIGINT')
  const eb = await b.exited
  // The second may find the clean stop done (0), cut it short (130), or land after the handlers are
  // gone, when SIGINT's default ends the process: all end it promptly.
  assert.ok(eb.code === 0 || eb.code === 130 || eb.signal === 'SIGINT', `exit ${JSON.stringify(eb)}`)
  assert.ok(Date.now() - sent < 8000, 'ended promptly')
})

test('a failing ingest --tail stops its status lines and exits 1', { timeout: 120_000, skip: noFfmpeg }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-tailfail-')
  // Another program's HLS: a few byte-range segments in one file, no end list yet.
  const hls = join(dir, 'cam')
  await mkdir(hls)
  const { spawnSync } = await import('node:child_process')
  const ff = spawnSync(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10', '-t', '4',
    '-c:v', 'libx264', '-g', '10', '-f', 'hls', '-hls_time', '1', '-hls_flags', 'single_file', '-hls_list_size', '0', join(hls, 'stream.m3u8')])
  assert.equal(ff.status, 0, String(ff.stderr))
  const { readFile, truncate } = await import('node:fs/promises')
  const playlist = (await readFile(join(hls, 'stream.m3u8'), 'utf8')).replace('#EXT-X-ENDLIST\n', '')
  await writeFile(join(hls, 'stream.m3u8'), playlist)
  const p = startCli(t, ['ingest', '--tail', join(hls, 'stream.ts'), '--name', 'cam', ...loopbackFlags(join(dir, 'node'))], { env: { XDG_DATA_HOME: join(dir, 'xdg') } })
  await until('the tail to ingest the segments', 30_000, () => /stream id: /.test(p.stdout) && /in \d/.test(p.stderr))
  // The followed file shrinks under it: its bytes can no longer be trusted, which is fatal.
  await truncate(join(hls, 'stream.ts'), 100)
  const e = await Promise.race([p.exited, new Promise<null>((r) => setTimeout(() => r(null), 20_000))])
  assert.ok(e, `still running 20 s after its fatal error: ${p.stderr.slice(-800)}`)
  assert.equal(e.code, 1, p.stderr)
  const lines = p.stderr.trim().split('\n')
  assert.match(lines.at(-1)!, /^cjp2p-stream: /, 'the last line is the error')
  const after = lines.slice(lines.findIndex((l) => /failed|truncat|shr/i.test(l)))
  assert.ok(!after.some((l) => /^in \d/.test(l)), `no status line after the failure:\n${after.join('\n')}`)
})
