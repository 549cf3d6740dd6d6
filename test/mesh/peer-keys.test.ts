// Peers known by their node keys (src/mesh/nat/peer-keys.ts), on the in-process network in
// virtual time: a peer behind a NAT that rebinds it to a new port proves its key at the new address
// and is the same peer there (its ban and penalties follow it); a claim without a proof over our
// nonce, or with another key's signature, moves nothing.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { proofBytes } from '../../src/mesh/nat/peer-keys.ts'
import { decodeDatagram, encodeDatagram } from '../../src/mesh/messages.ts'
import { generateStreamKey } from '../../src/store/keys.ts'
import { NattedTransport, memoryNatLab } from '../helpers/memory-nat.ts'

const lab = memoryNatLab

describe('peers known by their keys', () => {
  it('a NAT rebinding moves a peer to a new port: it proves its key there and its old address (and ban) follow', async (t) => {
    const l = lab()
    t.after(l.close)
    const pub = await l.add(l.net.createTransport())
    const homeT = new NattedTransport(l.net, 'cone')
    const home = await l.add(homeT, [pub.node.address])
    await l.timers.runFor(2000)
    const before = homeT.publicAddressTowards(pub.node.address)!
    assert.ok(pub.nat!.keys!.keyOf(before), 'the peer proved its key at its first address')
    pub.node.peers.get(before)!.penalty = 30
    const moves: string[][] = []
    pub.node.on('peer-moved', (a: string, b: string) => moves.push([a, b]))

    homeT.rebind()
    home.node.send(pub.node.address, [{ type: 'PleaseReturnThisMessage', value: l.timers.now() }])
    await l.timers.runFor(1000)
    const after = homeT.publicAddressTowards(pub.node.address)!
    assert.notEqual(after, before, 'the router moved the mapping')
    assert.deepEqual(moves, [[before, after]])
    assert.equal(pub.nat!.keys!.keyOf(after), pub.node.peers.get(after)?.publicKey)
    assert.equal(pub.nat!.keys!.keyOf(before), undefined, 'the old address no longer holds the key')
    assert.equal(pub.node.peers.get(after)?.penalty, 30, 'penalties follow the key')
    // And with its next datagram the rebound node learns its new public address.
    home.node.send(pub.node.address, [{ type: 'PleaseReturnThisMessage', value: l.timers.now() }])
    await l.timers.runFor(1000)
    assert.equal(home.node.nat.publicAddress, after)
  })

  it('a key claimed without a proof over our nonce, or proven with another key, moves nothing', async (t) => {
    const l = lab()
    t.after(l.close)
    const pub = await l.add(l.net.createTransport())
    const honest = await l.add(l.net.createTransport(), [pub.node.address])
    await l.timers.runFor(2000)
    const key = pub.node.peers.get(honest.node.address)!.publicKey!
    assert.ok(pub.nat!.keys!.keyOf(honest.node.address))
    const moves: string[][] = []
    pub.node.on('peer-moved', (a: string, b: string) => moves.push([a, b]))
    // An impostor proves its own address, then answers our challenge with the honest key and a
    // signature by its own key, and later with a nonce we never sent.
    const raw = l.net.createTransport()
    const sent: string[] = []
    const impostorKey = generateStreamKey()
    let cookie: unknown
    raw.onDatagram((buf) => {
      const d = decodeDatagram(buf)
      if (!d.ok) return
      for (const m of d.messages) {
        if (m.type === 'PleaseAlwaysReturnThisMessage') cookie = m.value
        if (m.type === 'PleaseProveYourKey') sent.push(m.nonce)
      }
    })
    const say = (msgs: Parameters<typeof encodeDatagram>[0]) => raw.send(encodeDatagram(cookie === undefined ? msgs : [{ type: 'AlwaysReturned', value: cookie as never }, ...msgs]), pub.node.address)
    say([{ type: 'IAlsoSpeak', extensions: ['cjp2p-stream/1'], maxDatagramBytes: 5888 }])
    await l.timers.runFor(100)
    say([{ type: 'IAlsoSpeak', extensions: ['cjp2p-stream/1'], maxDatagramBytes: 5888 }])
    await l.timers.runFor(100)
    assert.equal(sent.length, 1, 'the impostor was challenged once it proved its address')
    say([{ type: 'MyPublicKey', ed25519h: key, proof: { nonce: sent[0], sig: impostorKey.sign(proofBytes(sent[0])).toString('base64') } }])
    say([{ type: 'MyPublicKey', ed25519h: impostorKey.publicKeyHex, proof: { nonce: 'ab'.repeat(16), sig: impostorKey.sign(proofBytes('ab'.repeat(16))).toString('base64') } }])
    await l.timers.runFor(100)
    assert.deepEqual(moves, [])
    assert.equal(pub.nat!.keys!.keyOf(raw.address), undefined)
    assert.equal(pub.nat!.keys!.counters.bad, 2)
    assert.equal(pub.nat!.keys!.keyOf(honest.node.address), key)
    void raw.close()
  })
})
