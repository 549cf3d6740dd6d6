// The cjp2p-stream command line: flags, environment, wiring and human output.
// Usage errors exit 2, runtime errors exit 1; logs go to stderr, data to stdout.
import { Command, CommanderError, Option } from 'commander'
import { readFileSync } from 'node:fs'
import { DEFAULT_HTTP_PORT } from './mesh/messages.ts'
import { UsageError, nodeOptions, parsePort } from './cli/options.ts'
import { runGet, runNode, runShare } from './cli/files.ts'
import { runIngest, runWatch } from './cli/stream.ts'
import { runDemo } from './cli/demo.ts'
import { DEFAULT_VIEWER_KEEP, parseKeep, type KeepPolicy } from './store/retention.ts'
import { runPeers, runStatus } from './cli/inspect.ts'

const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version

function positiveNumber(v: string): number {
  const n = Number(v)
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`not a positive number: ${JSON.stringify(v)}`)
  return n
}

function keepPolicy(v: string): KeepPolicy {
  const r = parseKeep(v)
  if ('error' in r) throw new UsageError(r.error)
  return r.policy
}

export function buildProgram(): Command {
  const program = new Command('cjp2p-stream')
    .description('Peer-to-peer live-streaming relay on the cjp2p UDP protocol')
    .version(version)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
  const json = new Option('--json', 'machine-readable output on stdout')

  nodeOptions(program.command('node').description('run a node: share ./shared, relay streams, answer peers'))
    .addOption(json)
    .action((o) => runNode(o))

  program.command('share').description('make a file available under its SHA-256 id and print the id')
    .argument('<path>', 'the file to share')
    .addOption(new Option('--dir <folder>', 'data folder').env('CJP2P_DIR').default(process.cwd(), 'the working directory'))
    .addOption(json)
    .action((path, o) => runShare(path, o))

  nodeOptions(program.command('get').description('download a file by id from every peer that has it').argument('<id>', 'SHA-256 id (64 hex)'), { port: 0 })
    .addOption(new Option('--timeout <seconds>', 'give up after this long without progress').argParser(positiveNumber))
    .addOption(json)
    .action((id, o) => runGet(id, o))

  nodeOptions(program.command('ingest').description('stream an input (testsrc, /dev/videoN, a file or URL) to peers')
    .argument('[input]', 'testsrc, /dev/videoN, a media file or an ffmpeg-readable URL'))
    .option('--name <name>', 'stream name (default: from the input)')
    .option('--loop', 'repeat a file input forever')
    .option('--tail <file>', 'follow a growing HLS file (and its .m3u8) another program writes; no ffmpeg')
    .addOption(new Option('--segment-seconds <s>', 'HLS segment length').argParser(positiveNumber).default(1))
    .addOption(new Option('--format <f>', 'container').choices(['ts', 'fmp4']).default('ts'))
    .option('--bitrate <rate>', 'video bitrate for ffmpeg', '1500k')
    .addOption(new Option('--ffmpeg <path>', 'ffmpeg binary').env('FFMPEG_PATH'))
    .option('--audio <alsa device>', 'audio device for a V4L2 input')
    .addOption(new Option('--keep <window>', 'stream kept on disk: all, a duration (30m, 2h) or a size (500MB)').argParser(keepPolicy).default(keepPolicy('all'), 'all'))
    .addOption(json)
    .action((input, o) => runIngest(input, o))

  nodeOptions(program.command('watch').description('watch a live stream, relaying it to other viewers')
    .argument('<stream-id>', 'stream/<public key hex>/<name>'), { port: 0 })
    .addOption(new Option('--keep <window>', 'stream kept on disk: a duration (30m, 2h), a size (500MB) or all').argParser(keepPolicy).default(keepPolicy(DEFAULT_VIEWER_KEEP), DEFAULT_VIEWER_KEEP))
    .addOption(json)
    .action((id, o) => runWatch(id, o))

  program.command('demo').description('stream a test pattern to a few local viewers relaying to each other (loopback only)')
    .addOption(new Option('--viewers <n>', 'local viewers').argParser((v) => Math.round(positiveNumber(v))).default(3))
    .addOption(new Option('--http-port <port>', 'HTTP port of the last viewer').env('CJP2P_HTTP_PORT').argParser(parsePort).default(DEFAULT_HTTP_PORT))
    .option('--dir <folder>', 'keep the demo data here (default: a temp folder, removed at exit)')
    .addOption(new Option('--seconds <s>', 'stop after this long (default: until Ctrl-C)').argParser(positiveNumber))
    .addOption(new Option('--log-level <level>', 'debug, info, warn or error').env('CJP2P_LOG_LEVEL').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .addOption(json)
    .action((o) => runDemo(o))

  for (const [name, desc, run] of [['status', 'show a running node\'s status', runStatus], ['peers', 'list a running node\'s peers', runPeers]] as const) {
    program.command(name).description(desc)
      .addOption(new Option('--http-port <port>', 'the node\'s HTTP port').env('CJP2P_HTTP_PORT').argParser(parsePort).default(DEFAULT_HTTP_PORT))
      .addOption(new Option('--http-host <address>', 'the node\'s HTTP address').env('CJP2P_HTTP_HOST').default('127.0.0.1'))
      .addOption(json)
      .action((o) => run(o))
  }
  return program
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; everything else commander rejects is a usage error.
      process.exitCode = err.exitCode === 0 ? 0 : 2
      return
    }
    const e = err as Error & { code?: string }
    if (e instanceof UsageError || e.code === 'ERR_USAGE' || e.code === 'ERR_BAD_PEER') {
      process.stderr.write(`cjp2p-stream: ${e.message}\n`)
      process.exitCode = 2
      return
    }
    process.stderr.write(`cjp2p-stream: ${e.message}${e.code ? ` (${e.code})` : ''}\n`)
    if (process.env.CJP2P_DEBUG) process.stderr.write(`${e.stack}\n`)
    process.exitCode = 1
  }
}
