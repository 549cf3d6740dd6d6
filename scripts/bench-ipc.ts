// Messages between the benchmark's parent (bench.ts) and its child processes (bench-source.ts,
// bench-viewers.ts), over Node's IPC channel. Plain JSON: numbers and arrays only.

export type Mode = 'p2p' | 'hls'
export interface LinkSpec { delayMs: number; loss: number; jitterMs?: number; bytesPerSecond?: number }

/** `dashboard`: the source also serves its dashboard page (bench:audience --screenshot). */
export interface SourceInit { mode: Mode; bitrateBps: number; segmentMs: number; seed: number; dashboard?: boolean }
export interface ViewerInit { mode: Mode; streamId: string; source: string; link: LinkSpec | null; seed: number; pollMs: number }

export type ToChild =
  | { type: 'init'; source?: SourceInit; viewers?: ViewerInit }
  /** Start viewer `slot`, bootstrapping from these addresses (p2p) or this base URL (hls);
   * `maxUploadBps`: its `--max-upload`, wire bytes a second (none: no cap). */
  | { type: 'join'; slot: number; peers: string[]; maxUploadBps?: number }
  /** Viewer `slot` leaves: without a goodbye (a crash or a closed laptop), or with `goodbye` as a
   * clean exit does (its swarm closed first: StopSendingMe to its parents). */
  | { type: 'leave'; slot: number; goodbye?: boolean }
  | { type: 'report' }
  /** The source's audience telemetry as it reads now (npm run bench:audience). */
  | { type: 'audience' }
  /** Each live viewer's stripe-0 parent (npm run bench:audience: who the telemetry can reach). */
  | { type: 'parents' }
  | { type: 'exit' }

/** The source's audience view at `at` (ms, shared machine clock), and its own telemetry bytes. */
/** `delayWindow`: the chunks (by publish time, ms) the source's delays are of (AudienceView.delayWindow). */
export interface AudienceReading { at: number; viewers: number; p95Ms: number | null; delayWindow: { from: number; to: number; endedMsAgo: number } | null; telemetryBytes: number; producedBytes: number }

export interface SourceReport {
  kind: 'source'
  /** Publish time of every chunk (ms, shared machine clock), indexed by chunk number. */
  chunkTimes: number[]
  chunkBytes: number[]
  producedBytes: number
  uploadedBytes: number
  wire: Wire
  cpuSeconds: number
  peakRssBytes: number
}

/** Bytes a node put on the wire, split by the node's own metrics hooks. */
export type { Wire } from '../src/metrics/wire-tally.ts'
import type { Wire } from '../src/metrics/wire-tally.ts'

export type { ViewerReport } from '../src/metrics/viewer-recorder.ts'
import type { ViewerReport } from '../src/metrics/viewer-recorder.ts'

export interface ViewersReport {
  kind: 'viewers'
  viewers: ViewerReport[]
  /** Nodes this process ran (for CPU and memory per node). */
  nodes: number
  cpuSeconds: number
  peakRssBytes: number
}

export type FromChild =
  | { type: 'ready'; address?: string; streamId?: string; httpUrl?: string; dashboardUrl?: string }
  | { type: 'report'; report: SourceReport | ViewersReport }
  | { type: 'audience'; audience: AudienceReading }
  /** [viewer address, its stripe-0 parent's or null] for each live viewer. */
  | { type: 'parents'; parents: Array<[string, string | null]> }
  | { type: 'error'; message: string }
