// What the benchmark and the simulator record of one viewer: when each chunk was verified and
// when the first whole segment after its start point was playable. Both read these through the
// same figures (scripts/bench-report.ts), so a simulated run and a real one are measured alike.
import type { StreamLog } from '../store/stream-log.ts'
import { CHUNK_SIZE } from '../store/stream-types.ts'
import type { Wire } from './wire-tally.ts'
import { VerifiedTimes } from './verified-times.ts'

/** One viewer's figures at the end of a run: the bench's viewer processes and the simulator both
 * report these, and the one figures() turns them into the table. */
export interface ViewerReport {
  slot: number
  joinAt: number
  leftAt: number | null
  startChunk: number
  /** [chunk, verified at (ms)] for every chunk this viewer verified: an array from a viewer
   * process (JSON), a ViewerRecorder's VerifiedTimes in the simulator. */
  verified: Iterable<readonly [number, number]>
  firstPlayableAt: number | null
  uploadedBytes: number
  receivedBytes: number
  duplicateBytes: number
  wire: Wire
  /** Audience telemetry bytes this viewer sent and took (the swarm's AudienceReporter.traffic). */
  telemetryBytes?: number
  /** The same, by flow: up to the parent, grants to the children, summaries from them, grants from the parent. */
  telemetryFlows?: { up: number; grantsOut: number; fromKids: number; grantsIn: number }
}

export class ViewerRecorder {
  /** [chunk, verified at (ms)] for every chunk verified here. */
  readonly verified = new VerifiedTimes()
  firstPlayableAt: number | null = null

  constructor(private log: StreamLog, private now: () => number, private startChunk: () => number) {
    log.on('chunk', this.onChunk)
  }

  private onChunk = (n: number): void => {
    const t = this.now()
    this.verified.push(n, t)
    if (this.firstPlayableAt === null && playable(this.log, this.startChunk())) this.firstPlayableAt = t
  }

  stop(): void { this.log.off('chunk', this.onChunk) }
}

/** A segment at or after the start point whose bytes are all verified: the player can begin. */
function playable(log: StreamLog, startChunk: number): boolean {
  if (startChunk < 0) return false
  const count = log.segmentCount()
  for (let k = count - 1; k >= Math.max(0, count - 8); k--) {
    const seg = log.segment(k)
    if (seg && seg.offset >= startChunk * CHUNK_SIZE && seg.length > 0 && log.hasRange(seg.offset, seg.length)) return true
  }
  return false
}
