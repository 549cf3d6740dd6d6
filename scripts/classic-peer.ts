// A classic cjp2p peer on a bare UDP socket, written from how the existing implementations behave
// on the wire (PROTOCOL.md), not from their code: 4096-byte blocks, every request of a datagram
// answered in one datagram (as the Rust node does), its own fetch one request per datagram, no
// extension messages. Tests and `npm run bench:files` use it to stand for the Rust node and the Ruby
// client where those cannot run.
//   cookie: 'always' echoes the cookie we were asked to return on every datagram (Rust); 'never'
//   never does and never asks for one (the Ruby client as observed: it stays unverified).
//   listsAsker: its Peers and MaybeTheyHaveSome name the asker itself (both do).
//   maxLength: the most data bytes per answer: 4096 by default (the Ruby client relaying a file),
//   0xa000 for the Rust node's clamp.
import dgram from 'node:dgram'
import { createHash } from 'node:crypto'
import { closeSync, openSync, fstatSync, readSync } from 'node:fs'

export const CLASSIC_BLOCK = 4096
type Raw = Record<string, unknown>

export interface ClassicInit { cookie: 'always' | 'never'; listsAsker?: boolean; host?: string; maxLength?: number }

export class ClassicPeer {
  readonly sock: dgram.Socket
  address = ''
  /** Datagrams and bytes received, per source address. */
  readonly heard = new Map<string, { datagrams: number; bytes: number; first: number }>()
  private files = new Map<string, { fd: number; size: number }>()
  private cookies = new Map<string, unknown>()
  private onContent?: (c: Raw, from: string) => void

  private constructor(private init: ClassicInit) {
    this.sock = dgram.createSocket('udp4')
    this.sock.on('message', (buf, r) => this.receive(buf, `${r.address}:${r.port}`))
    this.sock.on('error', () => {})
  }

  static async open(init: ClassicInit): Promise<ClassicPeer> {
    const p = new ClassicPeer(init)
    await new Promise<void>((r) => p.sock.bind(0, init.host ?? '127.0.0.1', () => r()))
    try { p.sock.setRecvBufferSize(4 << 20); p.sock.setSendBufferSize(4 << 20) } catch { /* OS cap */ }
    p.address = `${p.sock.address().address}:${p.sock.address().port}`
    return p
  }

  /** Serves a file by its sha256 id, read block by block from disk as the reference node does. */
  share(path: string): string {
    const fd = openSync(path, 'r')
    const size = fstatSync(fd).size
    const h = createHash('sha256')
    const buf = Buffer.allocUnsafe(1 << 20)
    for (let pos = 0; pos < size;) { const n = readSync(fd, buf, 0, buf.length, pos); h.update(buf.subarray(0, n)); pos += n }
    const id = h.digest('hex')
    this.files.set(id, { fd, size })
    return id
  }

  send(messages: Raw[], to: string): number {
    const c = this.cookies.get(to)
    const all = this.init.cookie === 'always' && c !== undefined ? [...messages, { AlwaysReturned: c }] : messages
    const buf = Buffer.from(JSON.stringify(all))
    const i = to.lastIndexOf(':')
    this.sock.send(buf, Number(to.slice(i + 1)), to.slice(0, i))
    return buf.length
  }

  private receive(buf: Buffer, from: string): void {
    const h = this.heard.get(from) ?? { datagrams: 0, bytes: 0, first: Date.now() }
    h.datagrams++; h.bytes += buf.length
    this.heard.set(from, h)
    let msgs: unknown
    try { msgs = JSON.parse(buf.toString('utf8')) } catch { return }
    if (!Array.isArray(msgs)) return
    const out: Raw[] = []
    for (const m of msgs as Raw[]) {
      if (m === null || typeof m !== 'object') continue
      if ('PleaseAlwaysReturnThisMessage' in m) this.cookies.set(from, m.PleaseAlwaysReturnThisMessage)
      else if ('PleaseReturnThisMessage' in m) out.push({ ReturnedMessage: m.PleaseReturnThisMessage })
      else if ('PleaseSendPeers' in m) out.push({ Peers: { peers: this.init.listsAsker ? [from] : [] } })
      else if ('PleaseSendContent' in m) out.push(...this.content(m.PleaseSendContent as Raw, from))
      else if ('Content' in m) this.onContent?.(m.Content as Raw, from)
    }
    if (out.length) this.send(out, from)
  }

  private content(req: Raw, from: string): Raw[] {
    const f = this.files.get(req.id as string)
    if (!f) return this.init.listsAsker ? [{ MaybeTheyHaveSome: { id: req.id, peers: [from] } }] : []
    const offset = Number(req.offset)
    const n = Math.max(0, Math.min(Number(req.length), this.init.maxLength ?? CLASSIC_BLOCK, f.size - offset))
    const data = Buffer.allocUnsafe(n)
    if (n > 0) readSync(f.fd, data, 0, n, offset)
    return [{ Content: { id: req.id, offset, base64: data.toString('base64'), eof: f.size } }]
  }

  /** Fetches a whole file the classic way: one 4096-byte request per datagram, `window` in flight,
   * a request unanswered for a second asked again; a block counts if it is 4096 bytes or ends at
   * eof. Verifies the sha256 and resolves with the bytes. */
  fetch(id: string, from: string, opts: { window?: number; timeoutMs?: number } = {}): Promise<Buffer> {
    const window = opts.window ?? 32
    return new Promise((resolve, reject) => {
      let eof = -1
      let out = Buffer.alloc(0)
      let have = new Uint8Array(0)
      let got = 0
      let next = 0
      const asked = new Map<number, number>()
      const ask = (b: number) => { asked.set(b, Date.now()); this.send([{ PleaseSendContent: { id, offset: b * CLASSIC_BLOCK, length: CLASSIC_BLOCK } }], from) }
      const fill = () => {
        const blocks = eof < 0 ? 1 : Math.ceil(eof / CLASSIC_BLOCK)
        while (asked.size < window && next < blocks) { if (!have[next]) ask(next); next++ }
      }
      const timer = setInterval(() => {
        const now = Date.now()
        for (const [b, at] of asked) if (now - at > 1000) ask(b)
        if (eof < 0 && asked.size === 0) ask(0)
      }, 100)
      const deadline = setTimeout(() => { finish(); reject(new Error(`classic fetch of ${id} timed out with ${got} blocks`)) }, opts.timeoutMs ?? 600_000)
      const finish = () => { clearInterval(timer); clearTimeout(deadline); this.onContent = undefined }
      this.onContent = (c) => {
        if (c.id !== id || typeof c.eof !== 'number' || typeof c.base64 !== 'string') return
        if (eof < 0) { eof = c.eof; out = Buffer.alloc(eof); have = new Uint8Array(Math.ceil(eof / CLASSIC_BLOCK)) }
        const off = Number(c.offset)
        const b = off / CLASSIC_BLOCK
        const data = Buffer.from(c.base64, 'base64')
        if (!Number.isInteger(b) || have[b]) return
        if (data.length === CLASSIC_BLOCK || off + data.length === eof) {
          asked.delete(b); data.copy(out, off); have[b] = 1; got++
        } else {
          ask(b) // a short answer (we were not verified yet): the next request carries the cookie
        }
        if (got === have.length) {
          finish()
          const sum = createHash('sha256').update(out).digest('hex')
          return sum === id ? resolve(out) : reject(new Error(`classic fetch of ${id}: sha256 mismatch`))
        }
        fill()
      }
      ask(0); next = 1
    })
  }

  close(): Promise<void> {
    for (const f of this.files.values()) closeSync(f.fd)
    this.files.clear()
    return new Promise((r) => this.sock.close(() => r()))
  }
}
