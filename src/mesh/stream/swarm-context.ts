// What every part of one stream's swarm shares: the node, the stream's log, where the stream stands
// for us, and who the source is. The parts (stripe parents, children, repairs, serving, receiving)
// each own their own state; this is the little they all read.
import type { EventEmitter } from 'node:events'
import type { CjNode } from '../node.ts'
import { STRIPES } from '../messages.ts'
import type { StreamLog } from '../../store/stream-log.ts'
import type { RejectCause, Verdict } from '../../store/stream-types.ts'
import type { PenaltyReason, TrafficRole } from '../../metrics/types.ts'
import type { ChunkPace } from './chunk-pace.ts'

/** A viewer starts this many segments behind the newest, enough for hls.js to start smoothly. */
export const START_SEGMENTS_BACK = 3
/** A viewer reopened on its folder starts where its store ends when that is at most this many
 * segments back (stream-swarm.ts resumeSegment): a restart's worth, one segment-record request
 * (MAX_RECORDS_PER_MESSAGE) fetches them all. Further back it starts live, as a newcomer. */
export const RESUME_SEGMENTS_BACK = 16
/** Chunks further behind the edge than this are abandoned: no player will ever want them. */
export const LIVE_WINDOW_CHUNKS = 512
/** Chunks further past the edge we know than this are a lie or the future: not buffered, not
 * taken as a parent's push. Records come ahead of their chunks, so honest pushes stay far inside. */
export const FAR_AHEAD_CHUNKS = 4 * STRIPES + 64
/** How long a viewer expects to have after a chunk is published before its player needs it. */
export const PLAYOUT_DELAY_MS = 3000

/** Where the stream stands for us: the newest chunk we know of and where we joined. */
export interface LiveEdge {
  /** One past the newest chunk we know exists (from the head, a record or a chunk). */
  maxKnown: number
  /** The first chunk we play (-1 until we joined; 0 at the source). */
  startChunk: number
  /** The first segment a joiner plays (segments before it are none of its business). */
  startSegment: number
  /** When we joined, and when our start chunk was published: a joiner's playback clock. */
  joinedAt: { at: number; startPublishedAt: number } | null
}

export interface SwarmContext {
  readonly id: string
  readonly isSource: boolean
  readonly role: TrafficRole
  readonly node: CjNode
  readonly log: StreamLog
  readonly edge: LiveEdge
  /** How long a stripe waits for its next chunk, from the source's signed times: the silences that
   * judge parents stretch with it on a slow stream. */
  readonly pace: ChunkPace
  /** Senders of verified blocks that said they are the source (hops 0). */
  readonly sourceAddrs: Set<string>
  /** The swarm's own emitter: 'joined', 'ended', 'bad-block', 'rejected', 'store-fault'. */
  readonly events: EventEmitter
}

/** What a sender is charged for each reject cause: a forged signature costs most, an insane or
 * misrouted field and junk bytes less. */
const PENALTY_OF: Record<RejectCause, PenaltyReason> = { bad_signature: 'bad_signature', bad_field: 'bad_field', wrong_stream: 'bad_field', bad_hash: 'bad_chunk' }

/** Counts a reject by its cause and charges its sender (if one is to blame) for that cause. */
export function charge(c: SwarmContext, cause: RejectCause, from: string | undefined): void {
  c.node.metrics.streamRejected?.(cause)
  if (from !== undefined) c.node.penalise(from, PENALTY_OF[cause])
}

/** Charges the sender of a signed record that failed its check, by what was wrong with it. */
export function judge(c: SwarmContext, v: Verdict, from: string): void {
  if (v.result === 'reject') {
    charge(c, v.cause, from)
    c.node.log.debug('rejected a record', { stream: c.id, from, reason: v.reason, cause: v.cause })
  }
}
