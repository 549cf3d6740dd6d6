// `list` and `search`: what a peer offers, and what the DHT knows by name. Both run a short-lived
// node (any free port, no HTTP) that asks and exits.
import { Runtime } from '../runtime.ts'
import { resolvePeer } from '../mesh/node.ts'
import type { NodeFlags } from './options.ts'
import { UsageError, loggerFor, runtimeOptions } from './options.ts'
import { wordsOf } from '../mesh/dht/name-words.ts'
import { bytes } from './format.ts'
import type { Shutdown } from './shutdown.ts'

/** The longest we wait for a --peer to answer our hello before asking anyway. */
const HELLO_WAIT_MS = 5000

export async function runList(flags: NodeFlags, shutdown: Shutdown): Promise<void> {
  if (flags.peer.length === 0) throw new UsageError('list needs --peer <host:port>: the node whose files to list')
  const peers = await Promise.all(flags.peer.map(resolvePeer))
  const rt = await Runtime.start(runtimeOptions(flags, loggerFor(flags), { httpPort: null, peers, saveState: false }))
  try {
    const all = []
    for (const p of peers) {
      await proven(rt, p, shutdown)
      for (const it of await rt.names.list(p)) all.push({ ...it, peer: p })
    }
    if (flags.json) process.stdout.write(JSON.stringify(all) + '\n')
    else for (const it of all) process.stdout.write(`${it.id}  ${bytes(it.size).padStart(10)}  ${it.name}\n`)
  } finally {
    await rt.close()
  }
}

export async function runSearch(words: string[], flags: NodeFlags, shutdown: Shutdown): Promise<void> {
  const text = words.join(' ')
  if (wordsOf(text).length === 0) throw new UsageError(`nothing to search for in ${JSON.stringify(text)}: words are 2 to 32 letters or digits`)
  if (flags.peer.length === 0) throw new UsageError('search needs --peer <host:port>: any node of the network (there are no built-in peers)')
  const peers = await Promise.all(flags.peer.map(resolvePeer))
  const rt = await Runtime.start(runtimeOptions(flags, loggerFor(flags), { httpPort: null, peers, saveState: false }))
  try {
    for (const p of peers) await proven(rt, p, shutdown)
    const hits = await rt.names.search(text)
    if (flags.json) process.stdout.write(JSON.stringify(hits) + '\n')
    else {
      for (const h of hits) process.stdout.write(`${h.id}  ${bytes(h.size).padStart(10)}  ${String(h.providers).padStart(3)} provider(s)  ${h.name}\n`)
      if (hits.length === 0) process.stderr.write(`no shared file found named with ${JSON.stringify(text)}\n`)
    }
  } finally {
    await rt.close()
  }
}

/** Waits until `addr` has answered our hello (echoed our cookie), so a question to it gets a whole
 * answer rather than what the 2x rule leaves for a stranger. */
async function proven(rt: Runtime, addr: string, shutdown: Shutdown): Promise<void> {
  const end = Date.now() + HELLO_WAIT_MS
  while (!rt.node.peers.get(addr)?.verified && Date.now() < end && !shutdown.signal.aborted) await new Promise((r) => setTimeout(r, 25))
}
