// Nodes that share files: each has its own temp dir, FileStore and FileServer, torn down with the test.
import type { TestContext } from 'node:test'
import { randomBytes, createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CjNode, type NodeInit } from '../../src/mesh/node.ts'
import { FileServer } from '../../src/mesh/file-server.ts'
import { UdpTransport } from '../../src/mesh/transport.ts'
import type { Transport } from '../../src/mesh/transport.ts'
import { ShapedTransport } from '../../src/mesh/link.ts'
import type { LinkModel } from '../../src/mesh/link.ts'
import { FileStore } from '../../src/store/file-store.ts'
import { buildTree } from '../../src/store/blake3/tree-builder.ts'
import type { MetricsSink } from '../../src/metrics/types.ts'

export interface FileNode { node: CjNode; store: FileStore; server: FileServer; dir: string }

export async function tempDir(t: TestContext, prefix = 'cjp2p-files-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** One node with a store and a file server; `link` shapes what it receives (to slow a download down). */
export async function fileNode(t: TestContext, opts: { link?: LinkModel; metrics?: MetricsSink; init?: NodeInit } = {}): Promise<FileNode> {
  const dir = await tempDir(t)
  let transport: Transport = await UdpTransport.bind({ port: 0 })
  if (opts.link) transport = new ShapedTransport(transport, opts.link)
  const node = new CjNode({ transport, metrics: opts.metrics }, { probeIntervalMs: 60_000, ...opts.init })
  const store = await FileStore.open(dir)
  const server = new FileServer({ node, store })
  t.after(async () => { server.close(); await node.close(); await store.close() })
  return { node, store, server, dir }
}

export async function fileNodes(t: TestContext, n: number): Promise<FileNode[]> {
  const out: FileNode[] = []
  for (let i = 0; i < n; i++) out.push(await fileNode(t))
  return out
}

/** Random bytes of `size`, shared by every given node; returns both ids and the bytes. */
export async function shareRandom(t: TestContext, size: number, ...holders: FileNode[]): Promise<{ id: string; blake3: string; bytes: Buffer }> {
  const bytes = randomBytes(size)
  const src = join(await tempDir(t, 'cjp2p-src-'), 'file.bin')
  await writeFile(src, bytes)
  let id = createHash('sha256').update(bytes).digest('hex')
  let blake3 = buildTree(bytes).id
  for (const h of holders) ({ id, blake3 } = await h.store.shareFile(src))
  return { id, blake3, bytes }
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
