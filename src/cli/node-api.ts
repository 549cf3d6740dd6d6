// The CLI's side of the local JSON API: find the node running on a data folder (its api.json) or
// at an HTTP port, and call it. Reads need no token; changes send the one from api.json.
import { resolve } from 'node:path'
import { ApiFile, type ApiInfo } from '../api-file.ts'
import { CodedError } from '../util/coded-error.ts'

export class NodeUnreachable extends CodedError<'ERR_NO_NODE'> {
  constructor(message: string) { super('ERR_NO_NODE', message) }
}

export class ApiRefused extends CodedError<'ERR_API'> {}

/** Calls to the node's API take at most this long (a share hashes the file first: generous). */
const API_TIMEOUT_MS = 10 * 60_000

export function httpBase(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`
}

/** The node running on `dir`, if any. */
export function runningNode(dir: string): Promise<ApiInfo | null> {
  return ApiFile.read(resolve(dir))
}

export async function callApi<T>(base: string, method: 'GET' | 'POST' | 'DELETE', path: string, opts: { token?: string; body?: unknown; timeoutMs?: number } = {}): Promise<T> {
  const url = `${base}${path}`
  let res: Response
  try {
    res = await fetch(url, {
      method,
      headers: { ...(opts.token ? { 'x-cjp2p-token': opts.token } : {}), ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
      signal: AbortSignal.timeout(opts.timeoutMs ?? API_TIMEOUT_MS),
    })
  } catch (err) {
    throw new NodeUnreachable(`no node answers at ${url} (${(err as Error).message}); start one with "cjp2p-stream node" or pass --http-port`)
  }
  const text = await res.text()
  if (!res.ok) throw new ApiRefused('ERR_API', `${method} ${path}: the node answered ${res.status}: ${text.split('\n')[0]}`)
  return (text ? JSON.parse(text) : null) as T
}
