// Opening a StreamLog's files and rebuilding its state: records from records.jsonl, verified chunks
// from the marks file, re-checked against the bytes on disk. Loading records takes two passes keep the cost bounded: the first
// only parses lines and keeps candidates inside the record window, the second verifies the
// signature of each survivor (about 9k verifies/s per core), so load time follows the window,
// not the stream's age. Anything that fails verification is dropped with a warning.
import { mkdir, open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { errnoCode, fsError } from './errors.ts'
import { readExactly, type PositionalFile } from './file-io.ts'
import type { StoreLogger } from './logger.ts'
import { RecordsJournal } from './records-journal.ts'
import { VerifiedChunks } from './verified-chunks.ts'
import { CHUNK_SIZE } from './stream-types.ts'
import { RecordWindow } from './record-window.ts'
import { readJournal } from './records-journal.ts'
import type { ChunkRecord, SegmentRecord, StreamHead, StreamId, StreamInfo } from './stream-types.ts'
import { isChunkRecordShape, isSegmentRecordShape, isStreamHeadShape, isStreamInfoShape, pickChunkRecord, pickSegmentRecord, pickStreamHead, pickStreamInfo } from './record-shape.ts'
import { verifyChunkBytes, verifyChunkRecord, verifyHead, verifyInfo, verifySegment } from './verify.ts'

export interface LoadedRecords {
  info: StreamInfo | null
  head: StreamHead | null
  chunks: RecordWindow<ChunkRecord>
  segments: RecordWindow<SegmentRecord>
  /** Time of the newest head found in the journal (heads are journaled at most once a second). */
  journaledHeadTime: number
}

/** Heads are journaled in order, so the newest valid one is among the last few. */
const HEAD_CANDIDATES = 16
const INFO_CANDIDATES = 4

export async function loadRecords(file: string, id: StreamId, window: number, logger: StoreLogger): Promise<LoadedRecords> {
  const chunks = new RecordWindow<ChunkRecord>(window)
  const segments = new RecordWindow<SegmentRecord>(window)
  const heads: StreamHead[] = []
  const infos: StreamInfo[] = []
  let junk = 0

  await readJournal(file, (line) => {
    const entry = line as { t?: unknown; r?: unknown }
    const r = typeof line === 'object' && line !== null ? entry.r : undefined
    if (entry.t === 'chunk' && isChunkRecordShape(r)) {
      if (!chunks.has(r.n)) chunks.set(r.n, pickChunkRecord(r))
    } else if (entry.t === 'segment' && isSegmentRecordShape(r)) {
      if (!segments.has(r.n)) segments.set(r.n, pickSegmentRecord(r))
    } else if (entry.t === 'head' && isStreamHeadShape(r)) {
      heads.push(pickStreamHead(r))
      if (heads.length > HEAD_CANDIDATES) heads.shift()
    } else if (entry.t === 'info' && isStreamInfoShape(r)) {
      infos.push(pickStreamInfo(r))
      if (infos.length > INFO_CANDIDATES) infos.shift()
    } else {
      junk++
    }
  }, logger)

  let bad = 0
  for (const n of [...chunks.keys()]) {
    if (verifyChunkRecord(id, chunks.get(n)).result !== 'accept') {
      chunks.delete(n)
      bad++
    }
  }
  for (const n of [...segments.keys()]) {
    if (verifySegment(id, segments.get(n)).result !== 'accept') {
      segments.delete(n)
      bad++
    }
  }
  let head: StreamHead | null = null
  for (const h of heads) if (verifyHead(id, h, head).result === 'accept') head = h
  let info: StreamInfo | null = null
  for (const i of infos) if (verifyInfo(id, i).result === 'accept') info = i
  if (junk + bad > 0) logger.warn('records.jsonl: dropped records that failed checks', { file, unreadable: junk, unverified: bad })
  return { info, head, chunks, segments, journaledHeadTime: head?.time ?? -Infinity }
}

export interface StreamFiles {
  path: string
  records: LoadedRecords
  data: PositionalFile
  journal: Pick<RecordsJournal, 'append' | 'flush' | 'sync' | 'close'>
  verified: VerifiedChunks
  dataSize: number
}

export interface StreamFilesOptions { recordWindow: number; markBatch: number; markIntervalMs: number; logger: StoreLogger }
/** Where a log keeps its bytes, records and marks: files (openStreamFiles) or memory (the simulator). */
export type StreamStorage = (path: string, id: StreamId, opts: StreamFilesOptions) => Promise<StreamFiles>

/** After a crash at most about one batch is unmarked; re-hash at most this many on open. */
const MAX_REHASH_ON_OPEN = 256

export async function openStreamFiles(
  path: string, id: StreamId, opts: StreamFilesOptions,
): Promise<StreamFiles> {
  try {
    await mkdir(path, { recursive: true })
  } catch (err) {
    throw fsError(err, `creating ${path}`)
  }
  const records = await loadRecords(join(path, 'records.jsonl'), id, opts.recordWindow, opts.logger)
  const opened: { close(): Promise<void> }[] = []
  try {
    const data = await openData(join(path, 'data'))
    opened.push(data)
    const journal = await RecordsJournal.open(join(path, 'records.jsonl'))
    opened.push(journal)
    const verified = await VerifiedChunks.open(join(path, 'verified'), {
      batch: opts.markBatch,
      intervalMs: opts.markIntervalMs,
      logger: opts.logger,
      beforeCommit: async () => {
        await journal.flush()
        await data.datasync()
      },
    })
    opened.push(verified)
    const { size } = await data.stat()
    const fits = (n: number): boolean => {
      const rec = records.chunks.get(n)
      return rec !== undefined && n * CHUNK_SIZE + rec.length <= size
    }
    await verified.load(fits)
    // Chunks written before a crash whose marks were not yet durable: trust them only if the
    // bytes on disk still match their record.
    const unmarked = [...records.chunks.keys()].filter((n) => fits(n) && !verified.has(n)).sort((a, b) => b - a)
    for (const n of unmarked.slice(0, MAX_REHASH_ON_OPEN)) {
      const rec = records.chunks.get(n) as ChunkRecord
      const bytes = await readExactly(data, rec.length, n * CHUNK_SIZE, `re-checking chunk ${n}`)
      if (verifyChunkBytes(rec, bytes).result === 'accept') verified.add(n)
    }
    return { path, records, data, journal, verified, dataSize: size }
  } catch (err) {
    for (const f of opened.reverse()) await f.close().catch(() => {})
    throw err
  }
}

async function openData(file: string): Promise<FileHandle> {
  try {
    return await open(file, 'r+').catch((err: unknown) => {
      if (errnoCode(err) === 'ENOENT') return open(file, 'w+')
      throw err
    })
  } catch (err) {
    throw fsError(err, `opening ${file}`)
  }
}
