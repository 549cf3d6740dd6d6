// The simulated network: every node has an uplink of limited capacity (a FIFO: a chunk occupies it
// for size / capacity), every datagram a one-way delay with jitter, and a chance to be lost.
// Messages are delivered as closures, chunk-level: no JSON, no bytes.
import type { EventQueue } from '../util/event-queue.ts'

export interface SimLink {
  delayMs: number
  jitterMs: number
  loss: number
}

export class SimNetwork {
  /** Bytes each node has put on its uplink. */
  readonly uploaded: Float64Array
  private busyUntil: Float64Array
  sent = 0
  lost = 0

  constructor(private q: EventQueue, nodes: number, private link: SimLink, private capacity: (node: number) => number, private random: () => number) {
    this.uploaded = new Float64Array(nodes)
    this.busyUntil = new Float64Array(nodes)
  }

  /** Sends `bytes` from one node to another; `deliver` runs on arrival unless the datagram is lost.
   * Small control messages skip the uplink queue (they are tiny next to chunks). */
  send(from: number, bytes: number, deliver: () => void): void {
    this.sent++
    const now = this.q.now()
    let leave = now
    if (bytes > 1000) {
      const start = Math.max(now, this.busyUntil[from])
      this.busyUntil[from] = start + (bytes * 1000) / this.capacity(from)
      leave = this.busyUntil[from]
      this.uploaded[from] += bytes
    }
    if (this.random() < this.link.loss) { this.lost++; return }
    this.q.at(leave + this.link.delayMs + this.link.jitterMs * this.random(), deliver)
  }

  /** How long a new chunk would wait in this node's uplink queue. */
  backlogMs(node: number): number { return Math.max(0, this.busyUntil[node] - this.q.now()) }

  rttMs(): number { return 2 * this.link.delayMs + this.link.jitterMs }
}
