// Benchmark child: runs K viewers in one process (so 50 fit on 2 cores). In p2p mode each viewer is
// a full CjNode on its own real UDP socket on 127.0.0.1 (ingress shaped by the link model when one
// is given) with a replica StreamLog and a StreamSwarm; in hls mode each is an HTTP client of the
// baseline server. Viewers join and vanish when the parent says so; each keeps its own record.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CjNode } from '../src/mesh/node.ts'
import { StreamRegistry } from '../src/mesh/stream-registry.ts'
import { UdpTransport } from '../src/mesh/transport.ts'
import { ShapedTransport } from '../src/mesh/link.ts'
import { seededRandom } from '../src/util/timers.ts'
import type { Transport } from '../src/mesh/transport.ts'
import { StreamLog } from '../src/store/stream-log.ts'
import { ViewerRecorder } from '../src/metrics/viewer-recorder.ts'
import type { FromChild, ToChild, ViewerInit, ViewerReport, ViewersReport } from './bench-ipc.ts'
import { PeakRss, WireTally, cpuSeconds } from './bench-node-metrics.ts'
import { HlsViewer } from './bench-hls.ts'
import { chunkShareOfWire } from '../src/mesh/bandwidth/upload-pacer.ts'
import type { AudienceView } from '../src/mesh/telemetry/audience-view.ts'

const send = (m: FromChild) => process.send?.(m)

interface Slot {
  slot: number
  joinAt: number
  leftAt: number | null
  node?: CjNode
  reg?: StreamRegistry
  log?: StreamLog
  tally?: WireTally
  hls?: HlsViewer
  recorder?: ViewerRecorder
  final?: ViewerReport
}

async function main(init: ViewerInit): Promise<void> {
  const cpu0 = process.cpuUsage()
  const rss = new PeakRss()
  const dir = await mkdtemp(join(tmpdir(), 'cjp2p-bench-view-'))
  const slots = new Map<number, Slot>()
  let nodes = 0

  const join_ = async (slot: number, peers: string[], maxUploadBps?: number): Promise<void> => {
    const s: Slot = { slot, joinAt: Date.now(), leftAt: null }
    slots.set(slot, s)
    nodes++
    if (init.mode === 'hls') {
      s.hls = new HlsViewer(peers[0], init.pollMs)
      s.hls.start()
      return
    }
    const udp = await UdpTransport.bind({ port: 0 })
    const transport: Transport = init.link ? new ShapedTransport(udp, init.link, { random: seededRandom(init.seed * 1000 + slot) }) : udp
    s.tally = new WireTally()
    // A capped viewer as `watch --max-upload` wires it (src/runtime.ts): the node paces its socket
    // to the cap, and the swarm counts its children in chunk bytes (the bench's nodes do not seal).
    s.node = new CjNode({ transport, metrics: s.tally }, { bootstrap: peers, probeIntervalMs: 10_000, ...(maxUploadBps !== undefined ? { maxUploadBytesPerSecond: maxUploadBps } : {}) })
    s.log = await StreamLog.openReplica(join(dir, String(slot)), init.streamId)
    s.recorder = new ViewerRecorder(s.log, Date.now, () => s.reg?.get(init.streamId)?.startChunk ?? -1)
    await s.node.start()
    s.reg = new StreamRegistry(s.node)
    s.reg.add(s.log, { bootstrap: peers, ...(maxUploadBps !== undefined ? { maxUploadBps: maxUploadBps * chunkShareOfWire(false) } : {}) })
  }

  const flows = (t: AudienceView['traffic']) => ({
    up: t.sentBytes - t.grantsSentBytes, grantsOut: t.grantsSentBytes, fromKids: t.receivedBytes - t.grantsReceivedBytes, grantsIn: t.grantsReceivedBytes,
  })
  const snapshot = (s: Slot): ViewerReport => {
    if (s.final) return s.final
    if (s.hls) {
      return {
        slot: s.slot, joinAt: s.joinAt, leftAt: s.leftAt, startChunk: s.hls.startChunk, verified: s.hls.verified,
        firstPlayableAt: s.hls.firstPlayableAt, uploadedBytes: 0, receivedBytes: s.hls.receivedBytes, duplicateBytes: 0,
        wire: { streamDatagramBytes: 0, controlDatagramBytes: 0, payloadBytes: 0 },
      }
    }
    const st = s.reg?.get(init.streamId)?.status()
    return {
      slot: s.slot, joinAt: s.joinAt, leftAt: s.leftAt, startChunk: st?.startChunk ?? -1, verified: s.recorder?.verified ?? [],
      firstPlayableAt: s.recorder?.firstPlayableAt ?? null, uploadedBytes: st?.uploadedBytes ?? 0, receivedBytes: st?.receivedBytes ?? 0,
      duplicateBytes: st?.duplicateBytes ?? 0,
      telemetryBytes: st ? st.audience.traffic.sentBytes + st.audience.traffic.receivedBytes : 0,
      ...(st ? { telemetryFlows: flows(st.audience.traffic) } : {}),
      wire: s.tally?.wire ?? { streamDatagramBytes: 0, controlDatagramBytes: 0, payloadBytes: 0 },
    }
  }

  const leave = async (slot: number, goodbye = false): Promise<void> => {
    const s = slots.get(slot)
    if (!s || s.leftAt !== null) return
    s.leftAt = Date.now()
    s.final = snapshot(s)
    s.hls?.close()
    // A clean exit closes its swarms first, which say goodbye to their parents (as
    // VirtualSwarm.leave). Abrupt: the socket closes first, so no goodbye reaches anyone (the
    // swarm's close then sends nothing).
    if (goodbye) await s.reg?.close()
    await s.node?.close()
    await s.reg?.close()
    await s.log?.close()
  }

  send({ type: 'ready' })
  process.on('message', (m: ToChild) => {
    if (m.type === 'join') join_(m.slot, m.peers, m.maxUploadBps).catch((err: Error) => send({ type: 'error', message: err.stack ?? String(err) }))
    if (m.type === 'leave') void leave(m.slot, m.goodbye === true)
    if (m.type === 'parents') {
      const live = [...slots.values()].filter((s) => s.leftAt === null && s.node)
      send({ type: 'parents', parents: live.map((s): [string, string | null] => [s.node!.address, s.reg?.get(init.streamId)?.status().pathToSource[0] ?? null]) })
    }
    if (m.type === 'report') {
      const report: ViewersReport = { kind: 'viewers', viewers: [...slots.values()].map(snapshot), nodes, cpuSeconds: cpuSeconds(cpu0), peakRssBytes: rss.peak }
      send({ type: 'report', report })
    }
    if (m.type === 'exit') {
      rss.stop()
      void (async () => {
        for (const s of slots.values()) await leave(s.slot)
        await rm(dir, { recursive: true, force: true })
        process.exit(0)
      })()
    }
  })
}

process.once('message', (m: ToChild) => {
  if (m.type !== 'init' || !m.viewers) return
  main(m.viewers).catch((err: Error) => { send({ type: 'error', message: err.stack ?? String(err) }); process.exit(1) })
})
process.on('disconnect', () => process.exit(0))
