// The status line of `ingest` and `watch`: on a terminal (a real pseudo-terminal through util-linux
// `script`) one line redrawn in place, so the stream id and URLs printed above it stay on screen;
// plain lines without escape codes when the output is not a terminal.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, REPO, sleep, startCli, tempDir, until } from '../helpers/cli-process.ts'

const noScript = spawnSync('script', ['--version']).status === 0 ? false : 'SKIPPED LOUDLY: util-linux `script` is missing'
const noFfmpeg = existsSync('/usr/bin/ffmpeg') ? false : 'SKIPPED LOUDLY: /usr/bin/ffmpeg is missing (apt-get install ffmpeg)'
const ESC = '\x1b[K'
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/** Runs the command on a pseudo-terminal for `ms`, then Ctrl-C; returns everything the terminal showed. */
async function onTerminal(args: string[], env: Record<string, string>, ms: number): Promise<string> {
  const cmd = [process.execPath, ...CLI, ...args].map(quote).join(' ')
  const p = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: REPO, env: { ...process.env, ...env, TERM: 'xterm', COLUMNS: '200' }, stdio: ['pipe', 'pipe', 'pipe'], detached: true })
  let out = ''
  p.stdout.setEncoding('utf8').on('data', (s: string) => { out += s })
  const exited = new Promise((r) => p.once('close', r))
  await until('the status line', ms + 60_000, () => out.split(ESC).length > 4 || p.exitCode !== null, 100)
  await sleep(1500)
  try { process.kill(-p.pid!, 'SIGINT') } catch { /* gone */ }
  const timer = setTimeout(() => { try { process.kill(-p.pid!, 'SIGKILL') } catch { /* gone */ } }, 15_000)
  await exited
  clearTimeout(timer)
  return out
}

function assertInPlace(out: string, prefix: RegExp, header: RegExp): void {
  assert.match(out, header, 'the header is printed')
  const draws = out.split(ESC).slice(1).filter((s) => prefix.test(s))
  assert.ok(draws.length >= 3, `redrawn several times (${draws.length}):\n${JSON.stringify(out.slice(-1500))}`)
  const rows = out.split('\n').filter((l) => prefix.test(l.replace(/.*\x1b\[K/, ''))) // eslint-disable-line no-control-regex
  assert.ok(rows.length <= 2, `the status stays on one row (${rows.length} rows carry it)`)
}

test('watch: one status line in place on a terminal, plain lines otherwise', { timeout: 180_000, skip: noScript }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-tty-watch-')
  const id = `stream/${'ab'.repeat(32)}/sky`
  const args = ['watch', id, '--host', '127.0.0.1', '--port', '0', '--http-port', '0', '--dir', join(dir, 'w')]
  const tty = await onTerminal(args, { NO_COLOR: '1' }, 4000)
  assertInPlace(tty, /^recv /, /player: http:\/\/127\.0\.0\.1:\d+\/watch\//)

  const plain = startCli(t, [...args.slice(0, -1), join(dir, 'p')])
  await until('plain status lines', 60_000, () => (plain.stderr.match(/^recv /gm) ?? []).length >= 3)
  assert.ok(!plain.stderr.includes('\x1b'), 'no escape codes off a terminal')
})

test('ingest: one status line in place on a terminal, plain lines otherwise', { timeout: 180_000, skip: noScript || noFfmpeg }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-tty-ingest-')
  const args = ['ingest', 'testsrc', '--name', 'tty', '--host', '127.0.0.1', '--port', '0', '--http-port', '0', '--dir', join(dir, 'i')]
  const tty = await onTerminal(args, { NO_COLOR: '1', XDG_DATA_HOME: join(dir, 'xdg') }, 4000)
  assertInPlace(tty, /^in \d/, /stream id: stream\/[0-9a-f]{64}\/tty/)

  const plain = startCli(t, [...args.slice(0, -1), join(dir, 'p')], { env: { XDG_DATA_HOME: join(dir, 'xdg') } })
  await until('plain status lines', 60_000, () => (plain.stderr.match(/^in \d/gm) ?? []).length >= 3)
  assert.ok(!plain.stderr.includes('\x1b'), 'no escape codes off a terminal')
})
