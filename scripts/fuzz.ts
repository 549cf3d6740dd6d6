// `npm run fuzz -- --seconds N [--sockets K] [--seed S]`: throws random and mutated datagrams at a
// LIVE node (a Runtime carrying a live stream and a shared file, real UDP on loopback) from several
// sockets, some of which echo the node's cookie (verified attackers get the bigger replies), then
// checks that an honest viewer still gets the stream while a poisoner (junk blocks for the chunks
// about to come, claiming to be the source) and stripe squatters (two per stripe, holding the
// source's child slots and feeding nothing) attack it. Reports datagrams tried, crashes (an
// uncaught exception or unhandled rejection anywhere in this process counts), peak RSS and heap,
// the poisoner's ban and the viewer's longest wait for a new segment.
import dgram from 'node:dgram'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { scriptFlags } from './script-args.ts'
import { randomBytes } from 'node:crypto'
import { Runtime } from '../src/runtime.ts'
import { silentLogger } from '../src/util/logger.ts'
import { encodeMessage } from '../src/mesh/messages.ts'
import type { Message } from '../src/mesh/messages.ts'
import { parseAddress } from '../src/mesh/transport.ts'
import { CHUNK_SIZE } from '../src/store/stream-types.ts'
import { STRIPES } from '../src/mesh/messages.ts'
import { PATH_TRICKS, mutateDatagram, packedDatagram, rng, sampleMessages } from './fuzz-corpus.ts'
import { Poisoner, Squatter } from './hostile-peers.ts'
import { SegmentGaps } from './segment-gaps.ts'

const values = scriptFlags('fuzz', 'npm run fuzz -- [--seconds 20] [--sockets 8] [--seed S]', { seconds: { type: 'string', default: '20' }, sockets: { type: 'string', default: '8' }, seed: { type: 'string', default: String(Date.now() % 1e9) } })
const seconds = Number(values.seconds)
const sockets = Number(values.sockets)
const seed = Number(values.seed)
if (!(seconds > 0) || !(sockets > 0) || !Number.isFinite(seed)) { console.error('usage: npm run fuzz -- --seconds N [--sockets K] [--seed S]'); process.exit(2) }

const crashes: string[] = []
process.on('uncaughtException', (e) => { crashes.push(`uncaughtException: ${e?.stack ?? e}`) })
process.on('unhandledRejection', (e) => { crashes.push(`unhandledRejection: ${(e as Error)?.stack ?? e}`) })

const peak = { rss: 0, heap: 0 }
const sample = () => { const m = process.memoryUsage(); peak.rss = Math.max(peak.rss, m.rss); peak.heap = Math.max(peak.heap, m.heapUsed) }
const memTimer = setInterval(sample, 100)
const mb = (n: number) => (n / 2 ** 20).toFixed(1)

const dir = await mkdtemp(join(tmpdir(), 'cjp2p-fuzz-'))
const target = await Runtime.start({ dir: join(dir, 'target'), host: '127.0.0.1', port: 0, httpPort: null, logger: silentLogger, role: 'source', processMetrics: false })
const { log } = await target.startSource('fuzz', { format: 'ts', targetDuration: 1 })
await writeFile(join(dir, 'file.bin'), randomBytes(200_000))
const fileId = await target.files.share(join(dir, 'file.bin'))
// The live stream: 2 Mb/s of random bytes, a segment every 500 ms.
let segStart = 0
let segAt = Date.now()
let appended = 0
let feeding = false
const feed = setInterval(() => {
  if (feeding) return
  feeding = true
  void (async () => {
    await log.append(randomBytes(10_000)); appended += 10_000
    if (Date.now() - segAt >= 500) {
      await log.addSegment({ offset: segStart, length: appended - segStart, duration: (Date.now() - segAt) / 1000, pdt: segAt, discontinuity: false })
      segStart = appended; segAt = Date.now()
    }
  })().finally(() => { feeding = false })
}, 40)

const to = parseAddress(target.udpAddress)!
const samples: Message[] = sampleMessages({ streamId: log.id, fileId, peers: ['127.0.0.1:1', '127.0.0.1:9', '127.0.0.3:24254'] })
samples.push(...PATH_TRICKS.map((id) => ({ type: 'PleaseSendContent', id, offset: 0, length: 4096 }) as Message))
const r = rng(seed)
const encoded = samples.map((m) => Buffer.from(JSON.stringify([encodeMessage(m)])))
const deep = (n: number) => Buffer.from(`[{"PleaseAlwaysReturnThisMessage":${'['.repeat(n)}${']'.repeat(n)}}]`)

/** One attack datagram: the mix is random bytes, mutated samples, packed valid ones, hostile shapes. */
function nextDatagram(cookie: unknown): Buffer {
  const x = r()
  const withCookie = (b: Buffer) => cookie === undefined ? b : Buffer.concat([Buffer.from(`[${JSON.stringify({ AlwaysReturned: cookie })},`), b.subarray(1)])
  if (x < 0.15) return randomBytes(1 + Math.floor(r() * 1500))
  if (x < 0.6) return withCookie(mutateDatagram(encoded[Math.floor(r() * encoded.length)], Math.floor(r() * 2 ** 31)))
  if (x < 0.85) return withCookie(packedDatagram(samples, r, 1000 + Math.floor(r() * 7000)))
  if (x < 0.9) return deep(1000 + Math.floor(r() * 20000))
  if (x < 0.95) return Buffer.from(JSON.stringify([{ PleaseSendContent: { id: 'x'.repeat(1 + Math.floor(r() * 30000)), offset: 0, length: 1 } }]))
  return Buffer.from(JSON.stringify([{ Content: { id: log.id, offset: Math.floor(r() * 100) * CHUNK_SIZE, base64: 'A'.repeat(4 * Math.floor(r() * 3000)) + '=!' } }]))
}

interface Attacker { sock: dgram.Socket; cookie?: unknown; echoes: boolean; sent: number }
/** Datagrams one attacking socket sends before a fresh one replaces it. */
const SOCKET_LIFETIME = 60
let tried = 0
let repliesIn = 0
const attackers: Attacker[] = []
async function newAttacker(echoes: boolean): Promise<Attacker> {
  const sock = dgram.createSocket('udp4')
  await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()))
  const a: Attacker = { sock, echoes, sent: 0 }
  sock.on('message', (m) => {
    repliesIn++
    if (!a.echoes) return
    try {
      for (const e of JSON.parse(m.toString()) as Record<string, unknown>[]) if ('PleaseAlwaysReturnThisMessage' in e) a.cookie = e.PleaseAlwaysReturnThisMessage
    } catch { /* garbage back is fine */ }
  })
  sock.on('error', () => {})
  return a
}
for (let i = 0; i < sockets; i++) attackers.push(await newAttacker(i % 2 === 0))

const end = Date.now() + seconds * 1000
let lastReport = Date.now()
while (Date.now() < end) {
  // Fresh addresses often: path tricks and floods get a socket banned within ~10 datagrams of
  // the kind, and a banned socket only exercises the ban check.
  for (let i = 0; i < attackers.length; i++) {
    if (attackers[i].sent < SOCKET_LIFETIME) continue
    attackers[i].sock.close()
    attackers[i] = await newAttacker(attackers[i].echoes)
  }
  const batch: Promise<void>[] = []
  for (const a of attackers) {
    const d = nextDatagram(a.cookie)
    if (d.length > 65507) continue
    tried++
    a.sent++
    batch.push(new Promise((res) => a.sock.send(d, to.port, to.host, () => res())))
  }
  await Promise.all(batch)
  if (tried % 64 < attackers.length) await new Promise((res) => setImmediate(res))
  if (Date.now() - lastReport > 5000) {
    lastReport = Date.now()
    console.error(`fuzz: ${tried} datagrams, rss ${mb(process.memoryUsage().rss)} MiB, crashes ${crashes.length}`)
  }
}
for (const a of attackers) a.sock.close()

// Afterwards an honest viewer joins and must receive fresh verified chunks, with squatters holding
// the source's stripe slots from before it came and a poisoner aiming junk at it.
const squatters: Squatter[] = []
for (let s = 0; s < STRIPES; s++) for (let k = 0; k < 2; k++) squatters.push(await Squatter.open(log.id, s, target.udpAddress))
for (const q of squatters) q.start()
await new Promise((res) => setTimeout(res, 1500))
const squatting = target.streams.get(log.id)!.status().children.filter((kids) => kids.some((k) => squatters.some((q) => q.address === k))).length
// The attack used thousands of ports on this host and the target banned most of them: a fresh
// socket may be handed one of those ports again, and a banned address is rightly ignored.
const isBannedAtTarget = (addr: string) => { const p = target.node.peers.get(addr); return p !== undefined && target.node.peers.isBanned(p) }
let viewer = await Runtime.start({ dir: join(dir, 'viewer'), host: '127.0.0.1', port: 0, httpPort: null, logger: silentLogger, role: 'viewer', processMetrics: false })
for (let i = 1; isBannedAtTarget(viewer.udpAddress) && i < 20; i++) {
  await viewer.close()
  viewer = await Runtime.start({ dir: join(dir, `viewer${i}`), host: '127.0.0.1', port: 0, httpPort: null, logger: silentLogger, role: 'viewer', processMetrics: false })
}
const watched = await viewer.watch(log.id, [target.udpAddress])
const poisoner = await Poisoner.open(log.id, [viewer.udpAddress])
let poisonBanAt = -1
const poisonedChunks = new Set<number>()
watched.swarm.on('bad-block', (n: number, from: string) => { if (from === poisoner.address && poisonBanAt < 0) poisonedChunks.add(n) })
viewer.node.on('penalised', (addr: string, _r: string, banned: boolean) => { if (addr === poisoner.address && banned && poisonBanAt < 0) poisonBanAt = Date.now() })
poisoner.start()
const gaps = new SegmentGaps(watched.log, () => watched.swarm.status().startChunk)
const t0 = Date.now()
let honestOk = false
while (Date.now() - t0 < 15_000) {
  if (watched.log.verifiedCount() >= 20) { honestOk = true; break }
  await new Promise((res) => setTimeout(res, 100))
}
const joinMs = Date.now() - t0
// Ten seconds of watching under attack: how long did the player have to live on its buffer?
await new Promise((res) => setTimeout(res, 10_000))
gaps.stop()
poisoner.close()
for (const q of squatters) q.close()
clearInterval(feed)
clearInterval(memTimer)
sample()
const counters = target.node.counters
const dropped = Object.entries(counters.dropped).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}=${v}`).join(' ')
const banned = target.node.peers.all().filter((p) => target.node.peers.isBanned(p)).length
await viewer.close()
await target.close()
await rm(dir, { recursive: true, force: true })

const report = {
  seconds, seed, sockets, datagramsTried: tried, datagramsReceivedByNode: counters.datagramsIn, repliesToAttackers: repliesIn,
  crashes: crashes.length, peakRssMiB: Number(mb(peak.rss)), peakHeapMiB: Number(mb(peak.heap)),
  ampMaxRatio: Number(counters.ampMaxRatio.toFixed(3)), helloAllowanceBytes: counters.ampHelloBytes, bannedAddresses: banned, dropped,
  honestViewer: honestOk ? `ok: 20 verified chunks in ${joinMs} ms` : `FAILED after ${joinMs} ms (${watched.log.verifiedCount()} chunks)`,
  squattedStripesAtJoin: `${squatting}/${STRIPES}`,
  poisoner: poisonBanAt > 0 ? `banned after junk in ${poisonedChunks.size} chunk(s), ${poisoner.junkBlocks} junk blocks sent` : `NOT banned (${poisoner.junkBlocks} junk blocks sent)`,
  viewerSegments: `${gaps.segments}, startup ${gaps.startupMs} ms, longest gap ${gaps.maxGapMs} ms (segments are 500 ms, 3 buffered)`,
}
console.log('| metric | value |\n|---|---|')
for (const [k, v] of Object.entries(report)) console.log(`| ${k} | ${v} |`)
for (const c of crashes.slice(0, 5)) console.error(c)
process.exit(crashes.length === 0 && honestOk && poisonBanAt > 0 ? 0 : 1)
