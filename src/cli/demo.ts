// `demo`: a built-in test pattern streamed to a few local viewers that relay to each other, all on
// loopback in this one process, until Ctrl-C.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Runtime } from '../runtime.ts'
import { startIngest } from './stream.ts'
import type { IngestFlags } from './stream.ts'
import { loggerFor, untilSignal } from './options.ts'
import type { Level } from '../util/logger.ts'

export interface DemoFlags { viewers: number; httpPort: number; dir?: string; logLevel: Level; seconds?: number; json?: boolean }

export async function runDemo(flags: DemoFlags): Promise<void> {
  const log = loggerFor(flags)
  const base = flags.dir ? resolve(flags.dir) : await mkdtemp(join(tmpdir(), 'cjp2p-demo-'))
  const runtimes: Runtime[] = []
  let ingest: Awaited<ReturnType<typeof startIngest>> | undefined
  try {
    const source = await Runtime.start({ dir: join(base, 'source'), host: '127.0.0.1', port: 0, httpPort: 0, peers: [], logger: log.child('source'), role: 'source', maxDatagramBytes: 65507 })
    runtimes.push(source)
    const ingestFlags: IngestFlags = {
      port: 0, host: '127.0.0.1', httpPort: 0, httpHost: '127.0.0.1', peer: [], dir: join(base, 'source'), logLevel: flags.logLevel, maxDatagram: 65507,
      name: 'testsrc', segmentSeconds: 1, format: 'ts', bitrate: '1500k',
    }
    ingest = await startIngest('testsrc', ingestFlags, log.child('source'), source)
    // Viewers in a chain: each knows only the one before it, so later viewers are fed by viewers.
    let prev = source.udpAddress
    for (let i = 1; i <= flags.viewers; i++) {
      const last = i === flags.viewers
      const v = await Runtime.start({
        dir: join(base, `viewer${i}`), host: '127.0.0.1', port: 0, httpPort: last ? flags.httpPort : 0, peers: [prev],
        logger: log.child(`viewer${i}`), role: 'viewer', processMetrics: false, maxDatagramBytes: 65507,
      })
      runtimes.push(v)
      await v.watch(ingest.id, [prev])
      prev = v.udpAddress
    }
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
    if (flags.seconds) await Promise.race([untilSignal(), new Promise((r) => setTimeout(r, flags.seconds! * 1000))])
    else await untilSignal()
    log.info('stopping the demo')
  } finally {
    await ingest?.ingest.stop().catch(() => {})
    for (const rt of runtimes.reverse()) await rt.close().catch(() => {})
    if (!flags.dir) await rm(base, { recursive: true, force: true })
  }
}
