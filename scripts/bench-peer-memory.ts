// Heap per peer-table entry, the memory a simulated swarm of thousands is made of (each node keeps
// up to 2,000): `told` entries only heard of in a Peers list, and `spoken` entries a node wrote to
// (a hello each), half of which answered with their cookie and echoed ours, as in a join wave.
// Run: node --expose-gc --import tsx scripts/bench-peer-memory.ts
import { CjNode } from '../src/mesh/node.ts'
import type { Message } from '../src/mesh/messages.ts'
import type { Transport } from '../src/mesh/transport.ts'
import { VirtualTimers } from '../src/util/timers.ts'

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc')
const NODES = 30
const ENTRIES = 2000

function perEntry(spoken: boolean): number {
  const timers = new VirtualTimers({ start: 1_796_000_000_000 })
  const nodes: CjNode[] = []
  gc!()
  const before = process.memoryUsage().heapUsed
  for (let k = 0; k < NODES; k++) {
    let deliver: ((messages: Message[], bytes: number, from: string) => void) | undefined
    const t: Transport = {
      address: `127.0.0.1:${10_000 + k}`, send: () => {}, onDatagram: () => {}, sendDecoded: () => {}, close: async () => {},
      onDecoded: (fn) => { deliver = fn },
    }
    const node = new CjNode({ transport: t, timers }, { secret: Buffer.alloc(32, k) })
    for (let i = 0; i < ENTRIES; i++) {
      const a = `127.0.0.1:${20_000 + i}`
      if (!spoken) { node.peers.touch(a, 'told'); continue }
      node.send(a, [{ type: 'PleaseSendPeers' }])
      if (i % 2 === 0) {
        deliver!([
          { type: 'PleaseAlwaysReturnThisMessage', value: { cookie: `c${i}` } },
          { type: 'AlwaysReturned', value: { cookie: node.cookieFor(a) } },
          { type: 'PleaseSendPeers' },
        ], 120, a)
      }
    }
    nodes.push(node)
  }
  gc!()
  const bytes = (process.memoryUsage().heapUsed - before) / (NODES * ENTRIES)
  if (nodes.some((n) => n.peers.size !== ENTRIES)) throw new Error('a table lost entries')
  return bytes
}

console.log(`heap per peer entry (${NODES} nodes x ${ENTRIES} entries): told ${Math.round(perEntry(false))} B, spoken ${Math.round(perEntry(true))} B`)
