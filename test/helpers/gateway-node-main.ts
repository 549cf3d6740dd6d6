// A node process for gateway tests and the gateway benchmark: the same Runtime `cjp2p-stream node`
// runs, plus what the CLI has no flag for: a downlink of a given rate (ShapedTransport on its
// ingress), so a file arrives over seconds and serving ranges before the end can be seen.
//   node --import tsx gateway-node-main.ts '{"dir": "...", "peers": [...], "bytesPerSecond": 4e6}'
// Prints {"udp", "http"} on one line when ready; SIGTERM closes it.
import { Runtime } from '../../src/runtime.ts'
import { createLogger } from '../../src/util/logger.ts'

interface Args { dir: string; peers?: string[]; bytesPerSecond?: number; verifiedOnly?: boolean }

const args = JSON.parse(process.argv[2] ?? '{}') as Args
const rt = await Runtime.start({
  dir: args.dir, host: '127.0.0.1', port: 0, httpPort: 0, peers: args.peers ?? [],
  logger: createLogger({ level: 'info' }), verifiedOnly: args.verifiedOnly,
  link: args.bytesPerSecond ? { delayMs: 1, loss: 0, bytesPerSecond: args.bytesPerSecond } : undefined,
})
process.stdout.write(JSON.stringify({ udp: rt.udpAddress, http: rt.httpUrl }) + '\n')
const stop = () => { void rt.close().finally(() => process.exit(0)) }
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
