// A file-sharing node in its own process, driven over IPC by scripts/bench-files.ts, so the CPU time
// and memory of each side of a transfer can be measured apart.
//   parent -> child: {cmd:'share', path} | {cmd:'get', id, peers} | {cmd:'ours', addr} | {cmd:'stats'} | {cmd:'exit'}
// With a second argument `ours`, the node sends and asks for 40 KiB per datagram to peers marked
// with {cmd:'ours'} (as if they had exchanged stream-extension messages).
//   child -> parent: {ready, address} then one reply per command: {ok:true, ...} | {ok:false, error}
import { CjNode } from '../src/mesh/node.ts'
import { FileServer } from '../src/mesh/file-server.ts'
import { download } from '../src/mesh/file-download.ts'
import { UdpTransport } from '../src/mesh/transport.ts'
import { FileStore } from '../src/store/file-store.ts'

type Command = { cmd: 'share'; path: string } | { cmd: 'get'; id: string; peers: string[] } | { cmd: 'ours'; addr: string } | { cmd: 'stats' } | { cmd: 'exit' }

const dir = process.argv[2]
const ours = process.argv[3] === 'ours'
const RANGE = 40960
if (!dir || !process.send) {
  process.stderr.write('usage: run by scripts/bench-files.ts (forked with IPC) with a data dir argument\n')
  process.exit(2)
}
const send = (m: unknown) => process.send!(m)

function stats() {
  const cpu = process.cpuUsage()
  return { cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssMiB: process.resourceUsage().maxRSS / 1024 }
}

const transport = await UdpTransport.bind({ host: '127.0.0.1', port: 0 })
const node = new CjNode({ transport }, { probeIntervalMs: 60_000, ourDatagramBytes: ours ? 60_000 : undefined })
const store = await FileStore.open(dir)
const server = new FileServer({ node, store }, { ourMaxDataBytes: ours ? RANGE : undefined })

process.on('message', (m: Command) => {
  void (async () => {
    try {
      if (m.cmd === 'share') send({ ok: true, id: await store.share(m.path) })
      else if (m.cmd === 'get') {
        const before = stats()
        const result = await download(node, store, m.id, { peers: m.peers, ourRangeBytes: ours ? RANGE : undefined })
        const after = stats()
        send({ ok: true, result, cpuSeconds: after.cpuSeconds - before.cpuSeconds, peakRssMiB: after.peakRssMiB, node: node.counters })
      } else if (m.cmd === 'ours') {
        node.peers.touch(m.addr, 'configured').speaksStreams = true
        send({ ok: true })
      } else if (m.cmd === 'stats') send({ ok: true, ...stats(), served: server.counters, node: node.counters })
      else if (m.cmd === 'exit') {
        server.close()
        await node.close()
        await store.close()
        process.disconnect()
      }
    } catch (err) {
      send({ ok: false, error: `${(err as { code?: string }).code ?? ''} ${(err as Error).message}` })
    }
  })()
})
send({ ready: true, address: node.address })
