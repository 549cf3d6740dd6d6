// A viewer that stops says so to its stripe parents (StopSendingMe) before it stops sealing: with
// encryption on, its parents refuse plain datagrams from it once it has sealed to them, so a
// goodbye sent after the sessions closed was dropped, and the source kept pushing to the departed
// viewer until the child expired (CHILD_EXPIRY_MS, 4-6 s later). Real Runtimes on loopback, a
// synthetic stream through the real StreamLog (no ffmpeg).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Runtime } from '../../src/runtime.ts'
import { createLogger } from '../../src/util/logger.ts'
import { SyntheticSource, tempDir } from '../helpers/stream-fixture.ts'
import { CHILD_EXPIRY_MS, RESUBSCRIBE_MS } from '../../src/mesh/stream-policy.ts'
import { STRIPES } from '../../src/mesh/messages.ts'

async function until(what: string, ok: () => boolean, ms: number): Promise<number> {
  const t0 = Date.now()
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
  return Date.now() - t0
}

test('an encrypted viewer that closes leaves its parents at once: its goodbye goes sealed', async (t) => {
  const dir = await tempDir(t, 'cjp2p-goodbye-')
  const logger = createLogger({ level: 'warn' })
  const common = { httpPort: null, host: '127.0.0.1', port: 0, logger, processMetrics: false, encrypt: true }
  const source = await Runtime.start({ ...common, dir: join(dir, 'source'), role: 'source' })
  const { log, swarm } = await source.startSource('goodbye', { format: 'ts', targetDuration: 1 })
  const feed = new SyntheticSource(log, 10_000, 40, 500)
  feed.start()
  // The feed stops before the source closes its log.
  t.after(async () => { feed.stop(); await source.close() })
  const viewer = await Runtime.start({ ...common, dir: join(dir, 'viewer'), role: 'viewer', peers: [source.udpAddress] })
  t.after(() => viewer.close())
  const { swarm: watching } = await viewer.watch(log.id, [source.udpAddress])
  const children = () => swarm.status().children.flat().filter((a) => a === viewer.udpAddress).length
  await until('the viewer subscribes to the source in every stripe, and the source takes it', () => watching.status().parents.every((p) => p === source.udpAddress) && children() === STRIPES, 20_000)
  assert.ok(source.secure?.sealsTo(viewer.udpAddress) ?? false, 'the source and the viewer seal to each other')
  await viewer.close()
  // Without the goodbye the source forgets the child at its expiry, CHILD_EXPIRY_MS - RESUBSCRIBE_MS
  // at the soonest; with it, one loopback datagram later.
  const soonest = CHILD_EXPIRY_MS - RESUBSCRIBE_MS
  const took = await until('the source drops the departed viewer', () => children() === 0, soonest + 4000)
  assert.ok(took < soonest - 1000, `the source dropped the viewer ${took} ms after it closed; its goodbye was refused (a child expires ${soonest} ms after its last subscription at the soonest)`)
})
