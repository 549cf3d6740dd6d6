// Ingest into a source StreamLog: the log hashes, signs and persists what ffmpeg wrote.
import type { StreamLog } from '../store/stream-log.ts'
import type { IngestSink } from './ingest-sink.ts'

export function streamLogSink(log: StreamLog): IngestSink {
  return {
    async setInfo(info) { if (info.init) await log.setInit(info.init) },
    async append(bytes) { await log.append(bytes) },
    async addSegment(seg) { await log.addSegment(seg) },
    async end() { await log.end() },
  }
}
