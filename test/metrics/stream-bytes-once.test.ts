// A node's stream bytes reach Prometheus one way only: the sink reads each swarm's statistics
// (SwarmStats, through the status the runtime hands to readStreams) at every scrape, and once more
// as the swarm closes (the registry's onClosed, as the runtime wires it). The node's
// per-datagram payload hook (the wire tally's) and the source log feed no second count into the
// same counters, so nothing is reconciled and every byte is exported once however often it is
// scraped or reported.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CjNode } from '../../src/mesh/node.ts'
import { MemoryNetwork } from '../../src/mesh/link.ts'
import { StreamRegistry } from '../../src/mesh/stream-registry.ts'
import type { StreamSwarm } from '../../src/mesh/stream/stream-swarm.ts'
import { PrometheusMetrics } from '../../src/metrics/prometheus-sink.ts'
import { generateStreamKey } from '../../src/store/keys.ts'
import { ChunkPool, memoryStorage } from '../../src/store/memory-stream-files.ts'
import { StreamLog } from '../../src/store/stream-log.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'
import { VirtualTimers } from '../../src/util/timers.ts'
import type { StreamStats } from '../../src/metrics/types.ts'

function totals(s: StreamSwarm): StreamStats {
  const st = s.status()
  return { stream: s.id, role: st.role, producedBytes: st.producedBytes, uploadedBytes: st.uploadedBytes }
}

async function counter(m: PrometheusMetrics, name: string, role: string): Promise<number> {
  const metric = m.registry.getSingleMetric(name)
  assert.ok(metric)
  const { values } = await metric.get()
  return values.filter((v) => v.labels.role === role).reduce((a, v) => a + v.value, 0)
}

/** A node whose swarms feed a Prometheus sink as the runtime wires it: read at every scrape, and
 * once more as each closes. */
async function meteredNode(seed: number) {
  const timers = new VirtualTimers({ seed, start: Date.UTC(2026, 0, 1) })
  const net = new MemoryNetwork({ timers }, { seed })
  const storage = memoryStorage(new ChunkPool())
  const metrics = new PrometheusMetrics({ processMetrics: false })
  const node = new CjNode({ transport: net.createTransport(), timers, metrics })
  await node.start()
  const reg = new StreamRegistry(node, { onClosed: (s) => metrics.streamClosed(totals(s)) })
  metrics.readStreams(() => reg.list().map(totals))
  return { timers, net, storage, metrics, node, reg }
}

test('a source\'s produced and uploaded bytes are exported once, as its swarm statistics count them', async () => {
  const { timers, net, storage, metrics, node, reg } = await meteredNode(3)
  const log = await StreamLog.createSource('mem', generateStreamKey(), 'once', { format: 'ts', targetDuration: 1, clock: () => timers.now(), storage })
  const swarm = reg.add(log)
  // A viewer that fetches the stream, so the source uploads too.
  const viewerNode = new CjNode({ transport: net.createTransport(), timers })
  await viewerNode.start()
  const viewerLog = await StreamLog.openReplica('mem/v', log.id, { clock: () => timers.now(), storage })
  const viewerReg = new StreamRegistry(viewerNode)
  viewerReg.add(viewerLog, { bootstrap: [node.address] })
  const bytes = 5 * CHUNK_SIZE
  for (let i = 0; i < 5; i++) {
    await log.append(Buffer.alloc(CHUNK_SIZE, i))
    await timers.runFor(1000)
  }
  await timers.runFor(3000)
  const st = (swarm as StreamSwarm).status()
  assert.equal(st.producedBytes, bytes)
  assert.ok(st.uploadedBytes > 0, 'the viewer was served')
  // Scraped three times: still each byte once.
  for (let i = 0; i < 3; i++) await metrics.text()
  assert.equal(await counter(metrics, 'cjp2p_stream_produced_bytes_total', 'source'), bytes)
  assert.equal(await counter(metrics, 'cjp2p_stream_uploaded_bytes_total', 'source'), st.uploadedBytes)
  assert.equal(await counter(metrics, 'cjp2p_stream_uploaded_bytes_total', 'relay'), 0)
  // Closed, then scraped again: its final reading adds nothing already counted.
  await reg.close()
  await metrics.text()
  assert.equal(await counter(metrics, 'cjp2p_stream_produced_bytes_total', 'source'), bytes)
  assert.equal(await counter(metrics, 'cjp2p_stream_uploaded_bytes_total', 'source'), (swarm as StreamSwarm).status().uploadedBytes)
  await viewerReg.close()
  await viewerNode.close()
  await viewerLog.close()
  await node.close()
  await log.close()
  metrics.close()
})

test('a stream that closes between two scrapes, or before any, still has all its bytes counted', async () => {
  const { timers, net, storage, metrics, node, reg } = await meteredNode(5)
  const viewerNode = new CjNode({ transport: net.createTransport(), timers })
  await viewerNode.start()
  const viewerReg = new StreamRegistry(viewerNode)
  const closing: Array<() => Promise<void>> = []
  // Each stream: a source this node carries and a viewer elsewhere that pulls from it.
  const carry = async (name: string): Promise<StreamSwarm> => {
    const log = await StreamLog.createSource('mem', generateStreamKey(), name, { format: 'ts', targetDuration: 1, clock: () => timers.now(), storage })
    const viewerLog = await StreamLog.openReplica(`mem/${name}`, log.id, { clock: () => timers.now(), storage })
    viewerReg.add(viewerLog, { bootstrap: [node.address] })
    closing.push(() => log.close(), () => viewerLog.close())
    return reg.add(log) as StreamSwarm
  }
  const publish = async (swarm: StreamSwarm, n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      await swarm.log.append(Buffer.alloc(CHUNK_SIZE, i))
      await timers.runFor(1000)
    }
    await timers.runFor(3000)
  }
  const long = await carry('long')
  await publish(long, 3)
  await metrics.text()
  const scraped = long.status().uploadedBytes
  await publish(long, 3) // sent after the scrape...
  const final = long.status()
  assert.ok(final.uploadedBytes > scraped, 'the viewer was served after the scrape')
  await reg.remove(long.id) // ...and closed before the next one
  const short = await carry('short') // lives and dies between scrapes
  await publish(short, 2)
  const shortFinal = short.status()
  assert.ok(shortFinal.uploadedBytes > 0)
  await reg.remove(short.id)
  await metrics.text()
  await metrics.text()
  assert.equal(await counter(metrics, 'cjp2p_stream_produced_bytes_total', 'source'), final.producedBytes + shortFinal.producedBytes)
  assert.equal(await counter(metrics, 'cjp2p_stream_uploaded_bytes_total', 'source'), final.uploadedBytes + shortFinal.uploadedBytes)
  await viewerReg.close()
  await viewerNode.close()
  await reg.close()
  await node.close()
  for (const c of closing) await c()
  metrics.close()
})
