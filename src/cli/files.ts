// `node`, `share` and `get`: the classic cjp2p file-sharing commands.
import { resolve } from 'node:path'
import { Runtime } from '../runtime.ts'
import { FileStore } from '../store/file-store.ts'
import { download } from '../mesh/file-download.ts'
import { resolvePeer } from '../mesh/node.ts'
import type { NodeFlags } from './options.ts'
import { UsageError, loggerFor, reachable, runtimeOptions } from './options.ts'
import type { Shutdown } from './shutdown.ts'
import { isFetchableId } from '../store/file-id.ts'
import { ProgressLine, bitrate, bytes, duration } from './format.ts'
import { GetDiagnosis, getWaits } from './get-diagnosis.ts'
import { mustExist } from './input-missing.ts'
import { ApiRefused, callApi, runningNode } from './node-api.ts'
import type { ApiInfo } from '../api-file.ts'

/** How often `get` handed to a running node asks it how far the download is. */
const POLL_MS = 250

export async function runNode(flags: NodeFlags, shutdown: Shutdown): Promise<void> {
  const log = loggerFor(flags)
  const rt = await Runtime.start(runtimeOptions(flags, log, { resumeTransfers: true }))
  const shared = await rt.files.list()
  if (flags.json) process.stdout.write(JSON.stringify({ udp: rt.udpAddress, http: rt.httpUrl, shared: shared.length }) + '\n')
  else {
    log.info(`node listening on udp ${rt.udpAddress}, sharing ${shared.length} file(s) from ${resolve(flags.dir, 'shared')}`)
    log.info(`other nodes on this machine reach it with --peer ${reachable(rt.udpAddress)}`)
    log.info(`status: ${rt.httpUrl}/status.json  dashboard: ${rt.httpUrl}/dashboard`)
    if (flags.peer.length === 0) log.info('no --peer given: waiting to be contacted')
  }
  await shutdown.until()
  log.info('stopping')
  await rt.close()
}

export async function runShare(path: string, flags: { dir: string; json?: boolean }): Promise<void> {
  await mustExist(path)
  // A node running on this folder shares it itself (and announces it at once).
  const running = await runningNode(flags.dir)
  if (running) {
    const { id, blake3, size } = await callApi<{ id: string; blake3?: string; size: number }>(running.http, 'POST', '/api/share', { token: running.token, body: { path: resolve(path) } })
    printShared(id, blake3, size, path, flags.json)
    return
  }
  const store = await FileStore.open(resolve(flags.dir))
  try {
    const { id, blake3, size } = await store.shareFile(resolve(path))
    printShared(id, blake3, size, path, flags.json)
  } finally {
    await store.close()
  }
}

/** Both ids, one a line (SHA-256 first, as before): either one fetches the file; `blake3/` is checked block by block. */
function printShared(id: string, blake3: string | undefined, size: number, path: string, json?: boolean): void {
  process.stdout.write(json ? JSON.stringify({ id, blake3, size, path: resolve(path) }) + '\n' : [id, blake3].filter(Boolean).join('\n') + '\n')
}

export async function runGet(idIn: string, flags: NodeFlags & { timeout?: number }, shutdown: Shutdown): Promise<void> {
  // Hex is hex whatever its case; ids on the wire are lower case.
  const id = /^(blake3\/)?[0-9a-fA-F]{64}$/.test(idIn) ? idIn.toLowerCase() : idIn
  // A malformed id is the caller's typo (exit 2), caught before a node is started for nothing.
  if (!isFetchableId(id)) throw new UsageError(`not a content id (sha256 hex, or blake3/<hex>): ${JSON.stringify(idIn)}`)
  const progress = new ProgressLine()
  const log = loggerFor(flags, progress)
  const peers = await Promise.all(flags.peer.map(resolvePeer))
  const running = await runningNode(flags.dir)
  if (running) return getThroughNode(running, id, peers, flags, progress, shutdown)
  const rt = await Runtime.start(runtimeOptions(flags, log, { httpPort: null, peers, saveState: false }))
  const waits = getWaits(flags.timeout)
  const diagnosis = new GetDiagnosis(id, rt.node.timers.now(), waits)
  const gaveUp = new AbortController()
  // Asked: the --peer addresses and everyone the node wrote to since (providers the DHT found, say).
  const askedSince = (since: number) => [...new Set([...peers, ...rt.node.peers.all().filter((p) => p.lastContacted >= since).map((p) => p.addr)])]
  const heardSince = (asked: string[], since: number) => asked.filter((a) => (rt.node.peers.get(a)?.lastHeard ?? 0) >= since)
  const started = rt.node.timers.now()
  // Providers found through the DHT join the download as hints, whichever peer --peer named.
  void rt.discover(id, AbortSignal.any([shutdown.signal, gaveUp.signal]))
  try {
    const result = await download(rt.node, rt.files, id, {
      peers, signal: AbortSignal.any([shutdown.signal, gaveUp.signal]), logger: log, metrics: rt.metrics,
      // Our own diagnosis gives up first and says why; this is the backstop.
      stallTimeoutMs: waits.stalledMs + 5000,
      onProgress: (p) => {
        const asked = askedSince(started)
        const view = diagnosis.observe(p, asked, heardSince(asked, started), rt.node.timers.now())
        if (view.giveUp) gaveUp.abort(view.giveUp)
        progress.update(view.line ?? `${bytes(p.bytes)}${p.size ? ' / ' + bytes(p.size) : ''}  ${bitrate(p.rateBps)}  ${p.peers} peer(s)  ETA ${duration(p.etaSeconds ?? Infinity)}`,
          p.size ? p.bytes / p.size : undefined)
      },
    }).catch((err: unknown) => { throw gaveUp.signal.aborted ? gaveUp.signal.reason : err })
    progress.done()
    const where = resolve(flags.dir, 'shared', id)
    if (flags.json) process.stdout.write(JSON.stringify({ ...result, path: where }) + '\n')
    else {
      log.info(`got ${bytes(result.size)} in ${(result.durationMs / 1000).toFixed(1)} s from ${result.suppliers.length} peer(s)${result.resumedBlocks ? `, resumed ${result.resumedBlocks} block(s)` : ''}`)
      process.stdout.write(where + '\n')
    }
  } finally {
    progress.done()
    await rt.close()
  }
}

interface FetchView { state: string; size: number | null; bytes: number; rateBps: number; peers: number; resumedBlocks: number | null; error: string | null }

/** `get` while a node runs on the same folder: the node downloads (one download per id, shared
 * with its HTTP readers); we follow its progress and cancel it on Ctrl-C. */
async function getThroughNode(node: ApiInfo, id: string, peers: string[], flags: NodeFlags & { timeout?: number }, progress: ProgressLine, shutdown: Shutdown): Promise<void> {
  const log = loggerFor(flags, progress)
  const started = Date.now()
  // --timeout means here what it means for our own download: that long without a new byte.
  let grewAt = started
  let lastBytes = -1
  await callApi(node.http, 'POST', '/api/fetches', { token: node.token, body: { id, peers } })
  log.info(`handed to the node running on ${resolve(flags.dir)} (${node.http})`)
  let v: FetchView
  try {
    for (;;) {
      v = await callApi<FetchView>(node.http, 'GET', `/api/fetches/${id}`)
      if (v.state === 'done' || v.state === 'failed' || v.state === 'cancelled') break
      progress.update(`${bytes(v.bytes)}${v.size ? ' / ' + bytes(v.size) : ''}  ${bitrate(v.rateBps)}  ${v.peers} peer(s)`, v.size ? v.bytes / v.size : undefined)
      if (v.bytes > lastBytes) { lastBytes = v.bytes; grewAt = Date.now() }
      if (flags.timeout !== undefined && Date.now() - grewAt > flags.timeout * 1000) {
        await callApi(node.http, 'DELETE', `/api/fetches/${id}`, { token: node.token }).catch(() => {})
        throw new ApiRefused('ERR_API', `no new byte of ${id} for ${flags.timeout} s (--timeout); the node keeps the partial copy for a later resume`)
      }
      await new Promise<void>((res) => { const t = setTimeout(res, POLL_MS); shutdown.signal.addEventListener('abort', () => { clearTimeout(t); res() }, { once: true }) })
      if (shutdown.signal.aborted) {
        await callApi(node.http, 'DELETE', `/api/fetches/${id}`, { token: node.token }).catch(() => {})
        throw new ApiRefused('ERR_API', 'interrupted: the node keeps the partial copy for a later resume')
      }
    }
  } finally {
    progress.done()
  }
  if (v.state !== 'done') throw new ApiRefused('ERR_API', `the node's download of ${id} ${v.state}: ${v.error ?? 'no reason given'}`)
  const where = resolve(flags.dir, 'shared', id)
  if (flags.json) process.stdout.write(JSON.stringify({ id, size: v.size, path: where, resumedBlocks: v.resumedBlocks, durationMs: Date.now() - started, via: node.http }) + '\n')
  else {
    log.info(`got ${bytes(v.size ?? 0)} through the node in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    process.stdout.write(where + '\n')
  }
}
