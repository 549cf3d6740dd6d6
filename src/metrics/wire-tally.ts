// A MetricsSink that tallies what a node puts on the wire, so the benchmark and the simulator read
// their figures from the nodes' own metrics hooks rather than guessing them from outside.
import type { MetricsSink } from './types.ts'
import { noMetrics } from './types.ts'

/** Bytes a node sent: datagrams carrying stream data, control datagrams, and the payload inside. */
export interface Wire { streamDatagramBytes: number; controlDatagramBytes: number; payloadBytes: number }

export class WireTally implements MetricsSink {
  readonly wire: Wire = { streamDatagramBytes: 0, controlDatagramBytes: 0, payloadBytes: 0 }
  datagramSent(kind: 'stream' | 'file' | 'control', _role: 'source' | 'relay', bytes: number): void {
    if (kind === 'control') this.wire.controlDatagramBytes += bytes
    else this.wire.streamDatagramBytes += bytes
  }
  streamBytesUploaded(_role: 'source' | 'relay', bytes: number): void { this.wire.payloadBytes += bytes }
  datagramReceived = noMetrics.datagramReceived
  datagramDropped = noMetrics.datagramDropped
  chunkReceived = noMetrics.chunkReceived
  chunkVerified = noMetrics.chunkVerified
  peerPenalised = noMetrics.peerPenalised
  peersGauge = noMetrics.peersGauge
  relayFanout = noMetrics.relayFanout
  playbackStall = noMetrics.playbackStall
  httpRequest = noMetrics.httpRequest
  fileTransfer = noMetrics.fileTransfer
}
