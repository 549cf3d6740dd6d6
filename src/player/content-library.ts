// What the HTTP app needs from the node's files: readers of any content id (a complete file, or
// one fetched from the swarm on demand), the list of shared and downloading files, and the
// state-changing calls of the local API. The runtime adapts the store and the mesh to this.
import type { FetchView as FetchEntry } from '../mesh/file-fetches.ts'

export interface ContentReader {
  readonly size: number
  /** Every byte this reader serves matched the id: a complete file, or a `blake3/` id (each block
   * checked against its tree before it was written). A SHA-256 id verifies only the whole file, at the end. */
  readonly verified: boolean
  /** [start, end) is on disk here. */
  has(start: number, end: number): boolean
  /** Asks the fetch to get the bytes from `offset` first (a player's seek). */
  focus(offset: number): void
  /** Resolves once [start, end) is here; rejects when the fetch fails or `signal` aborts. */
  ready(start: number, end: number, signal: AbortSignal): Promise<void>
  read(offset: number, length: number): Promise<Buffer>
  close(): Promise<void>
}

export interface SharedEntry { id: string; name: string | null; size: number }

/** A download as the API lists it (the mesh's own view of it). */
export type { FetchView as FetchEntry } from '../mesh/file-fetches.ts'

export interface ContentLibrary {
  /** A reader of `id`, starting a fetch when the file is not here; waits for the size. */
  reader(id: string, signal: AbortSignal): Promise<ContentReader>
  /** The name the file was shared or fetched under, if any. */
  name(id: string): string | undefined
  list(): Promise<{ shared: SharedEntry[]; fetches: FetchEntry[] }>
  share(path: string): Promise<{ id: string; blake3: string; size: number }>
  /** Starts (or joins) a fetch; 'complete' when the file is already here. */
  fetch(id: string, opts: { name?: string; peers?: string[] }): Promise<'started' | 'complete'>
  cancel(id: string): boolean
}
