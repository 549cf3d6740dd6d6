// The names files were shared or fetched under, by id, kept in shared/.names.json so the HTTP
// gateway can give a Content-Type and the index page a readable label. A name is a hint a person
// gave (or a link carried): it never becomes a path and is never trusted for anything else.
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isValidFileId } from './file-id.ts'

/** Names kept: one per shared file a person named; the oldest go first past this. */
export const MAX_NAMES = 10_000
/** Longest name kept: file systems allow 255 bytes per component. */
export const MAX_NAME_CHARS = 255
const FILE = '.names.json'

/** A display name: the last path component, without control characters; null when nothing is left. */
export function cleanName(name: unknown): string | null {
  if (typeof name !== 'string') return null
  // eslint-disable-next-line no-control-regex
  const base = name.split(/[/\\]/).pop()!.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, MAX_NAME_CHARS)
  return base === '' || base === '.' || base === '..' ? null : base
}

export class FileNames {
  private names = new Map<string, string>()
  private saving: Promise<void> = Promise.resolve()

  private constructor(private readonly path: string) {}

  static async load(sharedDir: string): Promise<FileNames> {
    const book = new FileNames(join(sharedDir, FILE))
    try {
      const raw = JSON.parse(await readFile(book.path, 'utf8')) as unknown
      if (raw && typeof raw === 'object') {
        for (const [id, name] of Object.entries(raw)) {
          const clean = cleanName(name)
          if (isValidFileId(id) && clean) book.names.set(id, clean)
        }
      }
    } catch {
      // Missing or unreadable: names are hints, start without them.
    }
    return book
  }

  get(id: string): string | undefined { return this.names.get(id) }

  /** Records a name for `id` (ignored if unusable) and saves the book in the background. */
  set(id: string, name: unknown): void {
    const clean = cleanName(name)
    if (!clean || !isValidFileId(id) || this.names.get(id) === clean) return
    this.names.delete(id)
    this.names.set(id, clean)
    while (this.names.size > MAX_NAMES) this.names.delete(this.names.keys().next().value as string)
    const text = JSON.stringify(Object.fromEntries(this.names))
    const tmp = `${this.path}.tmp`
    this.saving = this.saving.then(() => writeFile(tmp, text)).then(() => rename(tmp, this.path)).catch(() => {})
  }

  flushed(): Promise<void> { return this.saving }
}
