// The truth the audience telemetry is measured against, wherever every viewer's deliveries are
// known (the simulator's recorders, the real bench's viewer reports): a percentile of every chunk
// delay at every viewer over the telemetry's window, exactly.
import { WINDOW_MS } from '../mesh/telemetry/audience-summary.ts'

/** Percentile `p` of (verified at - published at) over every [chunk, verified at] pair that fell
 * within the last WINDOW_MS before `now`; 0 when there is none. */
export function windowPercentile(viewers: Iterable<ReadonlyArray<readonly [number, number]>>, publishedAt: (n: number) => number | undefined, now: number, p: number): number {
  const delays: number[] = []
  for (const verified of viewers) {
    for (const [n, at] of verified) {
      const t = publishedAt(n)
      if (t !== undefined && at > now - WINDOW_MS && at <= now) delays.push(at - t)
    }
  }
  delays.sort((a, b) => a - b)
  return delays.length ? delays[Math.min(delays.length - 1, Math.floor(p * delays.length))] : 0
}
