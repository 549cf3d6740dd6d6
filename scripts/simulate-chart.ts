// The simulator's SVG for `--all`: source copies (left) and worst viewer completeness (right)
// against the loss rate of every path, one line per labelled series (e.g. before / after a change,
// read from earlier `--json` files). Plain SVG, no dependencies.

export interface SweepSeries { label: string; points: Array<{ loss: number; sourceCopies: number; worst: number }> }

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd']
const PW = 380
const PH = 220
const esc = (s: string) => s.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c] as string)

function panel(x0: number, title: string, series: SweepSeries[], y: (p: SweepSeries['points'][number]) => number, lo: number, hi: number, ticks: number[], fmt: (v: number) => string, goal: number): string {
  const maxLoss = Math.max(0.01, ...series.flatMap((s) => s.points.map((p) => p.loss)))
  const px = (l: number) => (l / maxLoss) * PW
  const py = (v: number) => PH - ((Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo)) * PH
  let body = `<rect width="${PW}" height="${PH}" fill="#fafafa" stroke="#ccc"/>`
  for (const t of ticks) body += `<line x1="0" x2="${PW}" y1="${py(t)}" y2="${py(t)}" stroke="#eee"/><text x="-4" y="${py(t) + 3}" font-size="10" text-anchor="end">${fmt(t)}</text>`
  for (const p of series[0]?.points ?? []) body += `<text x="${px(p.loss)}" y="${PH + 14}" font-size="10" text-anchor="middle">${(p.loss * 100).toFixed(1)}</text>`
  body += `<line x1="0" x2="${PW}" y1="${py(goal)}" y2="${py(goal)}" stroke="#999" stroke-dasharray="4"/><text x="${PW - 4}" y="${py(goal) - 3}" font-size="10" text-anchor="end">goal</text>`
  series.forEach((s, i) => {
    const c = COLOURS[i % COLOURS.length]
    const pts = [...s.points].sort((a, b) => a.loss - b.loss)
    body += `<path d="${pts.map((p, k) => `${k ? 'L' : 'M'}${px(p.loss).toFixed(1)},${py(y(p)).toFixed(1)}`).join('')}" fill="none" stroke="${c}" stroke-width="2"/>`
    for (const p of pts) body += `<circle cx="${px(p.loss).toFixed(1)}" cy="${py(y(p)).toFixed(1)}" r="3" fill="${c}"/>`
    body += `<text x="8" y="${16 + 14 * i}" font-size="11" fill="${c}">${esc(s.label)}</text>`
  })
  return `<g transform="translate(${x0},50)"><text x="${PW / 2}" y="-10" text-anchor="middle" font-size="13">${esc(title)}</text>` +
    `<text x="${PW / 2}" y="${PH + 32}" text-anchor="middle" font-size="11">loss on every path (%)</text>${body}</g>`
}

export function lossChart(title: string, series: SweepSeries[]): string {
  const maxCopies = Math.max(2, ...series.flatMap((s) => s.points.map((p) => Math.ceil(p.sourceCopies))))
  const copyTicks = Array.from({ length: maxCopies + 1 }, (_, i) => i)
  const worstLo = Math.min(0.9, ...series.flatMap((s) => s.points.map((p) => Math.floor(p.worst * 20) / 20)))
  const worstTicks = Array.from({ length: Math.round((1 - worstLo) * 20) + 1 }, (_, i) => worstLo + i * 0.05)
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * PW + 140}" height="${PH + 100}" font-family="sans-serif">` +
    `<text x="20" y="20" font-size="14" font-weight="bold">${esc(title)}</text>` +
    panel(50, 'source copies uploaded', series, (p) => p.sourceCopies, 0, maxCopies, copyTicks, (v) => v.toFixed(0), 1.05) +
    panel(PW + 110, 'completeness of the worst viewer', series, (p) => p.worst, worstLo, 1, worstTicks, (v) => `${(v * 100).toFixed(0)} %`, 0.999) +
    '</svg>\n'
}
