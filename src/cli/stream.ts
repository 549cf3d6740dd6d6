// `ingest` and `watch`: a live stream's source and its viewers.
import { resolve, join } from 'node:path'
import { Runtime } from '../runtime.ts'
import { Ingest } from '../ingest/ingest.ts'
import { IngestError } from '../ingest/ingest-error.ts'
import { DEFAULT_ENCODE, parseInput, validateEncodeOptions, type LatencyMode } from '../ingest/ffmpeg-args.ts'
import { streamLogSink } from '../ingest/log-sink.ts'
import { resolvePeer } from '../mesh/node.ts'
import { defaultKeyDir } from '../store/keys.ts'
import { parseStreamId } from '../store/stream-id.ts'
import type { MediaFormat } from '../store/stream-types.ts'
import type { KeepPolicy } from '../store/retention.ts'
import type { Logger } from '../util/logger.ts'
import type { StreamSwarm } from '../mesh/stream/stream-swarm.ts'
import type { NodeFlags } from './options.ts'
import { UsageError, loggerFor, reachable, runtimeOptions } from './options.ts'
import type { Shutdown } from './shutdown.ts'
import { ProgressLine, bitrate, bytes } from './format.ts'
import { mustExist } from './input-missing.ts'
import { lockKey } from './key-lock.ts'

/** After the end is signed, the source waits for viewers to stop asking for this long, at most
 * END_DRAIN_MAX_MS (well inside the 10 s a stop may take after Ctrl-C). */
const END_DRAIN_QUIET_MS = 2500
const END_DRAIN_MAX_MS = 5000

export interface IngestFlags extends NodeFlags {
  name?: string
  key?: string
  /** --dir (or CJP2P_DIR) was given: keys live under it unless --key says otherwise. */
  dirGiven?: boolean
  loop?: boolean
  tail?: string
  segmentSeconds: number
  format: MediaFormat
  /** --format was given (else --latency low picks fmp4). */
  formatGiven?: boolean
  latency?: LatencyMode
  bitrate: string
  ffmpeg?: string
  audio?: string
  keep?: KeepPolicy
}

export interface WatchFlags extends NodeFlags {
  keep?: KeepPolicy
}

/** A stream name from an input: `testsrc`, `video2` for /dev/video2, a file's base name. */
export function defaultName(input: string): string {
  const base = input.replace(/[?#].*$/, '').split(/[\\/]/).filter(Boolean).pop() ?? 'stream'
  const name = base.replace(/\.[^.]+$/, '').replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[.-]+/, '').slice(0, 64)
  return name || 'stream'
}

/** Everything about an ingest that can be wrong before anything is created on disk or bound. */
async function checkIngest(input: string | undefined, flags: IngestFlags): Promise<string> {
  if (!input && !flags.tail) throw new UsageError('ingest needs an input (testsrc, /dev/videoN, a file or a URL) or --tail <file>')
  const name = flags.name ?? defaultName(flags.tail ?? input ?? 'stream')
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name) || name === '.' || name === '..') throw new UsageError(`bad stream name ${JSON.stringify(name)}: use 1-64 of A-Z a-z 0-9 . _ -`)
  if (flags.latency === 'low' && !flags.tail && ingestFormat(flags) !== 'fmp4') throw new UsageError('--latency low needs --format fmp4 (LL-HLS parts are fMP4 fragments)')
  try {
    validateEncodeOptions({ segmentSeconds: flags.segmentSeconds, bitrate: flags.bitrate, fps: DEFAULT_ENCODE.fps })
    const spec = flags.tail ? null : parseInput(input ?? '', flags.audio)
    const path = flags.tail ?? (spec?.kind === 'file' ? spec.path : spec?.kind === 'v4l2' ? spec.device : null)
    if (path) await mustExist(path)
  } catch (err) {
    if (err instanceof IngestError && err.code === 'ERR_BAD_INPUT') throw new UsageError(err.message)
    throw err
  }
  return name
}

/** The container: --format, else fmp4 for --latency low (parts need it), else ts. */
export function ingestFormat(flags: Pick<IngestFlags, 'format' | 'formatGiven' | 'latency'>): MediaFormat {
  return flags.latency === 'low' && !flags.formatGiven ? 'fmp4' : flags.format
}

/** Where the stream's signing key lives: --key, else under an explicit --dir, else the user's data folder. */
export function keyFileFor(name: string, flags: Pick<IngestFlags, 'key' | 'dir' | 'dirGiven'>): string {
  if (flags.key) return resolve(flags.key)
  return flags.dirGiven ? join(resolve(flags.dir), 'keys', `${name}.key`) : join(defaultKeyDir(), `${name}.key`)
}

export async function startIngest(input: string | undefined, flags: IngestFlags, log: Logger, rtIn?: Runtime) {
  const name = await checkIngest(input, flags)
  const keyFile = rtIn ? undefined : keyFileFor(name, flags)
  const unlock = keyFile ? await lockKey(keyFile, name) : async () => {}
  let rt: Runtime
  try {
    rt = rtIn ?? await Runtime.start(runtimeOptions(flags, log, { role: 'source' }))
  } catch (err) {
    await unlock()
    throw err
  }
  try {
    const { log: slog, swarm } = await rt.startSource(name, {
      format: ingestFormat(flags), targetDuration: Math.ceil(flags.segmentSeconds), keyFile, keep: flags.keep,
      // A runtime handed in (the demo) keeps a throwaway key in its own folder: nothing to announce.
      onKeyCreated: rtIn ? undefined : (file) => log.info(`created the stream key ${file} (mode 0600): keep it, it is this stream's identity`),
      onEnded: (ended, next) => log.info(`${ended} has ended (an ended stream stays ended); starting a new stream, ${next}`),
    })
    const ingest = new Ingest({ sink: streamLogSink(slog), logger: log.child('ingest') }, {
      input: input ?? '', name, segmentSeconds: flags.segmentSeconds, format: ingestFormat(flags), latency: flags.latency, bitrate: flags.bitrate, loop: flags.loop,
      ffmpegPath: flags.ffmpeg, audio: flags.audio, workDir: join(resolve(flags.dir), 'ingest', name), tail: flags.tail,
    })
    ingest.on('restart', (reason: unknown) => log.warn(`ffmpeg stopped (${String(reason)}); restarting, the stream continues`))
    await ingest.start()
    return { rt, ingest, swarm, id: slog.id, unlock }
  } catch (err) {
    if (!rtIn) await rt.close()
    await unlock()
    throw err
  }
}

export async function runIngest(input: string | undefined, flags: IngestFlags, shutdown: Shutdown): Promise<void> {
  const line = new ProgressLine(process.stderr, 1000)
  const log = loggerFor(flags, line)
  const { rt, ingest, swarm, id, unlock } = await startIngest(input, flags, log)
  // The id and URLs only once the stream exists: an input ffmpeg cannot read fails here, in one line.
  const first = await shutdown.until(ingest.firstSegment().then(() => null, (err: Error) => err))
  if (first.kind !== 'ended') {
    await ingest.stop().catch(() => {})
    await rt.close()
    await unlock()
    if (first.kind === 'fatal') throw first.error
    return
  }
  const udp = reachable(rt.udpAddress)
  if (flags.json) process.stdout.write(JSON.stringify({ id, udp: rt.udpAddress, http: rt.httpUrl, watch: `cjp2p-stream watch ${id} --peer ${udp}` }) + '\n')
  else {
    process.stdout.write(`stream id: ${id}\n`)
    process.stdout.write(`viewers run: cjp2p-stream watch ${id} --peer ${udp}\n`)
    process.stdout.write(`player: ${rt.httpUrl}/watch/${id}\n`)
    process.stdout.write(`playlist: ${rt.httpUrl}/streams/${id}/index.m3u8\n`)
    process.stdout.write(`dashboard: ${rt.httpUrl}/dashboard\n`)
  }
  const status = statusLines(swarm, rt, line, 'source')
  const why = await shutdown.until(ingest.whenDone())
  clearInterval(status)
  line.done()
  try {
    if (why.kind === 'signal') log.info(`${why.signal}: ending the stream`)
    await ingest.stop()
    if (why.kind !== 'fatal') {
      log.info(`letting viewers fetch the end of the stream (up to ${END_DRAIN_MAX_MS / 1000} s; Ctrl-C again quits now)`)
      await swarm.drain(END_DRAIN_QUIET_MS, END_DRAIN_MAX_MS)
    }
  } finally {
    await rt.close()
    await unlock()
  }
  if (why.kind === 'fatal') throw why.error
  if (why.kind === 'ended') log.info('the input ended: the stream is over')
}

export async function runWatch(idIn: string, flags: WatchFlags, shutdown: Shutdown): Promise<void> {
  // The key's hex in any case names the same stream.
  const id = idIn.replace(/^(stream\/)([0-9a-fA-F]{64})(\/)/, (_m, a: string, hex: string, b: string) => a + hex.toLowerCase() + b)
  if (!parseStreamId(id)) throw new UsageError(`not a stream id: ${JSON.stringify(idIn)} (want stream/<64 hex>/<name>)`)
  const line = new ProgressLine(process.stderr, 1000)
  const log = loggerFor(flags, line)
  const peers = await Promise.all(flags.peer.map(resolvePeer))
  const rt = await Runtime.start(runtimeOptions(flags, log, { peers, role: 'viewer' }))
  try {
    const { swarm } = await rt.watch(id, peers, { keep: flags.keep, maxUploadBps: flags.maxUpload })
    if (flags.json) process.stdout.write(JSON.stringify({ id, udp: rt.udpAddress, http: rt.httpUrl, player: `${rt.httpUrl}/watch/${id}` }) + '\n')
    else {
      process.stdout.write(`player: ${rt.httpUrl}/watch/${id}\n`)
      process.stdout.write(`playlist (VLC, mpv, ffplay): ${rt.httpUrl}/streams/${id}/index.m3u8\n`)
      process.stdout.write(`dashboard: ${rt.httpUrl}/dashboard\n`)
      if (peers.length === 0) log.warn('no --peer given: waiting for peers that carry this stream to contact us')
    }
    swarm.once('ended', () => log.info('the source ended the stream'))
    const status = statusLines(swarm, rt, line, 'viewer')
    const why = await shutdown.until()
    clearInterval(status)
    line.done()
    if (why.kind === 'signal') log.info(`${why.signal}: leaving the stream`)
  } finally {
    await rt.close()
  }
}

/** One status line a second: bitrate, peers, upload as copies of the stream. */
function statusLines(swarm: StreamSwarm, rt: Runtime, line: ProgressLine, role: 'source' | 'viewer'): NodeJS.Timeout {
  let prev = { produced: 0, received: 0, at: Date.now() }
  return setInterval(() => {
    const s = swarm.status()
    const now = Date.now()
    const dt = Math.max(0.001, (now - prev.at) / 1000)
    const peers = rt.node.peers.active(10_000).length
    const viewers = new Set(s.children.flat()).size
    if (role === 'source') {
      line.update(`in ${bitrate((s.producedBytes - prev.produced) / dt)}  children ${viewers}  uploaded ${bytes(s.uploadedBytes)} = ${s.copiesUploaded.toFixed(2)}x the stream  peers ${peers}`)
    } else {
      line.update(`recv ${bitrate((s.receivedBytes - prev.received) / dt)}  from source ${bytes(s.receivedFromSourceBytes)} of ${bytes(s.receivedBytes)}  relayed ${bytes(s.uploadedBytes)} to ${viewers}  delay p50 ${s.delayMs.p50} ms  peers ${peers}`)
    }
    prev = { produced: s.producedBytes, received: s.receivedBytes, at: now }
  }, 1000).unref()
}
