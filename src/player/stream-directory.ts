// The player's view of which streams this node holds. The CLI wires it to the real stream logs;
// the player never creates or closes a log itself.
import type { StreamId, StreamLogReader } from '../store/stream-types.ts'

export interface StreamDirectory {
  list(): StreamLogReader[]
  get(id: StreamId): StreamLogReader | undefined
}

/** A directory over a fixed or caller-maintained map of logs. */
export function mapStreamDirectory(logs: ReadonlyMap<StreamId, StreamLogReader>): StreamDirectory {
  return { list: () => [...logs.values()], get: (id) => logs.get(id) }
}

const KEY = /^[0-9a-f]{64}$/
const NAME = /^[A-Za-z0-9._-]{1,64}$/

/** The stream id named by the `:key/:name` URL parts, or null when they cannot name a stream.
 * `.` and `..` are refused although the name alphabet allows them: they are path tricks in a URL. */
export function streamIdFromPath(key: unknown, name: unknown): StreamId | null {
  if (typeof key !== 'string' || typeof name !== 'string') return null
  if (!KEY.test(key) || !NAME.test(name) || name === '.' || name === '..') return null
  return `stream/${key}/${name}`
}

/** URL path of a stream id, each part escaped (ids are URL-safe by construction, but ids come from peers). */
export function streamPath(id: StreamId): string {
  return id.split('/').map(encodeURIComponent).join('/')
}
