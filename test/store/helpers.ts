// Shared helpers for store tests: temp dirs removed after each test, a controllable clock, and a
// logger that records warnings.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

type TestContext = { after: (fn: () => Promise<void>) => void }
const stacks = new WeakMap<object, (() => unknown)[]>()

/** Runs `fn` when the test ends, in reverse order of registration (node:test runs its own
 * after hooks first-in first-out, which would delete a temp dir before closing what is in it). */
export function defer(t: TestContext, fn: () => unknown): void {
  let stack = stacks.get(t)
  if (!stack) {
    const s: (() => unknown)[] = []
    stacks.set(t, s)
    t.after(async () => {
      while (s.length) await (s.pop() as () => unknown)()
    })
    stack = s
  }
  stack.push(fn)
}

export async function tempDir(t: TestContext, prefix = 'cjp2p-store-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  defer(t, () => rm(dir, { recursive: true, force: true }))
  return dir
}

export function fakeClock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start
  return { now: () => t, advance: (ms) => { t += ms } }
}

export function recordingLogger(): { warn: (m: string) => void; warnings: string[] } {
  const warnings: string[] = []
  return { warnings, warn: (m: string) => { warnings.push(m) } }
}

/** Deterministic pseudo-random bytes. */
export function bytesOf(length: number, seed = 1): Buffer {
  const b = Buffer.alloc(length)
  let x = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    b[i] = x & 0xff
  }
  return b
}
