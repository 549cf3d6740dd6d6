// The cjp2p-stream command line: flags, environment, wiring and human output.
// Usage errors exit 2, runtime errors exit 1; logs go to stderr, data to stdout. Each command's
// module is imported only when that command runs, so `--help` loads commander and little else.
import { Command, CommanderError, Option } from 'commander'
import { DEFAULT_HTTP_PORT } from './mesh/default-ports.ts'
import { UsageError, nodeOptions, parsePort, positiveNumber } from './cli/options.ts'
import { Shutdown } from './cli/shutdown.ts'
import { PortInUseError } from './port-binding.ts'
import { DEFAULT_VIEWER_KEEP, parseKeep, type KeepPolicy } from './store/retention.ts'
import { packageVersion } from './util/package-version.ts'

const version = packageVersion()

/** After the command returned, the process ends within this even if a handle was left open. */
const EXIT_GRACE_MS = 3000

function keepPolicy(v: string): KeepPolicy {
  const r = parseKeep(v)
  if ('error' in r) throw new UsageError(r.error)
  return r.policy
}

export function buildProgram(shutdown = new Shutdown()): Command {
  const program = new Command('cjp2p-stream')
    .description('Peer-to-peer live-streaming relay on the cjp2p UDP protocol')
    .version(version)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
  const json = new Option('--json', 'machine-readable output on stdout')

  nodeOptions(program.command('node').description('run a node: share ./shared, relay streams, answer peers, serve /content/<id>'))
    .option('--verified-only', 'serve /content/<id> bytes only once the whole file matched its id (sha256 ids verify nothing sooner)')
    .addOption(json)
    .action(async (o, cmd: Command) => (await import('./cli/files.ts')).runNode({ ...o, dirGiven: isExplicit(cmd, 'dir') }, shutdown))

  program.command('share').description('make a file available under its SHA-256 id and print the id')
    .argument('<path>', 'the file to share')
    .addOption(new Option('--dir <folder>', 'data folder').env('CJP2P_DIR').default(process.cwd(), 'the working directory'))
    .addOption(json)
    .action(async (path, o) => (await import('./cli/files.ts')).runShare(path, o))

  nodeOptions(program.command('get').description('download a file by id from every peer that has it').argument('<id>', 'SHA-256 id (64 hex)'), { port: 0 })
    .addOption(new Option('--timeout <seconds>', 'give up after this long without progress (default 60; sooner when no peer answers or none has the id)').argParser(positiveNumber))
    .addOption(json)
    .action(async (id, o, cmd: Command) => (await import('./cli/files.ts')).runGet(id, { ...o, dirGiven: isExplicit(cmd, 'dir') }, shutdown))

  nodeOptions(program.command('list').description('list the files a peer shares (id, size, name)'), { port: 0 })
    .addOption(json)
    .action(async (o, cmd: Command) => (await import('./cli/search.ts')).runList({ ...o, dirGiven: isExplicit(cmd, 'dir') }, shutdown))

  nodeOptions(program.command('search').description('find shared files by words of their names, across the DHT').argument('<words...>', 'words of the name'), { port: 0 })
    .addOption(json)
    .action(async (words: string[], o, cmd: Command) => (await import('./cli/search.ts')).runSearch(words, { ...o, dirGiven: isExplicit(cmd, 'dir') }, shutdown))

  nodeOptions(program.command('ingest').description('stream an input (testsrc, /dev/videoN, a file or URL) to peers')
    .argument('[input]', 'testsrc, /dev/videoN, a media file or an ffmpeg-readable URL'))
    .option('--name <name>', 'stream name (default: from the input)')
    .option('--key <file>', 'the stream signing key (default: <XDG_DATA_HOME>/cjp2p-stream/keys/<name>.key, or <dir>/keys/<name>.key when --dir is given)')
    .option('--loop', 'repeat a file input forever')
    .option('--tail <file>', 'follow a growing HLS file (and its .m3u8) another program writes; no ffmpeg')
    .addOption(new Option('--segment-seconds <s>', 'HLS segment length').argParser(positiveNumber).default(1))
    .addOption(new Option('--format <f>', 'container (default ts; fmp4 with --latency low)').choices(['ts', 'fmp4']).default('ts'))
    .addOption(new Option('--latency <mode>', 'low: LL-HLS parts of about 0.25 s (fMP4), for about a second glass to glass; normal: whole segments').choices(['low', 'normal']).default('normal'))
    .option('--bitrate <rate>', 'video bitrate for ffmpeg', '1500k')
    .addOption(new Option('--ffmpeg <path>', 'ffmpeg binary').env('FFMPEG_PATH'))
    .option('--audio <alsa device>', 'audio device for a V4L2 input')
    .addOption(new Option('--keep <window>', 'stream kept on disk: all, a duration (30m, 2h) or a size (500MB)').argParser(keepPolicy).default(keepPolicy('all'), 'all'))
    .addOption(json)
    .action(async (input, o, cmd: Command) => (await import('./cli/stream.ts')).runIngest(input, { ...o, dirGiven: isExplicit(cmd, 'dir'), formatGiven: isExplicit(cmd, 'format') }, shutdown))

  nodeOptions(program.command('watch').description('watch a live stream, relaying it to other viewers')
    .argument('<stream-id>', 'stream/<public key hex>/<name>'), { port: 0 })
    .addOption(new Option('--keep <window>', 'stream kept on disk: a duration (30m, 2h), a size (500MB) or all').argParser(keepPolicy).default(keepPolicy(DEFAULT_VIEWER_KEEP), DEFAULT_VIEWER_KEEP))
    .addOption(json)
    .action(async (id, o, cmd: Command) => (await import('./cli/stream.ts')).runWatch(id, { ...o, dirGiven: isExplicit(cmd, 'dir') }, shutdown))

  program.command('demo').description('stream a test pattern to a few local viewers relaying to each other (loopback only)')
    .addOption(new Option('--viewers <n>', 'local viewers').argParser((v) => Math.round(positiveNumber(v))).default(3))
    .addOption(new Option('--http-port <port>', `HTTP port of the last viewer (default ${DEFAULT_HTTP_PORT}, or any free port when taken)`).env('CJP2P_HTTP_PORT').argParser(parsePort))
    .option('--dir <folder>', 'keep the demo data here (default: a temp folder, removed at exit)')
    .addOption(new Option('--seconds <s>', 'stop after this long (default: until Ctrl-C)').argParser(positiveNumber))
    .addOption(new Option('--log-level <level>', 'debug, info, warn or error').env('CJP2P_LOG_LEVEL').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .addOption(json)
    .action(async (o) => (await import('./cli/demo.ts')).runDemo(o, shutdown))

  const inspectWhat = { status: 'show a running node\'s status', peers: 'list a running node\'s peers', ls: 'list a running node\'s shared and downloading files' }
  for (const name of ['status', 'peers', 'ls'] as const) {
    const cmd = program.command(name).description(inspectWhat[name])
      .addOption(new Option('--http-port <port>', 'the node\'s HTTP port').env('CJP2P_HTTP_PORT').argParser(parsePort).default(DEFAULT_HTTP_PORT))
      .addOption(new Option('--http-host <address>', 'the node\'s HTTP address').env('CJP2P_HTTP_HOST').default('127.0.0.1'))
      .addOption(json)
    if (name === 'status') cmd.option('--audience', 'the audience telemetry of each stream: the whole audience at the source, the subtree at a viewer')
    cmd.action(async (o) => {
      const inspect = await import('./cli/inspect.ts')
      await (name === 'status' ? inspect.runStatus(o) : name === 'peers' ? inspect.runPeers(o) : inspect.runLs(o))
    })
  }
  return program
}

/** Given on the command line or in the environment, not a default. */
function isExplicit(cmd: Command, option: string): boolean {
  const source = cmd.getOptionValueSource(option)
  return source === 'cli' || source === 'env'
}

/** A busy port the user named, said with the flag (or variable) that named it. */
function portMessage(err: PortInUseError, cmd: Command | undefined): string {
  const flag = err.kind === 'udp' ? '--port' : '--http-port'
  const env = err.kind === 'udp' ? 'CJP2P_PORT' : 'CJP2P_HTTP_PORT'
  const named = cmd?.getOptionValueSource(err.kind === 'udp' ? 'port' : 'httpPort') === 'env' ? `${env}=${err.port}` : `${flag} ${err.port}`
  return err.code === 'ERR_PORT_DENIED'
    ? `${named}: a port below 1024 needs privileges; pick another or 0 for any`
    : `${named} is in use; pick another or 0 for any`
}

export async function main(argv: string[]): Promise<void> {
  const shutdown = new Shutdown()
  const uninstall = shutdown.install()
  const program = buildProgram(shutdown)
  let command: Command | undefined
  program.hook('preAction', (_program, action) => { command = action })
  try {
    await program.parseAsync(argv)
  } catch (err) {
    process.exitCode = exitCodeFor(err, command)
  } finally {
    uninstall()
    // Whatever the command left open (a socket, a timer, a child) must not keep a finished process alive.
    setTimeout(() => process.exit(), EXIT_GRACE_MS).unref()
  }
}

function exitCodeFor(err: unknown, command: Command | undefined): number {
  // --help and --version exit 0; everything else commander rejects is a usage error (it said why).
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2
  const e = err as Error & { code?: string }
  if (e instanceof UsageError || e.code === 'ERR_USAGE' || e.code === 'ERR_BAD_PEER') {
    process.stderr.write(`cjp2p-stream: ${e.message}\n`)
    return 2
  }
  if (e instanceof PortInUseError) {
    process.stderr.write(`cjp2p-stream: ${portMessage(e, command)}\n`)
    return 1
  }
  // One line: the first of a message is the one a person reads; the rest (ffmpeg's stderr) with CJP2P_DEBUG.
  const [first] = String(e.message).split('\n')
  process.stderr.write(`cjp2p-stream: ${first}${e.code ? ` (${e.code})` : ''}\n`)
  if (process.env.CJP2P_DEBUG) process.stderr.write(`${e.stack}\n`)
  return 1
}
