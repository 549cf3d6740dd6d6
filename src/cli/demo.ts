// `demo`: a built-in test pattern streamed to a few local viewers that relay to each other, all on
// loopback in this one process, until Ctrl-C (or until the stream dies: then exit 1).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { DEFAULT_HTTP_PORT } from '../mesh/default-ports.ts'
import { Runtime } from '../runtime.ts'
import { startIngest } from './stream.ts'
import type { IngestFlags } from './stream.ts'
import { loggerFor } from './options.ts'
import type { Shutdown } from './shutdown.ts'
import type { Level } from '../util/logger.ts'
import { CodedError } from '../util/coded-error.ts'

export interface DemoFlags { viewers: number; httpPort?: number; dir?: string; logLevel: Level; seconds?: number; json?: boolean }

export class DemoStreamEnded extends CodedError<'ERR_STREAM_ENDED'> {}

export async function runDemo(flags: DemoFlags, shutdown: Shutdown): Promise<void> {
  const log = loggerFor(flags)
  const base = flags.dir ? resolve(flags.dir) : await mkdtemp(join(tmpdir(), 'cjp2p-demo-'))
  const runtimes: Runtime[] = []
  let ingest: Awaited<ReturnType<typeof startIngest>> | undefined
  try {
    const source = await Runtime.start({ dir: join(base, 'source'), host: '127.0.0.1', port: 0, httpPort: 0, peers: [], logger: log.child('source'), role: 'source', maxDatagramBytes: 65507 })
    runtimes.push(source)
    // Every node first, the stream after: a port we cannot have is said before ffmpeg starts.
    // Viewers in a chain: each knows only the one before it, so later viewers are fed by viewers.
    let prev = source.udpAddress
    for (let i = 1; i <= flags.viewers; i++) {
      const last = i === flags.viewers
      const v = await Runtime.start({
        dir: join(base, `viewer${i}`), host: '127.0.0.1', port: 0, httpPort: last ? flags.httpPort ?? DEFAULT_HTTP_PORT : 0, peers: [prev],
        anyPortIfTaken: { http: last && flags.httpPort === undefined },
        logger: log.child(`viewer${i}`), role: 'viewer', processMetrics: false, maxDatagramBytes: 65507,
      })
      runtimes.push(v)
      prev = v.udpAddress
    }
    const ingestFlags: IngestFlags = {
      port: 0, host: '127.0.0.1', httpPort: 0, httpHost: '127.0.0.1', peer: [], dir: join(base, 'source'), logLevel: flags.logLevel, maxDatagram: 65507,
      name: 'testsrc', segmentSeconds: 1, format: 'ts', bitrate: '1500k',
    }
    ingest = await startIngest('testsrc', ingestFlags, log.child('source'), source)
    for (let i = 1; i < runtimes.length; i++) await runtimes[i].watch(ingest.id, [runtimes[i - 1].udpAddress])
    for (const rt of runtimes) rt.dashboardPeers = runtimes.filter((o) => o !== rt).map((o) => o.httpUrl!).filter(Boolean)
    const last = runtimes.at(-1)!
    const out = {
      stream: ingest.id,
      player: `${last.httpUrl}/watch/${ingest.id}`,
      dashboard: `${last.httpUrl}/dashboard`,
      source: { udp: source.udpAddress, http: source.httpUrl },
      viewers: runtimes.slice(1).map((r) => ({ udp: r.udpAddress, http: r.httpUrl })),
      dir: base,
    }
    if (flags.json) process.stdout.write(JSON.stringify(out) + '\n')
    else {
      process.stdout.write(`streaming testsrc (wall clock burned in) to ${flags.viewers} local viewers relaying to each other\n`)
      process.stdout.write(`player:    ${out.player}\n`)
      process.stdout.write(`dashboard: ${out.dashboard}\n`)
      process.stdout.write(`metrics:   ${last.httpUrl}/metrics   status: ${last.httpUrl}/status.json\n`)
      process.stdout.write('Ctrl-C to stop\n')
    }
    const timeUp = flags.seconds ? [new Promise<null>((r) => setTimeout(() => r(null), flags.seconds! * 1000).unref())] : []
    const streamDied = ingest.ingest.whenDone().then((err) => err ?? new DemoStreamEnded('ERR_STREAM_ENDED', 'the test pattern stopped: the stream ended'))
    const why = await shutdown.until(streamDied, ...timeUp)
    if (why.kind === 'fatal') throw new DemoStreamEnded('ERR_STREAM_ENDED', `the demo's stream died: ${why.error.message.split('\n')[0]}`)
    log.info('stopping the demo')
  } finally {
    await ingest?.ingest.stop().catch(() => {})
    for (const rt of runtimes.reverse()) await rt.close().catch(() => {})
    if (!flags.dir) await rm(base, { recursive: true, force: true })
  }
}
