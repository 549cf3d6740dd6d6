// Every PromQL expression the project ships: the Grafana dashboard's panel targets and the
// recording and alerting rules. Grafana cannot run here, so the way to know a panel works is to
// run its query against a real Prometheus scraping a real swarm; this module hands out the list,
// with Grafana's variables expanded to values plain Prometheus accepts.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const DEFAULT_DASHBOARD = fileURLToPath(new URL('../deploy/grafana/dashboards/cjp2p-fanout.json', import.meta.url))
export const DEFAULT_RULES = fileURLToPath(new URL('../deploy/prometheus/rules.yml', import.meta.url))

/** What Grafana would substitute; `instance` is the dashboard's node picker set to "All". */
export const GRAFANA_VARIABLE_DEFAULTS: Readonly<Record<string, string>> = {
  __rate_interval: '1m', __interval: '15s', __range: '5m', instance: '.*',
}

export interface ShippedQuery {
  source: 'dashboard' | 'rules'
  /** Panel title and refId, or the rule's record/alert name. */
  name: string
  /** As written in the file. */
  expr: string
  /** With Grafana variables expanded: what to send to Prometheus. */
  promql: string
}

/** Panel targets of a dashboard (rows' nested panels included), in panel order. */
export function dashboardQueries(dashboard: unknown, vars: Record<string, string> = GRAFANA_VARIABLE_DEFAULTS): ShippedQuery[] {
  const out: ShippedQuery[] = []
  const visit = (panels: unknown): void => {
    if (!Array.isArray(panels)) return
    for (const p of panels) {
      if (!isRecord(p)) continue
      const title = typeof p.title === 'string' ? p.title : `panel ${String(p.id)}`
      if (Array.isArray(p.targets)) {
        for (const t of p.targets) {
          if (!isRecord(t)) continue
          const expr = typeof t.expr === 'string' ? t.expr : ''
          out.push({ source: 'dashboard', name: `${title} ${String(t.refId ?? '?')}`, expr, promql: expandVariables(expr, vars) })
        }
      }
      visit(p.panels)
    }
  }
  if (isRecord(dashboard)) visit(dashboard.panels)
  return out
}

/** Replaces `$name` and `${name}` / `${name:format}`; unknown variables are left for callers to catch. */
export function expandVariables(expr: string, vars: Record<string, string> = GRAFANA_VARIABLE_DEFAULTS): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare ?? ''
    return Object.hasOwn(vars, name) ? vars[name] : whole
  })
}

/** `record`/`alert` rules of a Prometheus rules file. A deliberately small YAML reader for the
 * shapes rules.yml uses: `expr:` as a plain or quoted scalar, or a `>`/`|` block scalar. */
export function ruleQueries(yaml: string): ShippedQuery[] {
  const out: ShippedQuery[] = []
  const lines = yaml.split(/\r?\n/)
  let name = ''
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    const named = /^\s*(?:-\s+)?(record|alert):\s*(\S.*?)\s*$/.exec(line)
    if (named) { name = unquote(named[2]); continue }
    const m = /^(\s*)(?:-\s+)?expr:\s*(.*?)\s*$/.exec(line)
    if (!m) continue
    const keyIndent = m[1].length
    let expr: string
    if (/^[>|][+-]?$/.test(m[2])) {
      const body: string[] = []
      while (i + 1 < lines.length && (lines[i + 1].trim() === '' || indentOf(lines[i + 1]) > keyIndent)) body.push(lines[++i].trim())
      expr = body.join(m[2].startsWith('|') ? '\n' : ' ').trim()
    } else {
      expr = unquote(m[2])
    }
    out.push({ source: 'rules', name: name || `rule at line ${i + 1}`, expr, promql: expr })
  }
  return out
}

/** Metric (and recording rule) names an expression selects, without functions or keywords. */
export function metricNamesIn(expr: string): string[] {
  let s = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
  s = s.replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ')
  s = s.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
  s = s.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\b/g, ' ')
  // Numbers and durations, but not the digits inside names such as cjp2p_*.
  s = s.replace(/(?<![\w:.])\d*\.?\d+(?:[eE][+-]?\d+|ms|s|m|h|d|w|y)?(?![\w:])/g, ' ')
  const names = new Set<string>()
  for (const m of s.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const rest = s.slice((m.index ?? 0) + m[0].length)
    if (/^\s*\(/.test(rest)) continue
    if (KEYWORDS.has(m[0].toLowerCase())) continue
    names.add(m[0])
  }
  return [...names]
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan', 'atan2', 'start', 'end'])

/** Every shipped query: the dashboard's, then the rules'. */
export function shippedQueries(dashboardPath = DEFAULT_DASHBOARD, rulesPath = DEFAULT_RULES): ShippedQuery[] {
  const dashboard: unknown = JSON.parse(readFileSync(dashboardPath, 'utf8'))
  return [...dashboardQueries(dashboard), ...ruleQueries(readFileSync(rulesPath, 'utf8'))]
}

/** Names of the recording rules in a rules file. */
export function recordedNames(yaml: string): string[] {
  return [...yaml.matchAll(/^\s*(?:-\s+)?record:\s*(\S+)\s*$/gm)].map((m) => unquote(m[1]))
}

function indentOf(line: string): number {
  return line.length - line.trimStart().length
}

function unquote(s: string): string {
  if (s.length >= 2 && ((s.startsWith("'") && s.endsWith("'")) || (s.startsWith('"') && s.endsWith('"')))) {
    return s.startsWith("'") ? s.slice(1, -1).replace(/''/g, "'") : s.slice(1, -1).replace(/\\"/g, '"')
  }
  return s
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
