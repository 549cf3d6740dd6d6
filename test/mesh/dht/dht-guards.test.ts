// What a stranger can make a DHT node do: announcements from addresses that never proved
// themselves are refused, and answers to them stay within twice the bytes they sent.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CjNode } from '../../../src/mesh/node.ts'
import { Dht } from '../../../src/mesh/dht/dht.ts'
import { MemoryNetwork } from '../../../src/mesh/link.ts'
import { decodeDatagram, encodeDatagram } from '../../../src/mesh/messages.ts'
import type { Message } from '../../../src/mesh/messages.ts'
import { generateStreamKey } from '../../../src/store/keys.ts'
import { VirtualTimers } from '../../../src/util/timers.ts'
import type { Transport } from '../../../src/mesh/transport.ts'

async function swarmOf(n: number, wrap: (t: Transport) => Transport = (t) => t, timers = new VirtualTimers({ seed: 3 })) {
  const net = new MemoryNetwork({ timers }, { link: { delayMs: 5, loss: 0 } })
  const nodes: Array<{ node: CjNode; dht: Dht }> = []
  for (let i = 0; i < n; i++) {
    const node = new CjNode({ transport: wrap(net.createTransport()), timers }, { bootstrap: i ? [nodes[0].node.address] : [] })
    const dht = new Dht({ node, key: generateStreamKey() })
    await node.start(); dht.start()
    nodes.push({ node, dht })
  }
  await timers.runFor(20_000)
  const close = async () => { for (const x of nodes) { x.dht.close(); await x.node.close() } }
  return { timers, net, nodes, close }
}

test('an unproven address cannot announce, and its questions get answers within 2x', async () => {
  const { timers, net, nodes, close } = await swarmOf(12)
  const target = nodes[0]
  const raw = net.createTransport()
  const heard: Buffer[] = []
  raw.onDatagram((b) => heard.push(b))
  const send = (ms: Message[]) => { const b = encodeDatagram(ms); raw.send(b, target.node.address); return b.length }

  send([{ type: 'IHave', id: 'f'.repeat(64) }])
  await timers.runFor(100)
  assert.equal(target.dht.providers.keys, 0, 'nothing stored from an unverified address')
  assert.equal(target.dht.counters.announces.unverified, 1)

  const sent = send([{ type: 'WhoIsNear', id: 'a'.repeat(64) }]) + send([{ type: 'WhoHas', id: 'b'.repeat(64) }])
  await timers.runFor(100)
  const got = heard.reduce((n, b) => n + b.length, 0)
  assert.ok(got > 0 && got <= 2 * sent, `answers ${got} bytes to ${sent} bytes asked`)
  const near = heard.flatMap((b) => { const d = decodeDatagram(b); return d.ok ? d.messages : [] }).filter((m) => m.type === 'TheseAreNear')
  assert.ok(near.length >= 1, 'a question is answered, even small')
  await close()
  assert.equal(timers.active, 0, 'no timer left after close')
})

test('a provider announced by one node is found by every other, and the DHT names itself as provider', async () => {
  const { timers, nodes, close } = await swarmOf(12)
  nodes[3].dht.provide('stream/' + 'c'.repeat(64) + '/Live')
  await timers.runFor(5000)
  for (const [i, x] of nodes.entries()) {
    if (i === 3) continue
    let found: string[] | undefined
    void x.dht.findProviders('stream/' + 'c'.repeat(64) + '/Live').then((r) => { found = r.providers })
    await timers.runUntil(() => found !== undefined, timers.now() + 30_000)
    assert.deepEqual(found, [nodes[3].node.address], `node ${i} finds the provider`)
  }
  let other: string[] | undefined
  void nodes[1].dht.findProviders('stream/' + 'c'.repeat(64) + '/live').then((r) => { other = r.providers })
  await timers.runUntil(() => other !== undefined, timers.now() + 30_000)
  assert.deepEqual(other, [], 'another id (case differs) has no providers')
  await close()
})

test('an answer that asked for our cookie gets the echo once: the DHT marks the answer, the node sends it', async () => {
  // Echoes sent alone, by sender, receiver and virtual time: the DHT sent its own beside the node's.
  const timers = new VirtualTimers({ seed: 3 })
  const lone = new Map<string, number>()
  const wrap = (t: Transport): Transport => {
    const send = t.send.bind(t)
    t.send = (buf, to) => {
      const d = decodeDatagram(buf)
      if (d.ok && d.messages.length > 0 && d.messages.every((m) => m.type === 'AlwaysReturned')) {
        const k = `${t.address} ${to} ${timers.now()}`
        lone.set(k, (lone.get(k) ?? 0) + 1)
      }
      send(buf, to)
    }
    return t
  }
  // The nodes join and fill their tables: their first answers ask for cookies.
  const { close } = await swarmOf(12, wrap, timers)
  const twice = [...lone.values()].filter((n) => n > 1).length
  assert.ok(lone.size > 0, 'answers that asked for our cookie were echoed')
  assert.equal(twice, 0, `${twice} of ${lone.size} echoes went twice`)
  await close()
})
