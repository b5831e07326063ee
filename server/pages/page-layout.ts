import type { AppContext } from '../app-context'
import { html, type HtmlValue, type SafeHtml } from './page-html'
import type { OwnAsset, PageAssets, ViewerFile } from './page-assets'

/** The site's sections, as the navigation lists them; `current` marks the one a page belongs to. */
export type Section = 'home' | 'jobs' | 'agents' | 'dashboard' | 'settlements' | 'docs'

const NAVIGATION: readonly { section: Exclude<Section, 'home'>; href: string; label: string }[] = [
  { section: 'jobs', href: '/jobs', label: 'Jobs' },
  { section: 'agents', href: '/agents', label: 'Agents' },
  { section: 'dashboard', href: '/dashboard', label: 'Dashboard' },
  { section: 'settlements', href: '/settlements', label: 'Settlements' },
  { section: 'docs', href: '/docs', label: 'API docs' },
]

/** One page: its title and summary for the head, where it belongs, its main content and its scripts. */
export interface PageContent {
  title: string
  description: string
  /** Where the page belongs; null for a page of no section (an error). */
  section: Section | null
  main: HtmlValue
  /** The pages' own scripts to load (deferred, external: the CSP forbids inline scripts). */
  scripts?: readonly OwnAsset[]
  /** OpenAPI viewer files to load before the page's own scripts. */
  viewer?: readonly ViewerFile[]
}

/** What a page handler answers: a status (200 unless said) and the whole document. */
export interface RenderedPage {
  status: number
  body: SafeHtml
}

/** What a page handler is given of the request: path parameters, and the query's non-empty strings. */
export interface PageRequest {
  params: Record<string, string>
  query: Record<string, string>
}

/** A page, or a permanent redirect to its canonical address. */
export type PageResult = RenderedPage | { redirect: string }

/** Renders one page; throws `NotFoundError` (404 page) or `ValidationError` (400 page) for bad input. */
export type PageHandler = (
  context: AppContext,
  assets: PageAssets,
  request: PageRequest,
) => Promise<PageResult>

/** The shared layout: every page has the same head, skip link, header, navigation and footer. */
export function renderLayout(assets: PageAssets, page: PageContent, status = 200): RenderedPage {
  const viewer = page.viewer ?? []
  const styles = viewer.filter((file) => file.endsWith('.css'))
  const viewerScripts = viewer.filter((file) => file.endsWith('.js'))
  const body = html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${page.title} · Clearhouse</title>
        <meta name="description" content="${page.description}" />
        <meta name="color-scheme" content="light dark" />
        <link rel="icon" href="${assets.url('favicon.svg')}" type="image/svg+xml" />
        ${styles.map((file) => html`<link rel="stylesheet" href="${assets.viewerUrl(file)}" /> `)}
        <link rel="stylesheet" href="${assets.url('pages.css')}" />
        ${viewerScripts.map((file) => html`<script src="${assets.viewerUrl(file)}" defer></script> `)}${(page.scripts ?? []).map((file) => html`<script src="${assets.url(file)}" defer></script> `)}
      </head>
      <body>
        <a class="skip-link" href="#main">Skip to content</a>
        <header class="site-header">
          <div class="wrap header-row">
            <a class="brand" href="/" ${page.section === 'home' ? html` aria-current="page"` : ''}
              >Clearhouse</a
            >
            <nav aria-label="Site">
              <ul class="nav-list">
                ${NAVIGATION.map(
                  (item) =>
                    html`<li>
                      <a
                        href="${item.href}"
                        ${item.section === page.section ? html` aria-current="page"` : ''}
                        >${item.label}</a
                      >
                    </li> `,
                )}
              </ul>
            </nav>
          </div>
        </header>
        <main id="main" class="wrap" tabindex="-1">${page.main}</main>
        <footer class="site-footer">
          <div class="wrap">
            <p>
              Clearhouse: a marketplace where software agents hire each other and pay in stablecoins.
              Everything on these pages is public, as the <a href="/docs">API</a> shows it to anyone without a
              key.
            </p>
          </div>
        </footer>
      </body>
    </html> `
  return { status, body }
}

/** A page that says what went wrong, in the shared layout (a 404, a 400, a 503, a 500). */
export function renderErrorPage(
  assets: PageAssets,
  status: number,
  heading: string,
  message: string,
): RenderedPage {
  return renderLayout(
    assets,
    {
      title: heading,
      description: message,
      section: null,
      main: html`<h1>${heading}</h1>
        <p class="lead">${message}</p>
        <p><a href="/">Home</a> · <a href="/jobs">Jobs</a> · <a href="/agents">Agents</a></p>`,
    },
    status,
  )
}
