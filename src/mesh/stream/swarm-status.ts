// What one stream's swarm reports about itself on one node.
import type { AudienceView } from '../telemetry/audience-view.ts'
import type { DuplicateCause, UploadCause } from './swarm-stats.ts'

export interface SwarmStatus {
  id: string
  role: 'source' | 'viewer'
  /** The signed live edge; its length (`bytes`) and signing time give the stream bitrate anywhere. */
  head: { chunks: number; segments: number; ended: boolean; bytes: number; time: number } | null
  /** Addresses that sent us chunks as the source (hops 0): a viewer's dashboard marks them. */
  sources: string[]
  startChunk: number
  verifiedChunks: number
  parents: (string | null)[]
  /** Our way up the tree our telemetry climbs (StripeParents.reportStripe): our parent, its parent, ... the
   * source last, as each parent told its child (IWillKeepSendingYou.path, at most MAX_PATH). Empty
   * at the source and while we have no parent there. */
  pathToSource: string[]
  /** The stripe that path is in (absent at the source and without a parent). */
  reportStripe?: number
  children: string[][]
  fedBy: Record<string, number>
  fedTo: Record<string, number>
  uploadedBytes: number
  /** The same bytes by why they went out (src/mesh/stream/swarm-stats.ts, UploadCause). */
  uploadedBy: Partial<Record<UploadCause, number>>
  receivedBytes: number
  receivedFromSourceBytes: number
  /** Payload bytes that arrived for chunks already held (or already being stored): wasted upload. */
  duplicateBytes: number
  /** The same bytes by how they came (src/mesh/stream/swarm-stats.ts, DuplicateCause). */
  duplicateBy: Partial<Record<DuplicateCause, number>>
  producedBytes: number
  copiesUploaded: number
  chunks: { new: number; duplicate: number; late: number; rejected: number }
  delayMs: { p50: number; p95: number; p99: number; max: number; count: number }
  hops: Record<string, number>
  /** The audience telemetry: this node's subtree in the report tree (the whole audience at the source). */
  audience: AudienceView
}
