// Issue 12's named scenarios for `npm run simulate -- --all` (or `--scenario name`): each is the
// base run (25 ms one-way, the given viewers and seconds) with one hardship added, so a row says
// what that hardship alone costs. The loss sweep is the chart's x axis.
import type { SimOptions } from '../src/sim/simulation.ts'

export interface SimScenario {
  name: string
  /** What the row changes from the base options. */
  over: Partial<SimOptions>
  /** Completeness ignores each viewer's first this many ms (the flash crowd's "after the first 5 s"). */
  graceMs: number
  /** The goal for this row, printed beside the figures. */
  goal: { sourceCopies: number; worst: number; mean?: number; p99Ms?: number; duplicates?: number }
}

/** Copies a viewer on a "nothing" uplink can send: its requests and acknowledgements (about 100 kb/s
 * at 2 Mb/s), not one chunk more than that. Zero would mean unlimited to the link model. */
export const NOTHING_COPIES = 0.05

export const SCENARIOS: Record<string, SimScenario> = {
  loss1: { name: '25 ms one-way, 1 % loss', over: { link: { delayMs: 25, loss: 0.01 } }, graceMs: 0, goal: { sourceCopies: 1.05, worst: 0.999, mean: 0.9999, p99Ms: 1000, duplicates: 0.03 } },
  loss3: { name: '25 ms one-way, 3 % loss', over: { link: { delayMs: 25, loss: 0.03 } }, graceMs: 0, goal: { sourceCopies: 1.1, worst: 0.995, p99Ms: 1500, duplicates: 0.05 } },
  churn20: { name: '20 %/min churn (25 ms, no loss)', over: { link: { delayMs: 25, loss: 0 }, churnPerMin: 0.2 }, graceMs: 0, goal: { sourceCopies: 1.1, worst: 0.999, p99Ms: 1000, duplicates: 0.03 } },
  churn50: { name: '50 %/min churn (25 ms, no loss)', over: { link: { delayMs: 25, loss: 0 }, churnPerMin: 0.5 }, graceMs: 0, goal: { sourceCopies: 1.2, worst: 0.999, p99Ms: 1000, duplicates: 0.03 } },
  uneven: {
    name: `uneven uplinks: 30 % at 0.5 copy, 10 % at ${NOTHING_COPIES} (25 ms, no loss)`,
    over: { link: { delayMs: 25, loss: 0 }, uplinks: [{ share: 0.3, copies: 0.5 }, { share: 0.1, copies: NOTHING_COPIES }] },
    graceMs: 0, goal: { sourceCopies: 1.1, worst: 0.999, p99Ms: 1000, duplicates: 0.03 },
  },
  // The same uplinks, but the weak viewers are started without --max-upload: only their links
  // are weak, and they must learn it from how fast their pushes drain (measured capacity).
  'uneven-measured': {
    name: `uneven uplinks, measured: the same, the weak viewers without --max-upload (25 ms, no loss)`,
    over: { link: { delayMs: 25, loss: 0 }, uplinks: [{ share: 0.3, copies: 0.5 }, { share: 0.1, copies: NOTHING_COPIES }], undeclared: true },
    graceMs: 0, goal: { sourceCopies: 1.1, worst: 0.999, p99Ms: 1000, duplicates: 0.03 },
  },
  // Home uplinks: every viewer can upload three copies (6 Mb/s up for a 2 Mb/s stream) and is
  // started with --max-upload at that rate. Not one of the rows; the common case its
  // weak-uplink row leaves out (docs/SCHEDULER.md, session 25), held to the same goals.
  capped: {
    name: 'home uplinks: every viewer at 3 copies (25 ms, no loss)',
    over: { link: { delayMs: 25, loss: 0 }, uploadCapacity: 3 },
    graceMs: 0, goal: { sourceCopies: 1.1, worst: 0.999, p99Ms: 1000, duplicates: 0.03 },
  },
  flash: {
    name: 'flash crowd: all join within 10 s, completeness after each one\'s first 5 s (25 ms, no loss)',
    over: { link: { delayMs: 25, loss: 0 }, joinSpreadMs: 10_000 },
    graceMs: 5000, goal: { sourceCopies: 1.1, worst: 0.995 },
  },
}

/** The chart's loss rates; the sweep reuses the 1 % and 3 % scenario runs. */
export const LOSS_SWEEP = [0, 0.005, 0.01, 0.02, 0.03, 0.05]
