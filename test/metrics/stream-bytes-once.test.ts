// A source's stream bytes reach Prometheus two ways, as in the runtime: per chunk from the swarm's
// statistics (SwarmStats.produced -> streamBytesProduced) and as the swarm's totals from the status
// loop (setStreamStats). Both describe the same bytes: the exported counter must hold each byte
// once. (The source log had a third hook of its own for the same bytes, which made a node wired
// with it count every appended byte twice; SwarmStats is the one source now.)
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CjNode } from '../../src/mesh/node.ts'
import { MemoryNetwork } from '../../src/mesh/link.ts'
import { StreamRegistry } from '../../src/mesh/stream-registry.ts'
import { PrometheusMetrics } from '../../src/metrics/prometheus-sink.ts'
import { generateStreamKey } from '../../src/store/keys.ts'
import { ChunkPool, memoryStorage } from '../../src/store/memory-stream-files.ts'
import { StreamLog } from '../../src/store/stream-log.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'
import { VirtualTimers } from '../../src/util/timers.ts'

async function produced(m: PrometheusMetrics): Promise<number> {
  const metric = m.registry.getSingleMetric('cjp2p_stream_produced_bytes_total')
  assert.ok(metric)
  const { values } = await metric.get()
  return values.reduce((a, v) => a + v.value, 0)
}

test('a source stream\'s produced bytes are exported once, whichever way they are reported', async () => {
  const timers = new VirtualTimers({ seed: 3, start: Date.UTC(2026, 0, 1) })
  const net = new MemoryNetwork({ timers }, { seed: 3 })
  const metrics = new PrometheusMetrics()
  const node = new CjNode({ transport: net.createTransport(), timers, metrics })
  await node.start()
  const log = await StreamLog.createSource('mem', generateStreamKey(), 'once', { format: 'ts', targetDuration: 1, clock: () => timers.now(), storage: memoryStorage(new ChunkPool()) })
  const reg = new StreamRegistry(node)
  const swarm = reg.add(log)
  const bytes = 5 * CHUNK_SIZE
  await log.append(Buffer.alloc(bytes, 7))
  await timers.runFor(100)
  const st = swarm.status()
  assert.equal(st.producedBytes, bytes)
  // The runtime's status loop reports the same totals again, twice.
  for (let i = 0; i < 2; i++) metrics.setStreamStats({ stream: st.id, role: st.role, producedBytes: st.producedBytes, uploadedBytes: st.uploadedBytes })
  assert.equal(await produced(metrics), bytes)
  await reg.close()
  await node.close()
  await log.close()
  metrics.close?.()
})
