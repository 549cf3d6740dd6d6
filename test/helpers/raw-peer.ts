// A bare UDP socket that speaks cjp2p JSON by hand, as a foreign client would: no CjNode, no codec.
import type { TestContext } from 'node:test'
import dgram from 'node:dgram'
import { parseAddress } from '../../src/mesh/transport.ts'
import { until } from './swarm.ts'

export type Raw = Record<string, unknown>
export interface RawDatagram { text: string; messages: Raw[] }

export class RawPeer {
  readonly received: RawDatagram[] = []
  /** The cookie the node asked us to return, once it did. */
  theirCookie: unknown
  private host: string
  private port: number
  /** Our own address, as the node sees it. */
  get address(): string { const a = this.sock.address(); return `${a.address}:${a.port}` }

  private constructor(private sock: dgram.Socket, target: string) {
    const a = parseAddress(target)!
    this.host = a.host
    this.port = a.port
    sock.on('message', (buf) => {
      const text = buf.toString('utf8')
      const messages = JSON.parse(text) as Raw[]
      for (const m of messages) if ('PleaseAlwaysReturnThisMessage' in m) this.theirCookie = m.PleaseAlwaysReturnThisMessage
      this.received.push({ text, messages })
    })
  }

  static async open(t: TestContext, target: string): Promise<RawPeer> {
    const sock = dgram.createSocket('udp4')
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()))
    t.after(() => new Promise<void>((r) => sock.close(() => r())))
    return new RawPeer(sock, target)
  }

  send(messages: Raw[]): Promise<number> {
    const buf = Buffer.from(JSON.stringify(messages))
    return new Promise((r) => this.sock.send(buf, this.port, this.host, () => r(buf.length)))
  }

  /** Sends with our cookie echo prefixed, as every client does once it has one. */
  sendEchoing(messages: Raw[]): Promise<number> {
    return this.send(this.theirCookie === undefined ? messages : [{ AlwaysReturned: this.theirCookie }, ...messages])
  }

  /** Every message of a type received so far, with the raw datagram text it came in. */
  all(type: string): { body: Raw; text: string }[] {
    return this.received.flatMap((d) => d.messages.filter((m) => type in m).map((m) => ({ body: m[type] as Raw, text: d.text })))
  }

  async waitFor(type: string, pred: (body: Raw) => boolean = () => true, ms = 5000): Promise<Raw> {
    const found = await until(() => this.all(type).find((x) => pred(x.body)), ms, `a ${type}`)
    return found.body
  }
}
