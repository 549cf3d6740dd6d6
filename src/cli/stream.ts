// `ingest` and `watch`: a live stream's source and its viewers.
import { resolve, join } from 'node:path'
import { Runtime } from '../runtime.ts'
import { Ingest } from '../ingest/ingest.ts'
import { streamLogSink } from '../ingest/log-sink.ts'
import { resolvePeer } from '../mesh/node.ts'
import { parseStreamId } from '../store/stream-id.ts'
import type { MediaFormat } from '../store/stream-types.ts'
import type { KeepPolicy } from '../store/retention.ts'
import type { Logger } from '../util/logger.ts'
import type { StreamSwarm } from '../mesh/stream-swarm.ts'
import type { NodeFlags } from './options.ts'
import { UsageError, loggerFor, reachable, runtimeOptions, untilSignal } from './options.ts'
import { bitrate, bytes } from './format.ts'

export interface IngestFlags extends NodeFlags {
  name?: string
  loop?: boolean
  tail?: string
  segmentSeconds: number
  format: MediaFormat
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

export async function startIngest(input: string | undefined, flags: IngestFlags, log: Logger, rtIn?: Runtime) {
  if (!input && !flags.tail) throw new UsageError('ingest needs an input (testsrc, /dev/videoN, a file or a URL) or --tail <file>')
  const name = flags.name ?? defaultName(flags.tail ?? input ?? 'stream')
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name) || name === '.' || name === '..') throw new UsageError(`bad stream name ${JSON.stringify(name)}: use 1-64 of A-Z a-z 0-9 . _ -`)
  const rt = rtIn ?? await Runtime.start(runtimeOptions(flags, log, { role: 'source' }))
  try {
    const { log: slog, swarm } = await rt.startSource(name, { format: flags.format, targetDuration: Math.ceil(flags.segmentSeconds), keep: flags.keep })
    const ingest = new Ingest({ sink: streamLogSink(slog), logger: log.child('ingest') }, {
      input: input ?? '', name, segmentSeconds: flags.segmentSeconds, format: flags.format, bitrate: flags.bitrate, loop: flags.loop,
      ffmpegPath: flags.ffmpeg, audio: flags.audio, workDir: join(resolve(flags.dir), 'ingest', name), tail: flags.tail,
    })
    ingest.on('restart', (reason: unknown) => log.warn(`ffmpeg stopped (${String(reason)}); restarting, the stream continues`))
    await ingest.start()
    return { rt, ingest, swarm, id: slog.id }
  } catch (err) {
    if (!rtIn) await rt.close()
    throw err
  }
}

export async function runIngest(input: string | undefined, flags: IngestFlags): Promise<void> {
  const log = loggerFor(flags)
  const { rt, ingest, swarm, id } = await startIngest(input, flags, log)
  const udp = reachable(rt.udpAddress)
  if (flags.json) process.stdout.write(JSON.stringify({ id, udp: rt.udpAddress, http: rt.httpUrl, watch: `cjp2p-stream watch ${id} --peer ${udp}` }) + '\n')
  else {
    process.stdout.write(`stream id: ${id}\n`)
    process.stdout.write(`viewers run: cjp2p-stream watch ${id} --peer ${udp}\n`)
    process.stdout.write(`player: ${rt.httpUrl}/watch/${id}\n`)
    process.stdout.write(`dashboard: ${rt.httpUrl}/dashboard\n`)
  }
  const status = statusLines(swarm, rt, log, 'source')
  const sig = await untilSignal()
  log.info(`${sig}: ending the stream`)
  clearInterval(status)
  await ingest.stop()
  await rt.close()
}

export async function runWatch(id: string, flags: WatchFlags): Promise<void> {
  if (!parseStreamId(id)) throw new UsageError(`not a stream id: ${JSON.stringify(id)} (want stream/<64 hex>/<name>)`)
  const log = loggerFor(flags)
  const peers = await Promise.all(flags.peer.map(resolvePeer))
  const rt = await Runtime.start(runtimeOptions(flags, log, { peers, role: 'viewer' }))
  const { swarm } = await rt.watch(id, peers, { keep: flags.keep })
  if (flags.json) process.stdout.write(JSON.stringify({ id, udp: rt.udpAddress, http: rt.httpUrl, player: `${rt.httpUrl}/watch/${id}` }) + '\n')
  else {
    process.stdout.write(`player: ${rt.httpUrl}/watch/${id}\n`)
    process.stdout.write(`playlist (VLC, mpv, ffplay): ${rt.httpUrl}/streams/${id}/index.m3u8\n`)
    if (peers.length === 0) log.warn('no --peer given: waiting for peers that carry this stream to contact us')
  }
  swarm.once('ended', () => log.info('the source ended the stream'))
  const status = statusLines(swarm, rt, log, 'viewer')
  await untilSignal()
  clearInterval(status)
  await rt.close()
}

/** One status line a second: bitrate, peers, upload as copies of the stream. */
function statusLines(swarm: StreamSwarm, rt: Runtime, log: Logger, role: 'source' | 'viewer'): NodeJS.Timeout {
  let prev = { produced: 0, received: 0, at: Date.now() }
  return setInterval(() => {
    const s = swarm.status()
    const now = Date.now()
    const dt = Math.max(0.001, (now - prev.at) / 1000)
    const peers = rt.node.peers.active(10_000).length
    const viewers = new Set(s.children.flat()).size
    if (role === 'source') {
      log.info(`in ${bitrate((s.producedBytes - prev.produced) / dt)}  children ${viewers}  uploaded ${bytes(s.uploadedBytes)} = ${s.copiesUploaded.toFixed(2)}x the stream  peers ${peers}`)
    } else {
      const behind = s.head ? s.head.chunks - s.verifiedChunks : 0
      log.info(`recv ${bitrate((s.receivedBytes - prev.received) / dt)}  from source ${bytes(s.receivedFromSourceBytes)} of ${bytes(s.receivedBytes)}  relayed ${bytes(s.uploadedBytes)} to ${viewers}  delay p50 ${s.delayMs.p50} ms  peers ${peers}${behind > 0 ? '' : ''}`)
    }
    prev = { produced: s.producedBytes, received: s.receivedBytes, at: now }
  }, 1000).unref()
}
