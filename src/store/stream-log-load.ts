// Opening a StreamLog's files and rebuilding its state: records from records.jsonl, verified chunks
// from the marks file, re-checked against the bytes on disk. Loading records takes two passes keep the cost bounded: the first
// only parses lines and keeps candidates inside the record window, the second verifies the
// signature of each survivor (about 9k verifies/s per core), so load time follows the window,
// not the stream's age. Anything that fails verification is dropped with a warning.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DataPieces } from './data-pieces.ts'
import { errnoCode, fsError } from './errors.ts'
import type { StoreLogger } from './logger.ts'
import { RecordsJournal } from './records-journal.ts'
import { VerifiedChunks } from './verified-chunks.ts'
import { CHUNK_SIZE } from './stream-types.ts'
import { recordWindows, type RecordWindow, type RecordWindowCaps } from './record-window.ts'
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

/** Loads what records.jsonl holds at or above the retention floor: chunk records from chunk
 * `floor` on, segment records whose bytes start there or later (the rest was deleted). */
export async function loadRecords(file: string, id: StreamId, windows: RecordWindowCaps, logger: StoreLogger, floor = 0): Promise<LoadedRecords> {
  const { chunks, segments } = recordWindows<ChunkRecord, SegmentRecord>(windows)
  const heads: StreamHead[] = []
  const infos: StreamInfo[] = []
  let junk = 0

  await readJournal(file, (line) => {
    const entry = line as { t?: unknown; r?: unknown }
    const r = typeof line === 'object' && line !== null ? entry.r : undefined
    if (entry.t === 'chunk' && isChunkRecordShape(r)) {
      if (!chunks.has(r.n) && r.n >= floor) chunks.set(r.n, pickChunkRecord(r))
    } else if (entry.t === 'segment' && isSegmentRecordShape(r)) {
      if (!segments.has(r.n) && r.offset >= floor * CHUNK_SIZE) segments.set(r.n, pickSegmentRecord(r))
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
  data: StreamData
  journal: Pick<RecordsJournal, 'append' | 'flush' | 'sync' | 'close' | 'compact' | 'size'>
  verified: VerifiedChunks
  dataSize: number
  /** First chunk not deleted by retention (chunks of the fMP4 init below it are kept too). */
  floor: number
}

const FLOOR_FILE = 'floor'

/** The retention floor written by writeFloor, 0 when none. Lost or stale, it only lets chunks
 * back that the next trim deletes again; it never lets deleted ones back (their pieces are gone). */
async function readFloor(path: string): Promise<number> {
  try {
    const n = Number((await readFile(join(path, FLOOR_FILE), 'utf8')).trim())
    return Number.isSafeInteger(n) && n >= 0 ? n : 0
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return 0
    throw fsError(err, `reading ${join(path, FLOOR_FILE)}`)
  }
}

export async function writeFloor(path: string, floor: number): Promise<void> {
  const file = join(path, FLOOR_FILE)
  try {
    await writeFile(file + '.tmp', `${floor}\n`)
    await rename(file + '.tmp', file)
  } catch (err) {
    throw fsError(err, `writing ${file}`)
  }
}

/** Pieces to keep whatever the floor: the fMP4 init's (players need it for every segment). */
export function pinnedPieces(data: Pick<StreamData, 'pieceOf'>, init: { offset: number; length: number } | null | undefined): Set<number> {
  const out = new Set<number>()
  if (!init) return out
  for (let n = Math.floor(init.offset / CHUNK_SIZE); n * CHUNK_SIZE < init.offset + init.length; n++) out.add(data.pieceOf(n))
  return out
}

export interface StreamFilesOptions {
  windows: RecordWindowCaps; markBatch: number; markIntervalMs: number; logger: StoreLogger
  /** Chunks per data piece for a log with a retention window; null keeps one data file. */
  pieceChunks: number | null
}

/** A log's bytes: pieces on disk (data-pieces.ts) or memory (the simulator's store). */
export interface StreamData {
  size: number
  /** The piece holding chunk n (dropping happens a piece at a time). */
  pieceOf(chunk: number): number
  /** False when chunk n's piece was dropped by retention. */
  holds(chunk: number): boolean
  read(length: number, position: number, what: string): Promise<Buffer>
  write(bytes: Uint8Array, position: number, what: string): Promise<void>
  datasync(): Promise<void>
  /** Drops whole pieces below chunk `below`, except `keep`; returns how many went. */
  dropBelow(below: number, keep?: ReadonlySet<number>): Promise<number>
  close(): Promise<void>
}
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
  const floor = await readFloor(path)
  const records = await loadRecords(join(path, 'records.jsonl'), id, opts.windows, opts.logger, floor)
  const opened: { close(): Promise<void> }[] = []
  try {
    const data = await DataPieces.open(path, opts.pieceChunks)
    opened.push(data)
    // A crash between writing the floor and unlinking the pieces below it leaves them: go on.
    await data.dropBelow(floor, pinnedPieces(data, records.info?.init))
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
    const size = data.size
    const fits = (n: number): boolean => {
      const rec = records.chunks.get(n)
      return rec !== undefined && data.holds(n) && n * CHUNK_SIZE + rec.length <= size
    }
    await verified.load(fits)
    // Chunks written before a crash whose marks were not yet durable: trust them only if the
    // bytes on disk still match their record.
    const unmarked = [...records.chunks.keys()].filter((n) => fits(n) && !verified.has(n)).sort((a, b) => b - a)
    for (const n of unmarked.slice(0, MAX_REHASH_ON_OPEN)) {
      const rec = records.chunks.get(n) as ChunkRecord
      const bytes = await data.read(rec.length, n * CHUNK_SIZE, `re-checking chunk ${n}`)
      if (verifyChunkBytes(rec, bytes).result === 'accept') verified.add(n)
    }
    return { path, records, data, journal, verified, dataSize: size, floor }
  } catch (err) {
    for (const f of opened.reverse()) await f.close().catch(() => {})
    throw err
  }
}
