// Just enough of a DOM for the dashboard's chart script (static/dashboard-charts.js) to draw into
// under node:vm: it builds everything with createElementNS, setAttribute, appendChild and
// textContent, so the drawing can be read back as a tree of tags and attributes.
import { readFileSync } from 'node:fs'
import { runInNewContext } from 'node:vm'

export class FakeElement {
  readonly attrs = new Map<string, string>()
  readonly children: FakeElement[] = []
  private text = ''
  constructor(readonly tag: string) {}
  setAttribute(k: string, v: string): void { this.attrs.set(k, v) }
  getAttribute(k: string): string | null { return this.attrs.get(k) ?? null }
  appendChild(c: FakeElement): FakeElement { this.children.push(c); return c }
  get textContent(): string { return this.text + this.children.map((c) => c.textContent).join('') }
  /** As in the DOM: setting it replaces every child. */
  set textContent(v: string) { this.children.length = 0; this.text = v }
  /** Every descendant with this tag, in document order. */
  all(tag: string): FakeElement[] {
    return this.children.flatMap((c) => [...(c.tag === tag ? [c] : []), ...c.all(tag)])
  }
  num(k: string): number { return Number(this.attrs.get(k)) }
}

/** Runs the dashboard's static scripts (file names under src/player/static/) in one fresh context
 * sharing `window`, and returns that window. */
export function loadDashboardScripts(...files: string[]): Record<string, unknown> {
  const window: Record<string, unknown> = {}
  const document = { createElementNS: (_ns: string, tag: string) => new FakeElement(tag), createElement: (tag: string) => new FakeElement(tag) }
  for (const f of files) runInNewContext(readFileSync(new URL(`../../src/player/static/${f}`, import.meta.url), 'utf8'), { window, document })
  return window
}
