// A tagged template that escapes every interpolated value unless it is already markup built by
// `html` itself, so a stream name from a peer can never become markup.
export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string { return this.text }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c])
}

type Part = SafeHtml | string | number | boolean | null | undefined | readonly Part[]

function render(value: Part): string {
  if (value instanceof SafeHtml) return value.text
  if (Array.isArray(value)) return value.map(render).join('')
  if (value === null || value === undefined || value === false) return ''
  return escapeHtml(value)
}

export function html(strings: TemplateStringsArray, ...values: Part[]): SafeHtml {
  let out = strings[0]
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]
  return new SafeHtml(out)
}

/** The shared page frame: one stylesheet, no inline script (the CSP forbids it). */
export function page(title: string, body: SafeHtml, scripts: readonly string[] = []): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<style>
body { font: 15px/1.4 system-ui, sans-serif; margin: 1.5rem; background: #111; color: #eee; }
a { color: #7cf; }
nav a { margin-right: 1rem; }
table { border-collapse: collapse; }
td, th { padding: .25rem .75rem; text-align: left; border-bottom: 1px solid #333; }
code { font-size: 13px; word-break: break-all; }
video { width: 100%; max-width: 800px; background: #000; display: block; }
#stats { font-family: ui-monospace, monospace; font-size: 13px; margin-top: .75rem; }
#stats td:first-child { color: #aaa; }
.error { color: #f77; }
</style>
</head>
<body>
<nav><a href="/">Streams</a><a href="/dashboard">Dashboard</a><a href="/status.json">status.json</a><a href="/metrics">metrics</a></nav>
${body}
${scripts.map((src) => html`<script src="${src}"></script>`)}
</body>
</html>
`.text
}
