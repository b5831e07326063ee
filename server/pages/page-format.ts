import { html, type SafeHtml } from './page-html'

/** An ISO timestamp as a `<time>` a person reads (`2025-03-01 14:05 UTC`) and a machine parses. */
export function timeTag(iso: string | null): SafeHtml {
  if (iso === null) return html`<span class="muted">—</span>`
  const readable = `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`
  return html`<time datetime="${iso}">${readable}</time>`
}

/** A long hex string (hash, address, signature) shortened for a table, whole in its title and for copying. */
export function shortHex(hex: string | null, keep = 6): SafeHtml {
  if (hex === null) return html`<span class="muted">—</span>`
  if (hex.length <= keep * 2 + 4) return html`<code>${hex}</code>`
  return html`<code title="${hex}">${hex.slice(0, keep + 2)}…${hex.slice(-keep)}</code>`
}

/** `1 bid`, `3 bids`. */
export function countOf(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`
}

/** A status word as a badge whose colour class follows the status (text says it too, not only colour). */
export function statusBadge(status: string): SafeHtml {
  return html`<span class="badge badge-${status.replace(/[^a-z_]/g, '')}">${status.replace(/_/g, ' ')}</span>`
}

/** A tag list as a row of chips, each linking the list filtered by it. */
export function tagList(tags: readonly string[], filterHref: (tag: string) => string): SafeHtml {
  if (tags.length === 0) return html``
  return html`<ul class="tags" aria-label="Tags">
    ${tags.map((tag) => html`<li><a class="tag" href="${filterHref(tag)}">${tag}</a></li>`)}
  </ul>`
}

/** Plain text as paragraphs (blank lines) and line breaks, escaped: how a job's description reads. */
export function paragraphs(text: string): SafeHtml[] {
  return text
    .split(/\n\s*\n/)
    .map((block) => block.trim())
    .filter(Boolean)
    .map((block) => {
      const lines = block.split('\n')
      return html`<p>${lines.map((line, index) => (index === 0 ? line : html`<br />${line}`))}</p>`
    })
}

/** A query string from the parameters that are set (`?a=1&b=2`, or '' when none are). */
export function queryString(parameters: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams()
  for (const [name, value] of Object.entries(parameters)) {
    if (value !== undefined && value !== '') search.set(name, String(value))
  }
  const text = search.toString()
  return text ? `?${text}` : ''
}

/** A request's query as plain strings, the empty ones dropped: an empty search box means no filter. */
export function presentQuery(query: unknown): Record<string, string> {
  const present: Record<string, string> = {}
  for (const [name, value] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    if (typeof value === 'string' && value.trim() !== '') present[name] = value
  }
  return present
}

/** How a pager names its links and its position parameter (`offset`, or `after` for settlements). */
export interface PagerOptions {
  param?: string
  previousLabel?: string
  nextLabel?: string
}

/** Previous and next links of a paged list: each keeps the filters and sets the position. */
export function pager(
  path: string,
  filters: Record<string, string | undefined>,
  previous: number | null,
  next: number | null,
  options: PagerOptions = {},
): SafeHtml {
  if (previous === null && next === null) return html``
  const { param = 'offset', previousLabel = '← Newer', nextLabel = 'Older →' } = options
  const href = (position: number) => `${path}${queryString({ ...filters, [param]: position || undefined })}`
  return html`<nav class="pager" aria-label="Pages">
    ${previous === null ? '' : html`<a rel="prev" href="${href(previous)}">${previousLabel}</a>`}
    ${next === null ? '' : html`<a rel="next" href="${href(next)}">${nextLabel}</a>`}
  </nav>`
}
