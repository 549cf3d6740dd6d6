// kill -9 in the middle of everything, then a restart: the node's state comes back from state.db.
// B runs as a real process: it knows A (a peer with a key) and A's DHT announcement, has banned a
// raw socket that sent it path tricks, and is halfway through downloading A's 96 MiB file when it
// is killed with SIGKILL. Restarted on the same folder (a new port), it restores the peers with
// their scores and ban, its DHT contact and the announcement it held, and resumes the transfer by
// itself, fetching only the blocks it had not verified.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runCli, startCli, tempDir, until, loopbackFlags } from '../helpers/cli-process.ts'
import { durableBlocks } from '../helpers/gateway-swarm.ts'
import type { NodeStatus } from '../../src/metrics/node-status.ts'
import { sqliteDriver } from '../../src/store/sqlite-driver.ts'

const SIZE = 96 * 1024 * 1024
const driver = sqliteDriver()

test('kill -9 mid-transfer, restart: peers, scores, bans, DHT table, announcements and the transfer come back', {
  timeout: 240_000, skip: driver.driver ? false : `no SQLite binding loads on Node ${process.versions.node}: ${driver.why}`,
}, async (t) => {
  const dir = await tempDir(t, 'cjp2p-state-')
  const content = randomBytes(SIZE)
  const want = createHash('sha256').update(content).digest('hex')
  const file = join(dir, 'big film.bin')
  await writeFile(file, content)
  assert.equal((await runCli(['share', file, '--dir', join(dir, 'a')])).code, 0)

  const b1 = startCli(t, ['node', '--json', ...loopbackFlags(join(dir, 'b'))])
  const bInfo = await b1.firstJson<{ udp: string; http: string }>()
  const a = startCli(t, ['node', '--json', '--peer', bInfo.udp, ...loopbackFlags(join(dir, 'a'))])
  const aInfo = await a.firstJson<{ udp: string }>()
  const status = (http: string) => fetch(`${http}/status.json`).then((r) => r.json() as Promise<NodeStatus>).catch(() => null)
  await until('B to hold A\'s announcement and A as a DHT contact', 60_000, async () => {
    const s = await status(bInfo.http)
    return s && s.dht.providerKeys >= 1 && s.dht.contacts >= 1
  })

  // A stranger sends path tricks (each a 'lie') until B bans it.
  const raw = createSocket('udp4')
  await new Promise<void>((r) => raw.bind(0, '127.0.0.1', r))
  t.after(() => raw.close())
  const rawAddr = `127.0.0.1:${raw.address().port}`
  const [bHost, bPort] = [bInfo.udp.slice(0, bInfo.udp.lastIndexOf(':')), Number(bInfo.udp.slice(bInfo.udp.lastIndexOf(':') + 1))]
  await until('B to ban the stranger', 30_000, async () => {
    raw.send(JSON.stringify([{ PleaseSendContent: { id: '../etc/passwd', offset: 0, length: 4096 } }]), bPort, bHost)
    return (await status(bInfo.http))?.peers.find((p) => p.addr === rawAddr)?.banned
  }, 100)

  // The ban and A's key reach state.db within a snapshot interval (15 s).
  const db = driver.driver!.open(join(dir, 'b', 'state.db'))
  t.after(() => db.close())
  const count = (sql: string, ...params: Array<string | number>) => (db.prepare(sql).get(...params) as { n: number }).n
  await until('B\'s snapshot to hold the ban and A\'s key', 40_000, () =>
    count('SELECT count(*) AS n FROM peers WHERE addr = ? AND banned_until > ?', rawAddr, Date.now()) === 1 &&
    count('SELECT count(*) AS n FROM peers WHERE addr = ? AND public_key IS NOT NULL', aInfo.udp) === 1, 200)

  // The download, through B's local API; killed once part of it is durable (the journal has it at
  // once). Blocks become durable in batches (4 MiB or a second, file-download.ts): the bytes the API
  // counts may all be in the batch a kill loses, which a loaded machine once did (nothing resumed).
  const api = JSON.parse(await readFile(join(dir, 'b', 'api.json'), 'utf8')) as { http: string; token: string }
  const started = await fetch(`${api.http}/api/fetches`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-cjp2p-token': api.token }, body: JSON.stringify({ id: want, peers: [aInfo.udp] }) })
  assert.ok(started.ok, await started.text())
  const sidecar = join(dir, 'b', 'shared', 'incoming', `${want}.blocks`)
  const mid = await until('part of the file to be durable', 60_000, async () => {
    if ((await durableBlocks(sidecar)) === 0) return null
    return fetch(`${api.http}/api/fetches/${want}`).then((r) => r.json() as Promise<{ bytes: number; state: string }>)
  }, 20)
  assert.equal(count('SELECT count(*) AS n FROM transfers WHERE id = ?', want), 1, 'the transfer is in the journal')
  const killed = await b1.kill9()
  assert.equal(killed.signal, 'SIGKILL')
  assert.ok(mid.bytes < SIZE && mid.state === 'downloading', `killed mid-transfer (${mid.bytes} of ${SIZE} bytes)`)

  const b2 = startCli(t, ['node', '--json', ...loopbackFlags(join(dir, 'b'))])
  const b2Info = await b2.firstJson<{ udp: string; http: string }>()
  const s = await status(b2Info.http)
  assert.ok(s)
  assert.ok(s.peers.find((p) => p.addr === rawAddr)?.banned, 'the ban came back')
  assert.ok(s.peers.find((p) => p.addr === rawAddr)!.penalty >= 50, 'with its score')
  assert.ok(s.dht.providerKeys >= 1, 'the announcement B held came back')
  assert.match(b2.stderr, /state\.db: \d+ peer\(s\), [1-9]\d* DHT contact\(s\), [1-9]\d* announcement\(s\), 1 transfer\(s\) in progress restored/)
  // The transfer resumes by itself and completes byte-exact, without fetching again what was verified.
  const done = await until('the resumed transfer to complete', 120_000, async () => {
    const f = await fetch(`${b2Info.http}/api/fetches/${want}`).then((r) => (r.ok ? r.json() as Promise<{ state: string; resumedBlocks: number | null }> : null)).catch(() => null)
    return f?.state === 'done' ? f : null
  })
  assert.ok((done.resumedBlocks ?? 0) > 0, `blocks verified before the kill were not fetched again (${done.resumedBlocks})`)
  assert.equal(createHash('sha256').update(await readFile(join(dir, 'b', 'shared', want))).digest('hex'), want)
  assert.equal(count('SELECT count(*) AS n FROM transfers'), 0, 'a finished transfer leaves the journal')
})
