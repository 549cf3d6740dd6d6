// Positional read/write helpers that treat a short transfer as the error it is.
import { open, rename, rm } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { StoreError, errnoCode, fsError } from './errors.ts'

/** Opens a file for reading, or null when it does not exist yet (a fresh log has no journal). */
export async function openIfExists(file: string): Promise<FileHandle | null> {
  try {
    return await open(file, 'r')
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null
    throw fsError(err, `opening ${file}`)
  }
}

/** The part of a FileHandle a stream log uses, so a log can also live in memory (memory-stream-files.ts). */
export interface PositionalFile {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>
  datasync(): Promise<void>
  stat(): Promise<{ size: number }>
  close(): Promise<void>
}

/** Writes all of `buf` at `position`. A short write means the disk filled up mid-write. */
export async function writeAll(fh: Pick<PositionalFile, 'write'>, buf: Uint8Array, position: number, what: string): Promise<void> {
  let done = 0
  try {
    while (done < buf.length) {
      const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done)
      if (bytesWritten <= 0) throw new StoreError('ERR_DISK_FULL', `disk full while ${what}`)
      done += bytesWritten
    }
  } catch (err) {
    throw fsError(err, what)
  }
}

/** Writes `bufs` back to back from `position` in one writev (finishing a short one with writeAll). */
export async function writevAll(fh: FileHandle, bufs: Uint8Array[], position: number, what: string): Promise<void> {
  let written: number
  try {
    written = (await fh.writev(bufs, position)).bytesWritten
  } catch (err) {
    throw fsError(err, what)
  }
  for (const b of bufs) {
    if (written >= b.length) { written -= b.length; position += b.length; continue }
    await writeAll(fh, b.subarray(written), position + written, what)
    position += b.length
    written = 0
  }
}

/** Reads exactly `length` bytes at `position`, or throws ERR_CORRUPT if the file is shorter. */
export async function readExactly(fh: Pick<PositionalFile, 'read'>, length: number, position: number, what: string): Promise<Buffer> {
  const buf = Buffer.alloc(length)
  let done = 0
  try {
    while (done < length) {
      const { bytesRead } = await fh.read(buf, done, length - done, position + done)
      if (bytesRead === 0) throw new StoreError('ERR_CORRUPT', `file ends early while ${what}`)
      done += bytesRead
    }
  } catch (err) {
    throw fsError(err, what)
  }
  return buf
}

/** Replaces `file` with `contents` (a temporary file, fdatasync'ed, renamed over it: a crash leaves
 * one whole version or the other) and returns it opened with `flags`. On failure `file` is as it was. */
export async function replaceFile(file: string, contents: Uint8Array | string, flags: 'a+' | 'r+', what: string): Promise<FileHandle> {
  const tmp = file + '.tmp'
  try {
    const w = await open(tmp, 'w')
    try {
      await w.writeFile(contents)
      await w.datasync()
    } finally {
      await w.close()
    }
    await rename(tmp, file)
    return await open(file, flags)
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {})
    throw fsError(err, what)
  }
}
