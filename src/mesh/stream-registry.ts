// Routes stream messages to the swarm of their stream id, and answers for streams we do not carry.
// Bounded: only streams this node chose to carry (ingest or watch) have a swarm; a peer naming a
// thousand stream ids makes us create nothing.
import type { CjNode, Ctx } from './node.ts'
import { MAX_STREAM_TAG, type Message } from './messages.ts'
import { StreamSwarm } from './stream/stream-swarm.ts'
import type { StreamLog } from '../store/stream-log.ts'

const isStreamId = (id: string) => id.startsWith('stream/')

export interface StreamRegistryInit {
  /** A swarm has closed (its statistics are final): the metrics' last reading of its totals. */
  onClosed?: (swarm: StreamSwarm) => void
}

export class StreamRegistry {
  private swarms = new Map<string, StreamSwarm>()
  /** Our numbers for the streams we carry: a child's telemetry names its stream by ours, not by its
   * id (some 100 bytes of every summary; StreamSwarm's `audienceTag`). */
  private byTag = new Map<number, StreamSwarm>()
  private nextTag = 0

  constructor(private node: CjNode, private readonly init: StreamRegistryInit = {}) {
    const route = <T extends Message>(fn: (s: StreamSwarm, m: T, ctx: Ctx) => void) => (m: T, ctx: Ctx) => {
      const id = (m as { id?: string }).id ?? (m as { head?: { id: string } }).head?.id ?? (m as { info?: { id: string } }).info?.id
      const s = id === undefined ? undefined : this.swarms.get(id)
      if (s) fn(s, m, ctx)
    }
    node.handle('PleaseSendStreamHead', route((s, _m, ctx) => s.onHeadRequest(ctx)))
    node.handle('ThisStreamGrew', route((s, m, ctx) => s.onHead(m, ctx)))
    node.handle('HereIsTheStreamInfo', route((s, m, ctx) => s.onInfo(m, ctx)))
    node.handle('PleaseSendChunkHashes', route((s, m, ctx) => s.onChunkHashesRequest(m, ctx)))
    node.handle('HereAreChunkHashes', route((s, m, ctx) => s.onChunkHashes(m, ctx)))
    node.handle('PleaseSendSegments', route((s, m, ctx) => s.onSegmentsRequest(m, ctx)))
    node.handle('HereAreSegments', route((s, m, ctx) => s.onSegments(m, ctx)))
    node.handle('PleaseKeepSendingMe', route((s, m, ctx) => s.onSubscribe(m, ctx)))
    node.handle('IWillKeepSendingYou', route((s, m, ctx) => s.onSubscribed(m, ctx)))
    node.handle('AskThemInstead', route((s, m, ctx) => s.onRedirect(m, ctx)))
    node.handle('StopSendingMe', route((s, m, ctx) => s.onUnsubscribe(m, ctx)))
    node.handle('HereIsMyAudience', (m, ctx) => (m.tag !== undefined ? this.byTag.get(m.tag) : this.swarms.get(m.id))?.onAudience(m, ctx))
    // A grant by its tag alone renews the grant that gave the tag (AudienceGrants.grant).
    node.handle('TellMeYourAudienceAtMost', (m, ctx) => (m.id !== undefined ? this.swarms.get(m.id) : this.list().find((s) => s.holdsAudienceGrant(ctx.from, m.tag)))?.onAudienceGrant(m, ctx))
    node.handle('MaybeTheyHaveSome', route((s, m, ctx) => s.onHint(m, ctx)))
    node.handle('PleaseSendContent', (m, ctx) => {
      if (!isStreamId(m.id)) return
      return this.swarms.get(m.id)?.onContentRequest(m, ctx)
    })
    node.handle('Content', (m, ctx) => {
      if (!isStreamId(m.id)) return
      this.swarms.get(m.id)?.onContent(m, ctx)
    })
    node.on('peer-moved', this.onPeerMoved)
  }

  /** A peer proved its key at a new address (src/mesh/nat/peer-keys.ts): every swarm follows it. */
  private onPeerMoved = (from: string, to: string): void => { for (const s of this.swarms.values()) s.peerMoved(from, to) }

  /** Carries a stream: the source's own log, or a replica to fill from peers. */
  add(log: StreamLog, init: { bootstrap?: string[]; maxUploadBps?: number } = {}): StreamSwarm {
    const existing = this.swarms.get(log.id)
    if (existing) return existing
    const audienceTag = this.freeTag()
    const s = new StreamSwarm(this.node, log, { ...init, audienceTag })
    this.swarms.set(log.id, s)
    this.byTag.set(audienceTag, s)
    s.start()
    return s
  }

  get(id: string): StreamSwarm | undefined { return this.swarms.get(id) }
  list(): StreamSwarm[] { return [...this.swarms.values()] }

  async remove(id: string): Promise<void> {
    const s = this.swarms.get(id)
    if (!s) return
    this.swarms.delete(id)
    this.byTag.delete(s.audienceTag)
    await s.close()
    this.init.onClosed?.(s)
  }

  /** The next tag no stream of ours holds: numbered on, not reused at once, so a child's summary
   * sent under a stream's tag as it closed does not land in the next stream's count. */
  private freeTag(): number {
    for (;;) {
      const t = this.nextTag
      this.nextTag = (t + 1) % (MAX_STREAM_TAG + 1)
      if (!this.byTag.has(t)) return t
    }
  }

  async close(): Promise<void> {
    this.node.off('peer-moved', this.onPeerMoved)
    await Promise.all([...this.swarms.keys()].map((id) => this.remove(id)))
  }
}
