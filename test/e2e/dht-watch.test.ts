// Discovery through the DHT for a live stream: the source names only B (which never watches), the
// viewer names only B too; the viewer finds the source through B's DHT answer and receives the
// stream. Three Runtimes in this process, each on its own real UDP socket on loopback.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { Runtime } from '../../src/runtime.ts'
import { silentLogger } from '../../src/util/logger.ts'
import { tempDir, until } from '../helpers/cli-process.ts'

test('watch finds the source through the DHT when --peer names only an unrelated node', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-dht-watch-')
  // Hellos only at start (the probe interval is longer than the test): the viewer cannot meet the
  // source through peer exchange, only through the DHT.
  const opts = (name: string, peers: string[] = []) => ({ dir: join(dir, name), httpPort: null, peers, logger: silentLogger, processMetrics: false, probeIntervalMs: 600_000 })
  const b = await Runtime.start(opts('b'))
  t.after(() => b.close())
  const s = await Runtime.start({ ...opts('s', [b.udpAddress]), role: 'source' as const })
  t.after(() => s.close())
  const { log } = await s.startSource('dhtsky', { format: 'ts', targetDuration: 1 })
  // A steady synthetic stream: 64 KiB every 100 ms, a segment every 500 ms.
  let segStart = 0
  let appended = 0
  let segAt = Date.now()
  let busy = false
  const feed = setInterval(() => {
    if (busy) return
    busy = true
    void (async () => {
      await log.append(randomBytes(65536))
      appended += 65536
      if (Date.now() - segAt >= 500) {
        await log.addSegment({ offset: segStart, length: appended - segStart, duration: (Date.now() - segAt) / 1000, pdt: segAt, discontinuity: false })
        segStart = appended
        segAt = Date.now()
      }
    })().catch(() => { /* the log closed under us at teardown */ }).finally(() => { busy = false })
  }, 100)
  t.after(() => clearInterval(feed))

  await until('B to hold the source\'s announcement', 30_000, () => b.dht.providers.get(log.id, 16).includes(s.udpAddress))
  const v = await Runtime.start(opts('v', [b.udpAddress]))
  t.after(() => v.close())
  const { swarm } = await v.watch(log.id, [b.udpAddress])
  assert.deepEqual(await v.findProviders(log.id), [s.udpAddress], 'the DHT names the source')
  await until('the viewer to receive stream bytes', 60_000, () => swarm.status().receivedBytes >= 256 * 1024)
  assert.equal(b.streams.list().length, 0, 'B never carried the stream')
  assert.ok(swarm.status().receivedBytes >= 256 * 1024)
})
