// Flags shared by every command that runs a node, with their environment fallbacks.
import { Option } from 'commander'
import { CodedError } from '../util/coded-error.ts'
import type { Command } from 'commander'
import { DEFAULT_HTTP_PORT, DEFAULT_UDP_PORT } from '../mesh/default-ports.ts'
import { createLogger } from '../util/logger.ts'
import type { Level, Logger } from '../util/logger.ts'
import type { RuntimeOptions } from '../runtime.ts'
import { resolve } from 'node:path'
import { nodeKeyFileFor } from '../store/key-paths.ts'
import { DEFAULT_PUNCH_PROBES, SPENT_PER_MINUTE } from '../mesh/nat/punch-limits.ts'
import { DEFAULT_PROTOCOLS, type MappingProtocol } from '../mesh/nat/gateway-mapper.ts'
import { isIPv4 } from 'node:net'

export interface NodeFlags {
  /** Undefined: the default port, or any free one when another node holds it. */
  port?: number
  host: string
  /** Undefined: the default port, or any free one when another node holds it. */
  httpPort?: number
  httpHost: string
  peer: string[]
  dir: string
  logLevel: Level
  maxDatagram?: number
  httpAllowedHost?: string[]
  json?: boolean
  /** --dir (or CJP2P_DIR) was given: keys may live in it. */
  dirGiven?: boolean
  /** `node --verified-only`: /content/<id> refuses bytes not yet verified. */
  verifiedOnly?: boolean
  /** --encrypt / --no-encrypt: Noise sessions with our peers (src/mesh/secure/); undefined:
   * ENCRYPT_BY_DEFAULT. */
  encrypt?: boolean
  /** --max-upload and --max-download, bytes a second (the flags take bits). */
  maxUpload?: number
  maxDownload?: number
  /** --port-mapping: ask the home router (PCP, NAT-PMP, UPnP IGD) to forward our UDP port. */
  portMapping?: boolean
  portMappingProtocols?: MappingProtocol[]
  portMappingGateway?: string
  portMappingEpochCheckMs?: number
  punchProbes?: number
}

/** Whether a node encrypts to other cjp2p-stream nodes without --encrypt or --no-encrypt. On: the
 * extra duplicates once seen in encrypted swarms were load noise (docs/NAT-LAB.md, session 5), and
 * a source restarted on its folder reaches its viewers as soon as plain (their sessions with the old
 * process are renewed at its first answer: src/mesh/secure/secure-sessions.ts, lost()). Classic
 * peers get plain JSON either way. */
export const ENCRYPT_BY_DEFAULT = true

export class UsageError extends CodedError<'ERR_USAGE'> {
  constructor(message: string) { super('ERR_USAGE', message) }
}

export function positiveNumber(v: string): number {
  const n = Number(v)
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`not a positive number: ${JSON.stringify(v)}`)
  return n
}

/** A rate in bits a second (`2M`, `800k`, `1G`, `1500000`), returned in bytes a second. */
export function parseBitRate(v: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmMgG]?)(?:bit\/s|b\/s|bps)?$/.exec(v.trim())
  const bits = m ? Number(m[1]) * ({ k: 1e3, m: 1e6, g: 1e9 }[m[2].toLowerCase()] ?? 1) : NaN
  if (!(bits > 0)) throw new UsageError(`not a rate: ${JSON.stringify(v)} (want e.g. 1.5M or 800k bits a second)`)
  return bits / 8
}

export function parsePort(v: string): number {
  const n = Number(v)
  if (!/^\d+$/.test(v) || n > 65535) throw new UsageError(`not a port number: ${JSON.stringify(v)} (want 0..65535)`)
  return n
}

const split = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean)
const collect = (v: string, prev: string[]) => [...prev, ...split(v)]
const collectPeers = (v: string, prev: string[]) => [...prev, ...split(v).map(checkPeer)]
const envPeers = () => split(process.env.CJP2P_PEERS ?? '').map(checkPeer)

/** A peer as `host:port`, checked before anything runs (DNS names are resolved later). */
export function checkPeer(spec: string): string {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(spec) ?? /^([^:\s]+):(\d+)$/.exec(spec)
  if (!m) throw new UsageError(`bad peer address ${JSON.stringify(spec)} (want host:port)`)
  const port = Number(m[2])
  if (port < 1 || port > 65535) throw new UsageError(`peer ${spec}: port ${m[2]} is out of range (1..65535)`)
  return spec
}

const portHelp = (what: string, dflt: number) => `${what} (default ${dflt}, or any free port when another node holds it; 0 = any free port)`

export function nodeOptions(cmd: Command, defaults: { port?: number; httpPort?: number } = {}): Command {
  const udpPort = new Option('--port <udp port>', defaults.port === undefined ? portHelp('UDP port', DEFAULT_UDP_PORT) : 'UDP port (0 = any free port)')
    .env('CJP2P_PORT').argParser(parsePort)
  const httpPort = new Option('--http-port <port>', defaults.httpPort === undefined ? portHelp('local HTTP endpoint port', DEFAULT_HTTP_PORT) : 'local HTTP endpoint port (0 = any free port)')
    .env('CJP2P_HTTP_PORT').argParser(parsePort)
  return cmd
    .addOption(defaults.port === undefined ? udpPort : udpPort.default(defaults.port))
    .addOption(new Option('--host <address>', 'UDP address to bind').env('CJP2P_HOST').default('0.0.0.0'))
    .addOption(defaults.httpPort === undefined ? httpPort : httpPort.default(defaults.httpPort))
    .addOption(new Option('--http-host <address>', 'HTTP address to bind (only loopback unless you mean it)').env('CJP2P_HTTP_HOST').default('127.0.0.1'))
    .addOption(new Option('--peer <host:port>', 'a peer to contact (repeatable, or comma-separated)').env('CJP2P_PEERS').argParser(collectPeers).default(envPeers()))
    .addOption(new Option('--dir <folder>', 'data folder: files live in <dir>/shared').env('CJP2P_DIR').default(process.cwd(), 'the working directory'))
    .addOption(new Option('--log-level <level>', 'debug, info, warn or error').env('CJP2P_LOG_LEVEL').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .addOption(new Option('--http-allowed-host <name>', 'a host name the HTTP endpoint answers to besides IP literals and localhost (repeatable)').env('CJP2P_HTTP_ALLOWED_HOSTS').argParser(collect).default([]))
    .addOption(new Option('--encrypt', `encrypt everything between this node and other cjp2p-stream nodes (Noise sessions; classic peers stay plain JSON)${ENCRYPT_BY_DEFAULT ? '; the default' : ''}`).env('CJP2P_ENCRYPT'))
    .addOption(new Option('--no-encrypt', `plain JSON to other cjp2p-stream nodes too${ENCRYPT_BY_DEFAULT ? '' : ' (the default for now)'}`).env('CJP2P_NO_ENCRYPT'))
    .addOption(new Option('--max-upload <rate>', 'cap on everything this node sends, bits a second (1.5M, 800k): stream before file; a viewer also takes only the children that fit').env('CJP2P_MAX_UPLOAD').argParser(parseBitRate))
    .addOption(new Option('--max-download <rate>', 'cap on what this node asks to receive, bits a second: file requests wait while stream traffic takes the rate').env('CJP2P_MAX_DOWNLOAD').argParser(parseBitRate))
    // Not Option.env: commander turns a boolean on for any value, so CJP2P_PORT_MAPPING=0 multicast.
    .addOption(new Option('--port-mapping', 'ask the home router (PCP, then NAT-PMP, then UPnP IGD) to forward our UDP port, so peers reach us unasked; renewed while we run, removed at exit. Off by default: the port is then open to the whole Internet, and UPnP\'s search multicasts on the LAN (env CJP2P_PORT_MAPPING=1)'))
    .addOption(new Option('--port-mapping-protocols <list>', `with --port-mapping, the protocols to try, in order (comma-separated: ${DEFAULT_PROTOCOLS.join(',')}); e.g. pcp,nat-pmp never multicasts`).env('CJP2P_PORT_MAPPING_PROTOCOLS').argParser(parseMappingProtocols))
    .addOption(new Option('--port-mapping-gateway <ip>', 'with --port-mapping, the PCP / NAT-PMP server instead of the default route\'s gateway').env('CJP2P_PORT_MAPPING_GATEWAY').argParser(parseGatewayIp))
    // Hidden: for tests against a real gateway (test/e2e/port-mapping.test.ts), not for users.
    .addOption(new Option('--port-mapping-epoch-check-ms <ms>', 'with --port-mapping, how often PCP / NAT-PMP read the gateway\'s epoch between renewals').argParser(parseEpochCheckMs).hideHelp())
    .addOption(new Option('--punch-probes <n>', 'probes per birthday punch, which lets a viewer behind a cone NAT reach one behind a symmetric NAT (hundreds of small datagrams and, behind the symmetric NAT, 256 sockets for a few seconds); 0 turns it off').env('CJP2P_PUNCH_PROBES').argParser(parsePunchProbes).default(DEFAULT_PUNCH_PROBES))
    .addOption(new Option('--max-datagram <bytes>', 'largest datagram sent to our own peers that accept it (64 KiB is fine on loopback and LANs)').env('CJP2P_MAX_DATAGRAM').argParser(parseDatagram).default(5888))
}

export function parseMappingProtocols(v: string): MappingProtocol[] {
  const list = v.split(',').map((p) => p.trim()).filter((p) => p !== '')
  const known = new Set<string>(DEFAULT_PROTOCOLS)
  const bad = list.find((p) => !known.has(p))
  if (list.length === 0 || bad !== undefined || new Set(list).size !== list.length) {
    throw new UsageError(`--port-mapping-protocols wants some of ${DEFAULT_PROTOCOLS.join(',')}, each once, got ${JSON.stringify(v)}`)
  }
  return list as MappingProtocol[]
}

function parseGatewayIp(v: string): string {
  if (!isIPv4(v)) throw new UsageError(`--port-mapping-gateway wants an IPv4 address, got ${JSON.stringify(v)}`)
  return v
}

function parsePunchProbes(v: string): number {
  const n = Number(v)
  if (!/^\d+$/.test(v) || n > SPENT_PER_MINUTE) throw new UsageError(`--punch-probes must be 0..${SPENT_PER_MINUTE}, got ${JSON.stringify(v)}`)
  return n
}

/** At least 100 ms: each check is a datagram to the gateway, and a smaller figure asked it at the pace
 * of its replies. */
function parseEpochCheckMs(v: string): number {
  const n = Number(v)
  if (!/^\d+$/.test(v) || n < 100) throw new UsageError(`--port-mapping-epoch-check-ms must be a whole number of ms, at least 100; got ${JSON.stringify(v)}`)
  return n
}

function parseDatagram(v: string): number {
  const n = Number(v)
  if (!/^\d+$/.test(v) || n < 1200 || n > 65507) throw new UsageError(`--max-datagram must be 1200..65507, got ${JSON.stringify(v)}`)
  return n
}

/** An on/off environment variable: unset or 0/false/no/off is off, 1/true/yes/on is on, anything
 * else a usage error (a typo must not turn on what multicasts on the LAN, nor silently not). */
export function envSwitch(name: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env[name]?.trim().toLowerCase()
  if (v === undefined || v === '' || ['0', 'false', 'no', 'off'].includes(v)) return false
  if (['1', 'true', 'yes', 'on'].includes(v)) return true
  throw new UsageError(`${name} must be 1 or 0 (or true/false, yes/no, on/off), got ${JSON.stringify(env[name])}`)
}

/** The command's logger on stderr; with a status line, log lines are written above it. */
export function loggerFor(flags: { logLevel?: Level }, status?: { log(line: string): void }): Logger {
  return createLogger({ level: flags.logLevel ?? 'info', write: status && ((line) => status.log(line)) })
}

/** Runtime options from a command's node flags. */
export function runtimeOptions(flags: NodeFlags, logger: Logger, extra: Partial<RuntimeOptions> = {}): RuntimeOptions {
  return {
    dir: resolve(flags.dir), host: flags.host, port: flags.port ?? DEFAULT_UDP_PORT, httpPort: flags.httpPort ?? DEFAULT_HTTP_PORT,
    httpHost: flags.httpHost, peers: flags.peer, logger, maxDatagramBytes: flags.maxDatagram, httpAllowedHosts: flags.httpAllowedHost,
    anyPortIfTaken: { udp: flags.port === undefined, http: flags.httpPort === undefined },
    verifiedOnly: flags.verifiedOnly,
    encrypt: flags.encrypt ?? ENCRYPT_BY_DEFAULT,
    maxUploadBytesPerSecond: flags.maxUpload, maxDownloadBytesPerSecond: flags.maxDownload,
    portMapping: flags.portMapping === true || envSwitch('CJP2P_PORT_MAPPING'),
    portMappingProtocols: flags.portMappingProtocols, portMappingGateway: flags.portMappingGateway,
    portMappingEpochCheckMs: flags.portMappingEpochCheckMs,
    punchProbes: flags.punchProbes,
    // A folder the user named may hold keys; the working directory by default must not.
    nodeKeyFile: flags.dirGiven ? undefined : nodeKeyFileFor(flags.dir),
    ...extra,
  }
}

/** Colour only for a terminal that wants it (NO_COLOR, non-TTY respected). */
export function useColor(stream: NodeJS.WriteStream = process.stdout): boolean {
  return Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb'
}

// Shared with the dashboard, which labels nodes the way the CLI prints them.
export { reachable } from '../util/reachable-address.ts'
