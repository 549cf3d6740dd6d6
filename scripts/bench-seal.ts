// `npm run bench:seal -- [--rounds 20000] [--kbps 2000]`
// What encryption between our peers costs per datagram, on this machine's CPU: a stream block
// (4 KiB, as a relaying viewer receives and forwards it) from messages to wire bytes and back,
// plain (JSON with base64, as classic peers get it) and sealed (the binary tail inside a
// ChaCha20-Poly1305 frame, src/mesh/secure/), and what that is as a share of one core for a
// viewer that receives the stream and relays one copy at the given rate (issue 13's goal: the
// encryption at most 1 % of a core at 2 Mb/s). The shipped functions, nothing modelled.
import { scriptFlags } from './script-args.ts'
import { randomBytes } from 'node:crypto'
import { contentHeadJson, decodeDatagram, decodeOpened, encodeBinaryTail, messageJson, type MessageOf } from '../src/mesh/messages.ts'
import { ReplayWindow, openFrame, sealFrame } from '../src/mesh/secure/sealed-frame.ts'
import { BLOCK_SIZE } from '../src/store/stream-types.ts'

const values = scriptFlags('bench:seal', 'npm run bench:seal -- [--rounds 20000] [--kbps 2000]', { rounds: { type: 'string' }, kbps: { type: 'string' } })
const rounds = Number(values.rounds ?? 20_000)
const kbps = Number(values.kbps ?? 2000)
if (!Number.isInteger(rounds) || rounds < 100 || !(kbps > 0)) {
  process.stderr.write('bench:seal: --rounds must be an integer >= 100 and --kbps a positive number\n')
  process.exit(2)
}

const key = randomBytes(32)
const block = (i: number): MessageOf<'Content'> =>
  ({ type: 'Content', id: `stream/${'ab'.repeat(32)}/bench`, offset: i * BLOCK_SIZE, data: randomBytes(BLOCK_SIZE), hops: 2 })
// Fresh messages each round, as in a stream: messageJson caches a message's encoding.
const blocks = Array.from({ length: 256 }, (_, i) => block(i))

/** Microseconds per round of `f`, after a warm-up. */
function perRound(f: (i: number) => number): { us: number; bytes: number } {
  for (let i = 0; i < 2000; i++) f(i)
  let bytes = 0
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < rounds; i++) bytes = f(i)
  return { us: Number(process.hrtime.bigint() - t0) / 1000 / rounds, bytes }
}

const plainSend = (i: number) => Buffer.from('[' + messageJson({ ...blocks[i & 255] }).json + ']')
const plain = perRound((i) => {
  const wire = plainSend(i)
  if (!decodeDatagram(wire).ok) throw new Error('plain datagram did not decode')
  return wire.length
})
const window = new ReplayWindow()
// Each datagram a counter of its own (warm-up included): the replay window takes each once.
let counter = 0
const sealed = perRound((i) => {
  const m = blocks[i & 255]
  const wire = sealFrame(key, 7, counter++, encodeBinaryTail([contentHeadJson(m)], [m.data]))
  const opened = openFrame(key, wire)
  if (!opened || !window.accept(opened.counter) || !decodeOpened(opened.plain).ok) throw new Error('sealed datagram did not open')
  return wire.length
})

// A relaying viewer at this rate: every block received once and sent once (one copy relayed).
const blocksPerSecond = (kbps * 1000) / 8 / BLOCK_SIZE
const share = (us: number) => `${((us * blocksPerSecond) / 1e6 * 100).toFixed(2)} %`
const rows = [
  ['plain JSON (base64)', plain.bytes, plain.us, share(plain.us)],
  ['sealed (binary tail, ChaCha20-Poly1305)', sealed.bytes, sealed.us, share(sealed.us)],
] as const
process.stdout.write(`### A 4 KiB stream block sent and received (${rounds} rounds; ${blocksPerSecond.toFixed(0)} blocks/s each way at ${kbps} kb/s)\n\n`)
process.stdout.write('| path | datagram bytes | us per block (encode + decode) | share of a core, relaying viewer |\n|---|---|---|---|\n')
for (const [name, bytes, us, s] of rows) process.stdout.write(`| ${name} | ${bytes} | ${us.toFixed(1)} | ${s} |\n`)
process.stdout.write(`| encryption's cost over plain | ${sealed.bytes - plain.bytes} | ${(sealed.us - plain.us).toFixed(1)} | ${share(Math.max(0, sealed.us - plain.us))} (goal <= 1 %) |\n`)
