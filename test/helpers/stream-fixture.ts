// A synthetic live source for mesh tests: appends random bytes at a steady rate and cuts a segment
// every `segmentMs`, through the real StreamLog (hashing and signing), no ffmpeg involved.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { StreamLog } from '../../src/store/stream-log.ts'
import { generateStreamKey } from '../../src/store/keys.ts'

export async function tempDir(t: TestContext, prefix = 'cjp2p-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix))
  t.after(() => rm(d, { recursive: true, force: true }))
  return d
}

export class SyntheticSource {
  private timer?: NodeJS.Timeout
  private segStart = 0
  private segAt = Date.now()
  appended = 0
  constructor(readonly log: StreamLog, private bytesPerTick: number, private tickMs: number, private segmentMs: number) {}

  static async create(t: TestContext, opts: { bitrateBps?: number; tickMs?: number; segmentMs?: number; name?: string } = {}): Promise<SyntheticSource> {
    const dir = await tempDir(t)
    const log = await StreamLog.createSource(dir, generateStreamKey(), opts.name ?? 'test', { format: 'ts', targetDuration: 1 })
    const tickMs = opts.tickMs ?? 40
    const s = new SyntheticSource(log, Math.round(((opts.bitrateBps ?? 2_000_000) / 8) * (tickMs / 1000)), tickMs, opts.segmentMs ?? 500)
    t.after(async () => { s.stop(); await log.close() })
    return s
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.tickMs)
  }

  private busy = false
  private async tick(): Promise<void> {
    if (this.busy) return
    this.busy = true
    try {
      await this.log.append(randomBytes(this.bytesPerTick))
      this.appended += this.bytesPerTick
      const now = Date.now()
      if (now - this.segAt >= this.segmentMs) {
        await this.log.addSegment({ offset: this.segStart, length: this.appended - this.segStart, duration: (now - this.segAt) / 1000, pdt: this.segAt, discontinuity: false })
        this.segStart = this.appended
        this.segAt = now
      }
    } finally { this.busy = false }
  }

  stop(): void { clearInterval(this.timer) }
}
