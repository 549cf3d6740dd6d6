// Just enough of a DOM for the dashboard's scripts (src/player/static/dashboard*.js) to run under
// node:vm: they build everything with createElementNS / createElement, setAttribute, appendChild
// and textContent, so what they drew can be read back as a tree of tags and attributes.
import { readFileSync } from 'node:fs'
import { runInNewContext } from 'node:vm'

export class FakeElement {
  readonly attrs = new Map<string, string>()
  readonly children: FakeElement[] = []
  private text = ''
  /** Properties the page's scripts set or read on an element (tiles, table cells, the select). */
  readonly dataset: Record<string, string> = {}
  readonly style: Record<string, string> = {}
  private readonly parts = new Map<string, FakeElement>()
  className = ''
  hidden = false
  value = ''
  constructor(readonly tag: string) {}
  get options(): FakeElement[] { return this.children }
  addEventListener(): void {}
  /** A tile's `.label` / `.value` / `.hint`: one element per selector, made on first use. */
  querySelector(sel: string): FakeElement {
    let e = this.parts.get(sel)
    if (!e) this.parts.set(sel, e = new FakeElement(sel))
    return e
  }
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

export interface FakePage {
  window: Record<string, unknown>
  /** The element with this id (made on first use, as if the page's frame held it). */
  byId(id: string): FakeElement
}

/** Runs the dashboard's static scripts (file names under src/player/static/) in one fresh context
 * sharing `window` and a document; `fetch` answers the page's requests (dashboard.js polls
 * /dashboard/data.json at once); timers never fire, so the page renders once per script load. */
export function loadDashboardScripts(files: string[], fetch?: (url: string) => Promise<unknown>): FakePage {
  const window: Record<string, unknown> = {}
  const ids = new Map<string, FakeElement>()
  const byId = (id: string): FakeElement => {
    let e = ids.get(id)
    if (!e) ids.set(id, e = new FakeElement(id))
    return e
  }
  const document = { createElementNS: (_ns: string, tag: string) => new FakeElement(tag), createElement: (tag: string) => new FakeElement(tag), getElementById: byId,
    createTextNode: (text: string) => { const t = new FakeElement('#text'); t.textContent = text; return t } }
  const context = { window, document, fetch, setTimeout: () => 0, URLSearchParams, Date }
  for (const f of files) runInNewContext(readFileSync(new URL(`../../src/player/static/${f}`, import.meta.url), 'utf8'), context)
  return { window, byId }
}
