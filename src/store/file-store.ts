// The classic cjp2p file store: complete files under <dir>/shared/<id>, downloads in progress under
// <dir>/shared/incoming/. A shared file is also named by its BLAKE3 id, shared/blake3/<root> (a
// hard link), with its tree in shared/blake3_tree_v2/<root>. Complete files are served; a download
// enters shared/ only after its SHA-256 matched its id, or, for a `blake3/` id, after every block
// matched the verified tree (see file-download.ts); verified blocks of a `blake3/` download are
// served while it runs.
import { createHash, randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { copyFile, link, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { StoreError, errnoCode, fsError, isStoreError } from './errors.ts'
import { Download, type DownloadOptions } from './file-download.ts'
import { isBlake3ContentId, isContentId, isFetchableId, isServableId, isValidFileId } from './file-id.ts'
import { BLAKE3_ID_PREFIX, BLAKE3_TREE_ID_PREFIX, blake3TreeId, parseBlake3Id, parseBlake3TreeId } from './blake3/ids.ts'
import { buildTreeOfFile } from './blake3/tree-builder.ts'
import { loadTree, saveTree } from './blake3/tree-file.ts'
import type { Blake3Tree } from './blake3/tree.ts'
import { FileNames } from './file-names.ts'
import { silentLogger, type StoreLogger } from './logger.ts'

export { isBlake3ContentId, isContentId, isFetchableId, isServableId, isValidFileId } from './file-id.ts'
export { Download, MAX_FILE_BYTES, type FinishResult } from './file-download.ts'

/** Reference servers clamp a request's length to 0xa000; so do we. */
export const MAX_BLOCK_READ = 0xa000

export interface FileStoreOptions extends DownloadOptions {
  logger?: StoreLogger
}

export class FileStore {
  readonly sharedDir: string
  readonly incomingDir: string
  private readonly downloads = new Map<string, Download>()
  private closed = false
  /** Names files were shared or fetched under (hints for Content-Type and listings). */
  names!: FileNames

  private constructor(dir: string, private readonly opts: FileStoreOptions) {
    this.sharedDir = join(dir, 'shared')
    this.incomingDir = join(this.sharedDir, 'incoming')
  }

  static async open(dir: string, opts: FileStoreOptions = {}): Promise<FileStore> {
    const store = new FileStore(dir, { ...opts, logger: opts.logger ?? silentLogger })
    try {
      await mkdir(store.incomingDir, { recursive: true })
    } catch (err) {
      throw fsError(err, `creating ${store.incomingDir}`)
    }
    store.names = await FileNames.load(store.sharedDir)
    return store
  }

  /** Copies a local file into shared/<sha256>, keeping the original, and returns its id. The copy
   * is hashed rather than the original so a file edited meanwhile cannot be shared under a wrong
   * id (a hard link would also let later edits of the original corrupt the shared copy). */
  async share(path: string): Promise<string> {
    return (await this.shareFile(path)).id
  }

  /** share() that also gives the file its BLAKE3 id (`blake3/<root>`, a hard link to the same
   * file) and tree (`blake3_tree_v2/<root>`), built in the same pass as the SHA-256, as the
   * reference node does, so peers can fetch it block-verified. */
  async shareFile(path: string): Promise<{ id: string; blake3: string; size: number }> {
    this.assertOpen()
    let info
    try {
      info = await stat(path)
    } catch (err) {
      throw fsError(err, `reading ${path}`)
    }
    if (!info.isFile()) throw new StoreError('ERR_NOT_FOUND', `${path} is not a regular file`)
    const tmp = join(this.incomingDir, `.share-${randomBytes(6).toString('hex')}`)
    try {
      await copyFile(path, tmp, constants.COPYFILE_FICLONE)
      const sha = createHash('sha256')
      const tree = await buildTreeOfFile(tmp, { tap: (b) => sha.update(b) })
      const id = sha.digest('hex')
      this.names.set(id, basename(path))
      const target = join(this.sharedDir, id)
      if (!(await exists(target))) await rename(tmp, target)
      const size = (await stat(target)).size
      await this.addBlake3(target, tree)
      return { id, blake3: tree.id, size }
    } catch (err) {
      throw fsError(err, `sharing ${path}`)
    } finally {
      await unlink(tmp).catch(() => {})
    }
  }

  /** Names a shared file by its BLAKE3 id too, with its tree beside it (tree first: a node that
   * serves `blake3/<root>` must be able to serve the tree that checks it). */
  private async addBlake3(file: string, tree: Blake3Tree): Promise<void> {
    // The blake3 folders are made when first needed, so a store that never saw such an id has none.
    for (const sub of [BLAKE3_ID_PREFIX, BLAKE3_TREE_ID_PREFIX]) await mkdir(join(this.sharedDir, sub), { recursive: true })
    const treePath = join(this.sharedDir, tree.treeId)
    if (!(await exists(treePath))) await saveTree(treePath, tree)
    const alias = join(this.sharedDir, tree.id)
    if (!(await exists(alias))) await link(file, alias).catch(async (err: unknown) => {
      if (errnoCode(err) !== 'EEXIST') throw err
    })
  }

  /** The checked tree of `blake3/<root>` stored here, or null. A stored tree that fails its check
   * is deleted (null: fetch it again). */
  async tree(id: string): Promise<Blake3Tree | null> {
    const root = parseBlake3Id(id)
    if (!root) return null
    const path = join(this.sharedDir, blake3TreeId(root))
    try {
      return await loadTree(path, root)
    } catch (err) {
      if (!isStoreError(err, 'ERR_CORRUPT')) throw err
      this.opts.logger?.warn('stored BLAKE3 tree is corrupt; fetching it again', { id })
      await unlink(path).catch(() => {})
      return null
    }
  }

  /** Size of a complete shared file, or null (bad id, missing, or only in incoming/). */
  async stat(id: string): Promise<{ size: number } | null> {
    if (!isServableId(id)) return null
    try {
      const s = await stat(join(this.sharedDir, id))
      return s.isFile() ? { size: s.size } : null
    } catch {
      return null
    }
  }

  /** Up to `length` bytes (clamped to MAX_BLOCK_READ and the file's end) from `offset`. An offset
   * at or past the end gives an empty buffer. */
  async readBlock(id: string, offset: number, length: number): Promise<Buffer> {
    if (!isServableId(id)) throw new StoreError('ERR_BAD_ID', `bad file id ${JSON.stringify(id)}`)
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new StoreError('ERR_BAD_RECORD', `bad range ${offset}+${length}`)
    }
    let fh
    try {
      fh = await open(join(this.sharedDir, id), 'r')
    } catch (err) {
      throw fsError(err, `opening ${id}`)
    }
    try {
      const st = await fh.stat()
      const size = st.size
      if (!st.isFile()) throw new StoreError('ERR_NOT_FOUND', `${id} is not a file`)
      const n = Math.max(0, Math.min(length, MAX_BLOCK_READ, size - offset))
      const buf = Buffer.alloc(n)
      let done = 0
      while (done < n) {
        const { bytesRead } = await fh.read(buf, done, n - done, offset + done)
        if (bytesRead === 0) break // the file shrank under us: serve what exists
        done += bytesRead
      }
      return done === n ? buf : buf.subarray(0, done)
    } catch (err) {
      throw fsError(err, `reading ${id}`)
    } finally {
      await fh.close()
    }
  }

  /** Ids of every complete file in shared/. */
  async list(): Promise<string[]> {
    try {
      const entries = await readdir(this.sharedDir, { withFileTypes: true })
      return entries.filter((e) => (e.isFile() || e.isSymbolicLink()) && isValidFileId(e.name)).map((e) => e.name).sort()
    } catch (err) {
      throw fsError(err, `listing ${this.sharedDir}`)
    }
  }

  /** `blake3/<root>` ids of every complete file in shared/blake3/. */
  async blake3Ids(): Promise<string[]> {
    try {
      const entries = await readdir(join(this.sharedDir, BLAKE3_ID_PREFIX), { withFileTypes: true })
      return entries.map((e) => BLAKE3_ID_PREFIX + e.name).filter((id) => isBlake3ContentId(id)).sort()
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return []
      throw fsError(err, `listing ${this.sharedDir}/${BLAKE3_ID_PREFIX}`)
    }
  }

  /** Starts or resumes downloading content id into incoming/. `size` may come later via setSize.
   * One Download per id: a second call returns the same open object. */
  async beginDownload(id: string, size?: number): Promise<Download> {
    this.assertOpen()
    if (!isFetchableId(id) && parseBlake3TreeId(id) === null) throw new StoreError('ERR_BAD_ID', `only sha256 and blake3/ content ids (and their trees) can be downloaded, not ${JSON.stringify(id)}`)
    const active = this.downloads.get(id)
    if (active && !active.closed) {
      if (size !== undefined) await active.setSize(size)
      return active
    }
    if (await this.stat(id)) throw new StoreError('ERR_EXISTS', `${id} is already in shared`)
    const d = await Download.open(this.incomingDir, this.sharedDir, id, size, this.opts, () => {
      if (this.downloads.get(id) === d) this.downloads.delete(id)
    })
    this.downloads.set(id, d)
    return d
  }

  /** The open download of `id`, if one is running in this process. */
  downloading(id: string): Download | undefined {
    const d = this.downloads.get(id)
    return d && !d.closed ? d : undefined
  }

  /** Ids with a partial copy in incoming/ (running or left by an earlier run). */
  async partials(): Promise<string[]> {
    try {
      return (await readdir(this.incomingDir)).filter((n) => isContentId(n)).sort()
    } catch (err) {
      throw fsError(err, `listing ${this.incomingDir}`)
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.names.flushed()
    await Promise.allSettled([...this.downloads.values()].map((d) => d.close()))
    this.downloads.clear()
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('ERR_CLOSED', 'file store is closed')
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false
    throw err
  }
}
