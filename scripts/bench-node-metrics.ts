// A MetricsSink that tallies what a benchmark node puts on the wire, so the benchmark reads its
// figures from the nodes' own metrics hooks rather than guessing them from outside.
import type { MetricsSink } from '../src/metrics/types.ts'
import { noMetrics } from '../src/metrics/types.ts'
import type { Wire } from './bench-ipc.ts'

export class WireTally implements MetricsSink {
  readonly wire: Wire = { streamDatagramBytes: 0, controlDatagramBytes: 0, payloadBytes: 0 }
  datagramSent(kind: 'stream' | 'file' | 'control', _role: 'source' | 'relay', bytes: number): void {
    if (kind === 'control') this.wire.controlDatagramBytes += bytes
    else this.wire.streamDatagramBytes += bytes
  }
  streamBytesUploaded(_role: 'source' | 'relay', bytes: number): void { this.wire.payloadBytes += bytes }
  datagramReceived = noMetrics.datagramReceived
  datagramDropped = noMetrics.datagramDropped
  streamBytesProduced = noMetrics.streamBytesProduced
  chunkReceived = noMetrics.chunkReceived
  chunkVerified = noMetrics.chunkVerified
  peerPenalised = noMetrics.peerPenalised
  peersGauge = noMetrics.peersGauge
  relayFanout = noMetrics.relayFanout
  playbackStall = noMetrics.playbackStall
  httpRequest = noMetrics.httpRequest
  fileTransfer = noMetrics.fileTransfer
}

/** Peak resident memory so far (bytes); sampled, since Node has no peak counter of its own. */
export class PeakRss {
  peak = process.memoryUsage.rss()
  private timer = setInterval(() => { this.peak = Math.max(this.peak, process.memoryUsage.rss()) }, 500).unref()
  stop(): number { clearInterval(this.timer); return Math.max(this.peak, process.memoryUsage.rss()) }
}

export function cpuSeconds(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since)
  return (u.user + u.system) / 1e6
}
