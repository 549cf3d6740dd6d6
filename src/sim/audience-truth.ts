// The truth the audience telemetry is measured against, wherever every viewer's deliveries are
// known (the simulator's recorders, the real bench's viewer reports): a percentile of every chunk
// delay at every viewer over the chunks the telemetry's delays cover (AudienceView.delayWindow:
// those published in a window of the source's clock), exactly.

/** Percentile `p` of (verified at - published at) over every [chunk, verified at] pair whose chunk
 * was published in [window.from, window.to); 0 when there is none. */
export function windowPercentile(viewers: Iterable<Iterable<readonly [number, number]>>, publishedAt: (n: number) => number | undefined, window: { from: number; to: number }, p: number): number {
  const delays: number[] = []
  for (const verified of viewers) {
    for (const [n, at] of verified) {
      const t = publishedAt(n)
      if (t !== undefined && t >= window.from && t < window.to) delays.push(at - t)
    }
  }
  delays.sort((a, b) => a - b)
  return delays.length ? delays[Math.min(delays.length - 1, Math.floor(p * delays.length))] : 0
}
