// Real processes on loopback for the bandwidth limits (--max-upload, --max-download): a big random
// file shared by a `node` (or an `ingest`), nodes that fetch it through their local API, stream
// viewers, and each node's wire counters and bandwidth status read from /status.json. Used by the
// e2e test (test/e2e/bandwidth-limits.test.ts) and the benchmark (scripts/bench-bandwidth.ts).
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import type { TestContext } from 'node:test'
import { CliProcess, loopbackFlags, runCli, startCli } from './cli-process.ts'
import { callApi, runningNode } from '../../src/cli/node-api.ts'
import type { NodeStatus } from '../../src/metrics/node-status.ts'

export type Cleanup = Pick<TestContext, 'after'>

export interface RunningNode { proc: CliProcess; udp: string; http: string; dir: string }

/** Writes `mib` MiB of random bytes (nothing compresses or repeats). */
export async function randomFile(path: string, mib: number): Promise<string> {
  const out = createWriteStream(path)
  for (let i = 0; i < mib; i++) if (!out.write(randomBytes(1 << 20))) await new Promise<void>((r) => out.once('drain', () => r()))
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())))
  return path
}

/** `share` a file into `dir` (no node runs there yet); returns its SHA-256 id. */
export async function shareInto(dir: string, file: string): Promise<string> {
  const r = await runCli(['share', file, '--dir', dir])
  if (r.code !== 0) throw new Error(`share failed: ${r.stderr}`)
  return r.stdout.split('\n')[0]
}

/** A `node` on loopback with the given extra flags (e.g. --max-upload 1M, --peer ...). */
export async function startNode(t: Cleanup, dir: string, extra: string[] = []): Promise<RunningNode> {
  const proc = startCli(t as TestContext, ['node', '--json', ...loopbackFlags(dir), ...extra])
  const info = await proc.firstJson<{ udp: string; http: string }>()
  return { proc, udp: info.udp, http: info.http, dir }
}

/** An `ingest testsrc` on loopback at `bitrate`; returns the node and its stream id. */
export async function startSource(t: Cleanup, dir: string, bitrate: string, extra: string[] = []): Promise<RunningNode & { id: string }> {
  const proc = startCli(t as TestContext, ['ingest', 'testsrc', '--json', '--name', 'bw', '--bitrate', bitrate, ...loopbackFlags(dir), ...extra])
  const info = await proc.firstJson<{ id: string; udp: string; http: string }>(90_000)
  return { proc, udp: info.udp, http: info.http, dir, id: info.id }
}

/** A `watch` of a stream on loopback. */
export async function startViewer(t: Cleanup, dir: string, id: string, peer: string, extra: string[] = []): Promise<RunningNode> {
  const proc = startCli(t as TestContext, ['watch', id, '--json', '--peer', peer, ...loopbackFlags(dir), ...extra])
  const info = await proc.firstJson<{ udp: string; http: string }>(60_000)
  return { proc, udp: info.udp, http: info.http, dir }
}

/** Has the node running on `dir` fetch `id` from `peers` (what `get --dir` hands to a running node). */
export async function fetchOn(node: RunningNode, id: string, peers: string[]): Promise<void> {
  const api = await runningNode(node.dir)
  if (!api) throw new Error(`no node runs on ${node.dir}`)
  await callApi(api.http, 'POST', '/api/fetches', { token: api.token, body: { id, peers } })
}

export async function statusOf(node: RunningNode): Promise<NodeStatus> {
  return callApi<NodeStatus>(node.http, 'GET', '/status.json', { timeoutMs: 10_000 })
}

/** What one node sent and received on its socket, the stream datagrams' share of what it sent, and
 * the stream chunks it holds verified. */
export interface WireSample { at: number; bytesOut: number; bytesIn: number; streamOut: number; verifiedChunks: number }

export async function sample(node: RunningNode): Promise<WireSample> {
  const st = await statusOf(node)
  return {
    at: performance.now(), bytesOut: st.counters.bytesOut, bytesIn: st.counters.bytesIn,
    streamOut: st.bandwidth.upload.sentByLane.stream,
    verifiedChunks: st.streams.reduce((a, s) => a + s.verifiedChunks, 0),
  }
}

/** Bytes a second between two samples. */
export function rates(a: WireSample, b: WireSample): { out: number; in: number; streamOut: number; chunksPerSecond: number; seconds: number } {
  const s = (b.at - a.at) / 1000
  return { out: (b.bytesOut - a.bytesOut) / s, in: (b.bytesIn - a.bytesIn) / s, streamOut: (b.streamOut - a.streamOut) / s, chunksPerSecond: (b.verifiedChunks - a.verifiedChunks) / s, seconds: s }
}
