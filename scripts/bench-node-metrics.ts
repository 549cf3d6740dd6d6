// Benchmark process metrics: wire bytes (WireTally, shared with the simulator) and peak memory.
export { WireTally } from '../src/metrics/wire-tally.ts'

/** Peak resident memory so far (bytes); sampled, since Node has no peak counter of its own. */
export class PeakRss {
  peak = process.memoryUsage.rss()
  private timer = setInterval(() => { this.peak = Math.max(this.peak, process.memoryUsage.rss()) }, 500).unref()
  stop(): number { clearInterval(this.timer); return Math.max(this.peak, process.memoryUsage.rss()) }
}

export function cpuSeconds(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since)
  return (u.user + u.system) / 1e6
}
