// --max-upload: every datagram the node sends passes here. Under the limit it leaves at once; over
// it, it waits in its lane's queue until the token bucket pays for it. Lanes go in priority order,
// control before stream before file: a file transfer must not starve a live stream's pushes and
// repairs, and the small control datagrams (cookies, hellos, requests) keep every exchange alive.
// Control and stream datagrams may take the bucket into debt; a file datagram leaves only from a
// nearly full bucket, so files use what the stream leaves and a stream burst (a segment's chunks,
// pushed at once) always finds most of a bucketful in hand. On real runs at 1 Mbit/s, file answers that ran the bucket
// dry held each segment's pushes back half a second, the viewers took their parent for silent and
// subscribed again, and the catch-up pushes that followed swamped the limit. For the same reason
// file answers are sized to the limit (fileDatagramBytes).
// Within a lane, what goes ahead leaves before the rest. In control, our own exchanges (what we
// start: subscriptions, requests, hellos, telemetry) before our answers to others (peer lists,
// holder lists, redirects): a weak uplink answering everyone who asked it kept its own
// subscriptions waiting past their answer time (issue 12). In stream, the live pushes to our
// children before what can wait (a newcomer's catch-up, a repair pushed down, an answer to a
// pull): on capped uplinks a parent's catch-ups to a wave of newcomers (a few hundred KB each)
// queued its children's next pushes past MISSED_PUSH_MS; they left it for other capped parents,
// whose catch-ups to them did the same there, and 50 viewers at four copies each reached 72.7 %
// (docs/SCHEDULER.md, session 25).
// A queue that is full, or a datagram that waited too long, drops it: a file asker retries (its
// request window reads the wait and the loss as congestion, as it does on any link), a stream
// child repairs from others. Without a limit nothing queues and nothing is counted but the rate.
import type { Timer, Timers } from '../../util/timers.ts'
import type { TrafficKind } from '../../metrics/types.ts'
import { TokenBucket } from './token-bucket.ts'
import { RateMeter } from './rate-meter.ts'

export const LANES: readonly TrafficKind[] = ['control', 'stream', 'file']
/** The bucket holds this much of a second's worth: a segment's chunks to the children go out at
 * once, and a minute still holds the limit to about 1 %. (50 ms was measured in session 25: it
 * kept a round of pushes out of a modem whose rate is exactly the limit, but on real timers it lost
 * what each late wake-up owed; docs/SCHEDULER.md.) */
const BURST_SECONDS = 0.5
/** The smallest burst: a few datagrams, so a tiny limit still sends whole exchanges. */
const MIN_BURST_BYTES = 16 << 10
/** A lane's queue holds at most this many seconds of the limit (and at least one largest datagram):
 * a deeper queue only delays what its receivers would by then have asked again. */
const QUEUE_SECONDS: Record<TrafficKind, number> = { control: 1, stream: 1, file: 0.5 }
const MIN_QUEUE_BYTES = 64 << 10
/** A file datagram leaves only while the bucket holds this share of its burst. Not all of it: a
 * wake-up that comes late would waste what overflows a full bucket (on a busy machine a file-only
 * transfer lost 4 % of the limit that way). */
const FILE_FLOOR = 0.75
/** What may wait behind our live pushes (catch-ups, repairs, answers to pulls) leaves only while
 * the bucket holds this share of its burst. The limit is the uplink's own rate when the viewer
 * sets it so (and the simulator's capped viewers do): whatever the bucket has paid out of its
 * burst then stands in the modem's queue, ahead of the next push. At any positive level, catch-ups
 * kept half a second of backlog there, and every push waited behind it. */
const BEHIND_FLOOR = 0.97
/** The share of a full bucket each queue waits for before a datagram leaves it (0: any positive level). */
const FLOORS: Record<TrafficKind, { ahead: number; rest: number }> = { control: { ahead: 0, rest: 0 }, stream: { ahead: 0, rest: BEHIND_FLOOR }, file: { ahead: FILE_FLOOR, rest: FILE_FLOOR } }
/** A file answer takes at most this long of the limit: a short datagram fits between stream pushes. */
const FILE_DATAGRAM_SECONDS = 0.04
/** Waited longer than this, a datagram is stale: the stream has moved on, the file asker has timed
 * out, and a sealed datagram this far behind its successors would fall out of the replay window. */
const MAX_WAIT_MS: Record<TrafficKind, number> = { control: 2000, stream: 2000, file: 1000 }

/** The share of the wire a stream's chunk bytes take: a 4 KiB block travels as base64 in its
 * Content message (about 5.6 KB with the stream id, offset and hops), or raw after the JSON in a
 * sealed frame (about 4.3 KB). A viewer's children are counted in chunk bytes, the limit in wire
 * bytes: the children a limit carries are counted with this share of it. */
export function chunkShareOfWire(sealed: boolean): number { return sealed ? 0.94 : 0.72 }

interface Waiting { bytes: number; at: number; emit: () => void }

/** A FIFO without Array.shift's copying: queues of thousands of datagrams are drained one at a time.
 * `floor`: the share of a full bucket it waits for (FLOORS). */
class Lane {
  constructor(readonly kind: TrafficKind, readonly floor: number) {}
  items: Waiting[] = []
  head = 0
  bytes = 0
  get size(): number { return this.items.length - this.head }
  push(w: Waiting): void { this.items.push(w); this.bytes += w.bytes }
  peek(): Waiting | undefined { return this.items[this.head] }
  shift(): Waiting {
    const w = this.items[this.head++]
    this.bytes -= w.bytes
    if (this.head > 1024 && this.head * 2 > this.items.length) { this.items = this.items.slice(this.head); this.head = 0 }
    return w
  }
}

export interface UploadStatus {
  /** Bytes a second; null without --max-upload. */
  limitBytesPerSecond: number | null
  /** Bytes a second that left over the last few seconds. */
  rateBytesPerSecond: number
  sentBytes: number
  /** Bytes that left, by lane. */
  sentByLane: Record<TrafficKind, number>
  /** Bytes that waited in a queue before leaving (or being dropped). */
  deferredBytes: number
  /** Bytes dropped from a full queue or for waiting too long. */
  droppedBytes: number
  /** Bytes waiting now, by lane. */
  queuedBytes: Record<TrafficKind, number>
}

export class UploadPacer {
  private cap: number | null
  private bucket: TokenBucket | null
  private readonly meter: RateMeter
  /** Per lane, the queue of what goes ahead and of the rest (see send). */
  private readonly lanes = new Map<TrafficKind, { ahead: Lane; rest: Lane }>(LANES.map((k) => [k, { ahead: new Lane(k, FLOORS[k].ahead), rest: new Lane(k, FLOORS[k].rest) }]))
  /** The queues in priority order. */
  private readonly ordered = LANES.flatMap((kind) => [this.lanes.get(kind)!.ahead, this.lanes.get(kind)!.rest])
  private readonly timers: Timers
  private timer: Timer | undefined
  /** The floor the timer wakes for. */
  private timerFloor: number | undefined
  private deferred = 0
  private sentByLane: Record<TrafficKind, number> = { control: 0, stream: 0, file: 0 }
  private dropped = 0
  private closed = false

  /** `bytesPerSecond`: --max-upload; undefined for none. */
  constructor(c: { timers: Timers }, init: { bytesPerSecond?: number } = {}) {
    this.timers = c.timers
    this.meter = new RateMeter(c.timers)
    const rate = init.bytesPerSecond
    this.cap = rate === undefined ? null : rate
    this.bucket = rate === undefined ? null : this.bucketFor(rate)
  }

  /** Bytes a second: --max-upload, or the uplink's measured rate once adopted; null for none. */
  get limit(): number | null { return this.cap }

  /** A limit learned rather than given (src/mesh/bandwidth/uplink-estimate.ts), taken when none
   * was given: from then on the node paces as one started with --max-upload at that rate, so its
   * own control leaves ahead of its answers and its pushes, instead of waiting in the modem's
   * queue behind them (where a weak viewer's subscriptions timed out one after another). */
  adopt(bytesPerSecond: number): void {
    if (this.cap !== null || this.closed || !(bytesPerSecond > 0)) return
    this.cap = bytesPerSecond
    this.bucket = this.bucketFor(bytesPerSecond)
  }

  private bucketFor(rate: number): TokenBucket {
    return new TokenBucket(this.timers, { rate, burst: Math.max(MIN_BURST_BYTES, rate * BURST_SECONDS) })
  }

  /** Sends a datagram of `bytes` through `emit`, now or when the limit allows, or never (dropped).
   * `ahead`: it waits ahead of the rest of its lane (our own control exchanges, our live pushes). */
  send(bytes: number, lane: TrafficKind, emit: () => void, ahead = false): void {
    if (this.closed) return
    if (this.sendNow(bytes, lane, ahead)) { emit(); return }
    // Here only with a bucket: sendNow passes every datagram without one.
    const rate = this.bucket!.rate
    const q = this.queue(lane, ahead)
    if (q.bytes + bytes > Math.max(MIN_QUEUE_BYTES, QUEUE_SECONDS[lane] * rate)) {
      this.dropped += bytes
      return
    }
    q.push({ bytes, at: this.timers.now(), emit })
    this.deferred += bytes
    this.schedule()
  }

  /** True when a datagram of `bytes` may leave now: it is counted as sent and the caller sends it
   * at once. False: it must go through send() (queued, or dropped once closed). Lets the common
   * case, no limit or room in the bucket, send without a closure per datagram. */
  sendNow(bytes: number, lane: TrafficKind, ahead = false): boolean {
    const q = this.queue(lane, ahead)
    if (this.closed || !(this.bucket === null || (this.noneWaitsBefore(q) && this.affords(q)))) return false
    this.count(lane, bytes)
    return true
  }

  private queue(lane: TrafficKind, ahead: boolean): Lane {
    const l = this.lanes.get(lane)!
    return ahead ? l.ahead : l.rest
  }

  /** The largest file answer worth sending: Infinity without a limit. */
  fileDatagramBytes(): number { return this.cap === null ? Infinity : this.cap * FILE_DATAGRAM_SECONDS }

  status(): UploadStatus {
    const queuedBytes = Object.fromEntries([...this.lanes].map(([k, { ahead, rest }]) => [k, ahead.bytes + rest.bytes])) as Record<TrafficKind, number>
    return {
      limitBytesPerSecond: this.cap, rateBytesPerSecond: Math.round(this.meter.perSecond()), sentBytes: this.meter.total,
      sentByLane: { ...this.sentByLane }, deferredBytes: this.deferred, droppedBytes: this.dropped, queuedBytes,
    }
  }

  /** Idempotent: what still waits is dropped, the timer cleared. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.timers.clear(this.timer)
    this.timer = undefined
    for (const q of this.ordered) while (q.size > 0) this.dropped += q.shift().bytes
  }

  /** Nothing waits in this queue or a higher one: a datagram here may overtake only lower ones. */
  private noneWaitsBefore(queue: Lane): boolean {
    for (const q of this.ordered) {
      if (q.size > 0) return false
      if (q === queue) return true
    }
    return true
  }

  private affords(q: Lane): boolean {
    return q.floor > 0 ? this.bucket!.holds(q.floor * this.bucket!.burst) : this.bucket!.ready()
  }

  private emit(lane: TrafficKind, bytes: number, emit: () => void): void {
    this.count(lane, bytes)
    emit()
  }

  private count(lane: TrafficKind, bytes: number): void {
    this.bucket?.take(bytes)
    this.meter.add(bytes)
    this.sentByLane[lane] += bytes
  }

  /** A wake-up for when the first waiting datagram can go; sooner when a queue with a lower floor
   * now waits (a file datagram waits for a nearly full bucket, a live push only for a positive one). */
  private schedule(): void {
    if (this.bucket === null) return
    const q = this.ordered.find((l) => l.size > 0)
    if (q === undefined) return
    if (this.timer !== undefined) {
      if (q.floor === this.timerFloor) return
      this.timers.clear(this.timer)
    }
    const ms = q.floor > 0 ? this.bucket.msUntil(q.floor * this.bucket.burst) : this.bucket.msUntilReady()
    this.timerFloor = q.floor
    this.timer = this.timers.setTimeout(() => { this.timer = undefined; this.drain() }, ms)
  }

  /** Sends from the highest lane with something waiting while the bucket allows. */
  private drain(): void {
    const now = this.timers.now()
    for (;;) {
      const q = this.ordered.find((l) => l.size > 0)
      if (q === undefined) return
      const w = q.peek()!
      if (now - w.at > MAX_WAIT_MS[q.kind]) { this.dropped += q.shift().bytes; continue }
      if (!this.affords(q)) break
      q.shift()
      this.emit(q.kind, w.bytes, w.emit)
    }
    this.schedule()
  }
}
