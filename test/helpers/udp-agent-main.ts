// A UDP endpoint run inside a lab namespace (`ip netns exec <ns> node --import tsx udp-agent-main.ts`),
// driven over stdio as JSON lines: in, {"to":"ip:port","text":"..."} sends a datagram; out,
// {"port":N} once bound, then {"from":"ip:port","text":"..."} for every datagram received.
// `--port N` binds that local port (default any). With --reflect it also answers a datagram "probe" with "seen <ip:port it came from>", the way a
// rendezvous server tells a host behind a NAT its public mapping.
import { createSocket } from 'node:dgram'
import { createInterface } from 'node:readline'

const reflect = process.argv.includes('--reflect')
const portArg = process.argv.indexOf('--port')
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 0
const sock = createSocket('udp4')
const out = (o: object) => process.stdout.write(JSON.stringify(o) + '\n')

sock.on('message', (buf, rinfo) => {
  const from = `${rinfo.address}:${rinfo.port}`
  const text = buf.toString('utf8')
  out({ from, text })
  if (reflect && text === 'probe') sock.send(`seen ${from}`, rinfo.port, rinfo.address)
})
// A send refused by the kernel (an ICMP error queued on the socket) is a fact of the network, not a crash.
sock.on('error', (err) => out({ error: err.message }))
sock.bind(port, '0.0.0.0', () => out({ port: sock.address().port }))

createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line) as { to: string; text: string }
  const i = m.to.lastIndexOf(':')
  sock.send(m.text, Number(m.to.slice(i + 1)), m.to.slice(0, i), (err) => { if (err) out({ error: err.message }) })
}).on('close', () => { sock.close(); process.exit(0) })
