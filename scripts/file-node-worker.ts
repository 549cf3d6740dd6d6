// A file-sharing peer in its own process, driven over IPC by scripts/bench-files.ts, so the CPU time
// and memory of each side of a transfer can be measured apart.
//   argv: <dir> [ours|classic|classic-40k]   ours: a CjNode with store and file server (default);
//                                classic: scripts/classic-peer.ts (4096-byte blocks, no extension);
//                                classic-40k: the same serving up to 40 KiB an answer (the Rust node's clamp)
//   parent -> child: {cmd:'share', path} | {cmd:'get', id, peers} | {cmd:'stats'} | {cmd:'exit'}
//   child -> parent: {ready, address} then one reply per command: {ok:true, ...} | {ok:false, error}
// `get` on our node works as the CLI does: the peers are configured (bootstrap), the node starts
// (its hello says IAlsoSpeak), then the download runs.
import { CjNode } from '../src/mesh/node.ts'
import { FileServer } from '../src/mesh/file-server.ts'
import { download } from '../src/mesh/file-download.ts'
import { UdpTransport } from '../src/mesh/transport.ts'
import { FileStore } from '../src/store/file-store.ts'
import { ClassicPeer } from './classic-peer.ts'

type Command = { cmd: 'share'; path: string } | { cmd: 'get'; id: string; peers: string[] } | { cmd: 'stats' } | { cmd: 'exit' }

const dir = process.argv[2]
const mode = process.argv[3] === 'classic' || process.argv[3] === 'classic-40k' ? process.argv[3] : 'ours'
if (!dir || !process.send) {
  process.stderr.write('usage: run by scripts/bench-files.ts (forked with IPC) with a data dir argument\n')
  process.exit(2)
}
const send = (m: unknown) => process.send!(m)

function stats() {
  const cpu = process.cpuUsage()
  return { cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssMiB: process.resourceUsage().maxRSS / 1024 }
}

interface Peer { address: string; share(path: string): Promise<{ id: string; blake3?: string }>; get(id: string, peers: string[]): Promise<unknown>; close(): Promise<void> }

async function ourPeer(): Promise<Peer> {
  const transport = await UdpTransport.bind({ host: '127.0.0.1', port: 0 })
  let node = new CjNode({ transport }, { probeIntervalMs: 60_000 })
  const store = await FileStore.open(dir)
  const server = new FileServer({ node, store })
  return {
    address: node.address,
    share: (path) => store.shareFile(path),
    async get(id, peers) {
      // As `cjp2p-stream get --peer ...`: the peers are configured and greeted at start.
      server.close()
      await node.close()
      node = new CjNode({ transport: await UdpTransport.bind({ host: '127.0.0.1', port: 0 }) }, { probeIntervalMs: 60_000, bootstrap: peers })
      await node.start()
      return download(node, store, id, { peers })
    },
    async close() { server.close(); await node.close(); await store.close() },
  }
}

async function classicPeer(): Promise<Peer> {
  const p = await ClassicPeer.open({ cookie: 'always', maxLength: mode === 'classic-40k' ? 0xa000 : undefined })
  return {
    address: p.address,
    share: async (path) => ({ id: await p.share(path) }),
    get: async (id, peers) => { await p.fetch(id, peers[0]); return { id } },
    close: () => p.close(),
  }
}

const peer = mode === 'ours' ? await ourPeer() : await classicPeer()
process.on('message', (m: Command) => {
  void (async () => {
    try {
      if (m.cmd === 'share') send({ ok: true, ...await peer.share(m.path) })
      else if (m.cmd === 'get') {
        const before = stats()
        const t0 = performance.now()
        const result = await peer.get(m.id, m.peers)
        const seconds = (performance.now() - t0) / 1000
        const after = stats()
        send({ ok: true, result, seconds, cpuSeconds: after.cpuSeconds - before.cpuSeconds, peakRssMiB: after.peakRssMiB })
      } else if (m.cmd === 'stats') send({ ok: true, ...stats() })
      else if (m.cmd === 'exit') {
        await peer.close()
        process.disconnect()
      }
    } catch (err) {
      send({ ok: false, error: `${(err as { code?: string }).code ?? ''} ${(err as Error).message}` })
    }
  })()
})
send({ ready: true, address: peer.address })
