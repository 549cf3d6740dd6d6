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
/** Waiting at both ends of a span, at least this many bytes (a block and its message): the link
 * was busy nearly all of it. A datagram or two in the queue is a burst leaving, not a full link. */
const BUSY_BYTES = 6 << 10
/** Busy spans seen before the figure is given: one span may have idled for part of it (the queue
 * emptied and filled again between looks), and the figure, the most of them, is near the link's
 * rate after a second of them. */
const TRUST_SPANS = 4

export class UplinkEstimate {
  private readonly clock: Clock
  private readonly read: () => UplinkCounters
  private at: number
  private last: UplinkCounters
  /** The most bytes a second that left in a busy span; undefined until one was seen. */
  private rate: number | undefined
  private busySpans = 0

  constructor(c: { clock: Clock; read: () => UplinkCounters }) {
    this.clock = c.clock
    this.read = c.read
    this.at = c.clock.now()
    this.last = c.read()
  }

  /** Looks at the transport's counters when a span has passed since the last look: called as we
   * send (a node that sends nothing has nothing to learn), so it costs no timer. */
  sample(): void {
    const now = this.clock.now()
    const ms = now - this.at
    if (ms < SPAN_MS) return
    const cur = this.read()
    if (this.last.queuedBytes >= BUSY_BYTES && cur.queuedBytes >= BUSY_BYTES) {
      this.rate = Math.max(this.rate ?? 0, ((cur.leftBytes - this.last.leftBytes) * 1000) / ms)
      this.busySpans++
    }
    this.at = now
    this.last = cur
  }

  /** Wire bytes a second our uplink carries; undefined: never seen busy (no limit known). */
  bytesPerSecond(): number | undefined { return this.busySpans >= TRUST_SPANS ? this.rate : undefined }
}
