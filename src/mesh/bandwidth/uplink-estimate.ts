// What our uplink carries, learned from how fast what we send drains (issue 12, measured capacity).
// A viewer started without --max-upload on a weak link must not claim an interior node's places:
// its children's pushes would wait in its modem's queue and its whole subtree would starve. The
// transport says how many bytes have left for the wire and how many still wait to; while bytes
// wait, the link is busy, and what left over that span is what the link carries. Nothing waiting,
// what left says nothing of the link (it may have been idle; and behind a real socket the kernel's
// buffer takes a burst faster than any link). So: no figure until the queue has been seen backed
// up (a link we never filled is as good as we need), then the most that left in a busy span. It is
// never lifted back to "unlimited": a leaf sends too little to be busy, and one that went back to
// claiming places every so often would take children and starve them anew.
import type { Clock } from '../../util/timers.ts'

/** What a transport tells of its uplink: bytes that have left for the wire so far, and bytes
 * handed to it that still wait (Transport.uplink). */
export interface UplinkCounters { leftBytes: number; queuedBytes: number }

/** Spans are at least this long: shorter ones measure one datagram's serialisation, not a rate. */
const SPAN_MS = 250
/** Waiting at every look within a span, at least this many bytes (a block and its message): the
 * link was busy all of it. A datagram or two in the queue is a burst leaving, not a full link; and
 * a queue seen full only at a span's two ends may have emptied between (bursty traffic measured
 * its demand, not the link: review, session 8). */
const BUSY_BYTES = 6 << 10
/** Busy spans in a row before the figure is given (a second of a full link): spans apart, each
 * after a burst, would add up to a figure of bursts. */
const TRUST_SPANS = 4

export class UplinkEstimate {
  private readonly clock: Clock
  private readonly read: () => UplinkCounters
  private at: number
  private last: UplinkCounters
  /** The most bytes a second that left in a busy span; undefined until one was seen. */
  private rate: number | undefined
  private busySpans = 0
  /** The least that waited at any look in this span. */
  private leastQueued: number

  constructor(c: { clock: Clock; read: () => UplinkCounters }) {
    this.clock = c.clock
    this.read = c.read
    this.at = c.clock.now()
    this.last = c.read()
    this.leastQueued = this.last.queuedBytes
  }

  /** Looks at the transport's counters when a span has passed since the last look: called as we
   * send (a node that sends nothing has nothing to learn), so it costs no timer. */
  sample(): void {
    const now = this.clock.now()
    const cur = this.read()
    this.leastQueued = Math.min(this.leastQueued, cur.queuedBytes)
    const ms = now - this.at
    if (ms < SPAN_MS) return
    if (this.leastQueued >= BUSY_BYTES) {
      this.rate = Math.max(this.rate ?? 0, ((cur.leftBytes - this.last.leftBytes) * 1000) / ms)
      this.busySpans++
    } else if (this.busySpans < TRUST_SPANS) {
      // Not yet trusted: the spans before this idle one were a burst, not the link.
      this.busySpans = 0
      this.rate = undefined
    }
    this.at = now
    this.last = cur
    this.leastQueued = cur.queuedBytes
  }

  /** Wire bytes a second our uplink carries; undefined: never seen busy (no limit known). */
  bytesPerSecond(): number | undefined { return this.busySpans >= TRUST_SPANS ? this.rate : undefined }
}
