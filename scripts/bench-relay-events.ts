// `npm run bench:relay-events -- [--chunks 2000] [--duplicates 1] [--datagrams 20000]`
// What a relaying viewer's per-event work costs in CPU on this machine, with the shipped code and
// real files and sockets, apart from the mesh's scheduling: each chunk of a stream taken the way a
// relay takes it (its signed record, the same record again as every duplicate push or pull answer
// brings it, then its bytes stored), and 4 KiB datagrams through a real UDP socket on 127.0.0.1.
// CPU is the process's user + system time, every thread's (libuv's thread pool included), so it
// moves less with the machine's load than wall time does; the report prints the load beside it.
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { scriptFlags } from './script-args.ts'
import { StreamLog } from '../src/store/stream-log.ts'
import { generateStreamKey } from '../src/store/keys.ts'
import { CHUNK_SIZE, type ChunkRecord } from '../src/store/stream-types.ts'
import { UdpTransport } from '../src/mesh/transport.ts'

const USAGE = 'npm run bench:relay-events -- [--chunks 2000] [--duplicates 1] [--datagrams 20000]'
const values = scriptFlags('bench:relay-events', USAGE, { chunks: { type: 'string' }, duplicates: { type: 'string' }, datagrams: { type: 'string' } })
const chunks = Number(values.chunks ?? 2000)
const duplicates = Number(values.duplicates ?? 1)
const datagrams = Number(values.datagrams ?? 20_000)
if (![chunks, duplicates, datagrams].every(Number.isInteger) || chunks < 10 || duplicates < 0 || datagrams < 100) {
  process.stderr.write(`bench:relay-events: integers please (--chunks >= 10, --duplicates >= 0, --datagrams >= 100)\n${USAGE}\n`)
  process.exit(2)
}

const cpuUs = (): number => { const u = process.cpuUsage(); return u.user + u.system }

/** A record as it arrives: a new object parsed from the wire, not the one the source holds. */
const wire = (r: ChunkRecord): ChunkRecord => JSON.parse(JSON.stringify(r)) as ChunkRecord

async function storePath(dir: string): Promise<number> {
  const src = await StreamLog.createSource(join(dir, 'src'), generateStreamKey(), 'bench', { format: 'ts', targetDuration: 1 })
  const bytes = Buffer.alloc(chunks * CHUNK_SIZE)
  for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE((i * 2654435761) >>> 0, i)
  await src.append(bytes)
  const records = Array.from({ length: chunks }, (_, n) => src.chunkRecord(n)!)
  const rep = await StreamLog.openReplica(join(dir, 'rep'), src.id)
  const t0 = cpuUs()
  for (let n = 0; n < chunks; n++) {
    if (rep.putChunkRecord(wire(records[n])).result !== 'accept') throw new Error(`chunk ${n}'s record was not taken`)
    for (let d = 0; d < duplicates; d++) rep.putChunkRecord(wire(records[n]))
    if ((await rep.putChunk(n, bytes.subarray(n * CHUNK_SIZE, (n + 1) * CHUNK_SIZE))).result !== 'accept') throw new Error(`chunk ${n} was not stored`)
  }
  await rep.flush()
  const us = (cpuUs() - t0) / chunks
  await rep.close()
  await src.close()
  return us
}

async function socketPath(): Promise<number> {
  const a = await UdpTransport.bind()
  const b = await UdpTransport.bind()
  let got = 0
  b.onDatagram(() => { got++ })
  const block = Buffer.alloc(4096 + 300, 0x61)
  const t0 = cpuUs()
  // In bursts of 32, waiting for them to arrive: a full socket buffer would drop them, uncounted.
  for (let sent = 0; sent < datagrams;) {
    for (let i = 0; i < 32 && sent < datagrams; i++, sent++) a.send(block, b.address)
    const until = Date.now() + 1000
    while (got < sent - 4 && Date.now() < until) await new Promise((r) => setImmediate(r))
  }
  const us = (cpuUs() - t0) / datagrams
  await a.close()
  await b.close()
  return us
}

const dir = await mkdtemp(join(tmpdir(), 'cjp2p-relay-events-'))
try {
  const load = loadavg()[0]
  const store = await storePath(dir)
  const socket = await socketPath()
  const perMinute = (us: number, perSecond: number): string => (us * perSecond * 60 / 1e6).toFixed(3)
  // At 1 Mb/s a chunk is 16 KiB: 7.6 chunks a second; a relay feeding one child receives each chunk as 4 blocks and sends 4.
  const chunksPerSecond = 1e6 / 8 / CHUNK_SIZE
  process.stdout.write([
    `relay events, ${chunks} chunks (each record ${duplicates} time(s) again), ${datagrams} datagrams; load ${load.toFixed(2)} -> ${loadavg()[0].toFixed(2)}`,
    `| event | CPU per event | CPU s per minute of a 1 Mb/s stream |`,
    `|---|---|---|`,
    `| a chunk taken (record, ${duplicates} duplicate record(s), bytes stored) | ${store.toFixed(0)} us | ${perMinute(store, chunksPerSecond)} |`,
    `| a 4 KiB datagram sent and received on 127.0.0.1 | ${socket.toFixed(1)} us | ${perMinute(socket, chunksPerSecond * 4)} (a chunk is 4 blocks in and 4 out) |`,
  ].join('\n') + '\n')
} finally {
  await rm(dir, { recursive: true, force: true })
}
