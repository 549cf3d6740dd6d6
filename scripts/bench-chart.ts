// The benchmark's SVG: per scenario, the chunk delay CDF of the swarm against the HLS baseline
// (left), and each viewer's upload in copies of the stream (right). Plain SVG, no dependencies.
import type { Figures } from './bench-report.ts'

const W = 900
const H = 260
const esc = (s: string) => s.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c] as string)

function panel(x0: number, y0: number, w: number, h: number, title: string, xLabel: string, body: string): string {
  return `<g transform="translate(${x0},${y0})"><rect width="${w}" height="${h}" fill="#fafafa" stroke="#ccc"/>` +
    `<text x="${w / 2}" y="-8" text-anchor="middle" font-size="13">${esc(title)}</text>` +
    `<text x="${w / 2}" y="${h + 30}" text-anchor="middle" font-size="11">${esc(xLabel)}</text>${body}</g>`
}

function delayCdf(p2p: Figures, hls: Figures | null, w: number, h: number): string {
  // Log-scaled delay axis: the swarm's tens of ms and the baseline's seconds on one chart.
  const max = Math.max(10, ...p2p.delayCdfMs, ...(hls?.delayCdfMs ?? []))
  const lx = (v: number) => (Math.log10(Math.max(1, v)) / Math.log10(max)) * w
  const path = (cdf: number[]) => cdf.map((v, i) => `${i ? 'L' : 'M'}${lx(v).toFixed(1)},${(h - (i / 100) * h).toFixed(1)}`).join('')
  let out = `<path d="${path(p2p.delayCdfMs)}" fill="none" stroke="#1f77b4" stroke-width="2"/>`
  if (hls) out += `<path d="${path(hls.delayCdfMs)}" fill="none" stroke="#d62728" stroke-width="2"/>`
  for (const t of [1, 10, 100, 1000, 10000].filter((t) => t <= max)) out += `<text x="${lx(t)}" y="${h + 14}" font-size="10" text-anchor="middle">${t}</text>`
  out += `<text x="6" y="14" font-size="11" fill="#1f77b4">cjp2p swarm</text>`
  if (hls) out += `<text x="6" y="28" font-size="11" fill="#d62728">HLS, one server</text>`
  return out
}

function uploads(p2p: Figures, w: number, h: number): string {
  const ups = p2p.uploadsCopies
  const max = Math.max(2, ...ups, p2p.sourceCopies)
  const bw = w / Math.max(1, ups.length + 1)
  let out = `<rect x="0" y="${h - (p2p.sourceCopies / max) * h}" width="${bw * 0.8}" height="${(p2p.sourceCopies / max) * h}" fill="#ff7f0e"/>`
  ups.forEach((u, i) => { out += `<rect x="${(i + 1) * bw}" y="${h - (u / max) * h}" width="${bw * 0.8}" height="${(u / max) * h}" fill="#2ca02c"/>` })
  out += `<line x1="0" x2="${w}" y1="${h - h / max}" y2="${h - h / max}" stroke="#999" stroke-dasharray="4"/><text x="${w - 4}" y="${h - h / max - 3}" font-size="10" text-anchor="end">1 copy</text>`
  out += `<text x="6" y="14" font-size="11" fill="#ff7f0e">source ${p2p.sourceCopies.toFixed(2)}</text><text x="6" y="28" font-size="11" fill="#2ca02c">viewers (sorted)</text>`
  return out
}

export function chart(scenarios: Array<{ name: string; p2p: Figures; hls: Figures | null }>): string {
  const rowH = H + 70
  const parts = scenarios.map((s, i) => {
    const y = 40 + i * rowH
    return `<text x="20" y="${y - 22}" font-size="15" font-weight="bold">${esc(s.name)}</text>` +
      panel(60, y, 380, H - 40, 'chunk delay CDF (ms, log scale)', 'delay from publish to verified (ms)', delayCdf(s.p2p, s.hls, 380, H - 40)) +
      panel(500, y, 380, H - 40, 'upload per node (copies of the stream)', 'source, then viewers', uploads(s.p2p, 380, H - 40))
  })
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${40 + scenarios.length * rowH}" font-family="sans-serif">${parts.join('')}</svg>\n`
}
