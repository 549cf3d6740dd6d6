// Many nodes in one process on 127.0.0.1 port 0 (or an in-process network), torn down with the test.
import type { TestContext } from 'node:test'
import { CjNode } from '../../src/mesh/node.ts'
import type { NodeInit } from '../../src/mesh/node.ts'
import { UdpTransport } from '../../src/mesh/transport.ts'
import type { MemoryNetwork } from '../../src/mesh/link.ts'
import type { Transport } from '../../src/mesh/transport.ts'

export async function createNodes(t: TestContext, n: number, init: NodeInit = {}, net?: MemoryNetwork): Promise<CjNode[]> {
  const nodes: CjNode[] = []
  for (let i = 0; i < n; i++) {
    const transport: Transport = net ? net.createTransport() : await UdpTransport.bind({ port: 0 })
    const node = new CjNode({ transport }, { probeIntervalMs: 60_000, ...init })
    nodes.push(node)
  }
  t.after(() => Promise.all(nodes.map((n) => n.close())))
  return nodes
}

/** Polls until fn() is truthy or the deadline passes (generous: the machine may be busy). */
export async function until<T>(fn: () => T | Promise<T>, timeoutMs = 10_000, what = 'condition'): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v as NonNullable<T>
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
