// Benchmark child: the source. Runs a real source StreamLog fed by BenchFeed and either a CjNode
// with its StreamSwarm on real UDP (p2p mode) or a plain HTTP server of the growing log's playlist
// and bytes (hls mode, the baseline). Reports its own counters to the parent on request.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CjNode } from '../src/mesh/node.ts'
import { StreamRegistry } from '../src/mesh/stream-registry.ts'
import { UdpTransport } from '../src/mesh/transport.ts'
import { StreamLog } from '../src/store/stream-log.ts'
import { generateStreamKey } from '../src/store/keys.ts'
import { SyntheticFeed } from '../src/ingest/synthetic-feed.ts'
import type { FromChild, SourceInit, SourceReport, ToChild } from './bench-ipc.ts'
import { PeakRss, WireTally, cpuSeconds } from './bench-node-metrics.ts'
import { startHlsServer } from './bench-hls.ts'
import { startSourceDashboard, type SourceDashboard } from './bench-dashboard.ts'

const send = (m: FromChild) => process.send?.(m)

async function main(init: SourceInit): Promise<void> {
  const cpu0 = process.cpuUsage()
  const rss = new PeakRss()
  const dir = await mkdtemp(join(tmpdir(), 'cjp2p-bench-src-'))
  const log = await StreamLog.createSource(dir, generateStreamKey(), 'bench', { format: 'ts', targetDuration: Math.ceil(init.segmentMs / 1000) })
  const tally = new WireTally()
  let node: CjNode | undefined
  let reg: StreamRegistry | undefined
  let http: Awaited<ReturnType<typeof startHlsServer>> | undefined
  let dashboard: SourceDashboard | undefined
  if (init.mode === 'p2p') {
    node = new CjNode({ transport: await UdpTransport.bind({ port: 0 }), metrics: tally }, { probeIntervalMs: 10_000 })
    await node.start()
    reg = new StreamRegistry(node)
    reg.add(log)
    if (init.dashboard) dashboard = await startSourceDashboard(node, reg, log)
  } else {
    http = await startHlsServer(log)
  }
  const feed = new SyntheticFeed({ log }, { bitrateBps: init.bitrateBps, segmentMs: init.segmentMs })
  feed.start()
  send({ type: 'ready', address: node?.address, streamId: log.id, httpUrl: http?.url, dashboardUrl: dashboard?.url })

  const report = (): SourceReport => {
    const head = log.head()
    const chunkTimes: number[] = []
    const chunkBytes: number[] = []
    for (let n = 0; n < (head?.chunks ?? 0); n++) {
      const r = log.chunkRecord(n)
      chunkTimes.push(r?.time ?? 0)
      chunkBytes.push(r?.length ?? 0)
    }
    const st = reg?.get(log.id)?.status()
    return {
      kind: 'source', chunkTimes, chunkBytes,
      producedBytes: chunkBytes.reduce((a, b) => a + b, 0),
      uploadedBytes: st?.uploadedBytes ?? http?.servedBytes() ?? 0,
      wire: init.mode === 'p2p' ? tally.wire : { streamDatagramBytes: http?.servedBytes() ?? 0, controlDatagramBytes: http?.playlistBytes() ?? 0, payloadBytes: http?.servedBytes() ?? 0 },
      cpuSeconds: cpuSeconds(cpu0),
      peakRssBytes: rss.peak,
    }
  }
  process.on('message', (m: ToChild) => {
    if (m.type === 'report') send({ type: 'report', report: report() })
    if (m.type === 'audience') {
      const st = reg?.get(log.id)?.status()
      const t = st?.audience.traffic
      send({ type: 'audience', audience: { at: Date.now(), viewers: st?.audience.viewers ?? 0, p95Ms: st?.audience.delayMs.p95 ?? null, delayWindow: st?.audience.delayWindow ?? null, telemetryBytes: t ? t.sentBytes + t.receivedBytes : 0, producedBytes: st?.producedBytes ?? 0 } })
    }
    if (m.type === 'exit') {
      feed.stop()
      rss.stop()
      void (async () => {
        await dashboard?.close()
        await reg?.close()
        await node?.close()
        await http?.close()
        await log.close()
        await rm(dir, { recursive: true, force: true })
        process.exit(0)
      })()
    }
  })
}

process.once('message', (m: ToChild) => {
  if (m.type !== 'init' || !m.source) return
  main(m.source).catch((err: Error) => { send({ type: 'error', message: err.stack ?? String(err) }); process.exit(1) })
})
process.on('disconnect', () => process.exit(0))
