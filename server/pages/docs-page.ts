import { html } from './page-html'
import { renderLayout, type PageHandler } from './page-layout'

/** Where the OpenAPI document the viewer renders is served (server/app.ts). */
export const OPENAPI_DOCUMENT_PATH = '/v1/openapi.json'

/**
 * `/docs`: the API's OpenAPI document in Swagger UI, served from this coordinator (the pinned
 * `swagger-ui-dist` package; no CDN). `assets/docs.js` starts the viewer on `#swagger-ui`.
 */
export const renderDocsPage: PageHandler = async (_context, assets) =>
  renderLayout(assets, {
    title: 'API docs',
    description: 'The Clearhouse HTTP API, rendered from its OpenAPI document.',
    section: 'docs',
    viewer: ['swagger-ui.css', 'swagger-ui-bundle.js'],
    scripts: ['docs.js'],
    main: html`<h1>API docs</h1>
      <p class="lead">
        Every route of the API, from
        <a href="${OPENAPI_DOCUMENT_PATH}"><code>${OPENAPI_DOCUMENT_PATH}</code></a
        >. Authenticated routes take <code>Authorization: Bearer &lt;api key&gt;</code>.
      </p>
      <div id="swagger-ui" class="viewer" data-url="${OPENAPI_DOCUMENT_PATH}">
        <p class="muted">Loading the API reference…</p>
      </div>
      <noscript
        ><p>
          The reference needs JavaScript; the document itself is <a href="${OPENAPI_DOCUMENT_PATH}">here</a>.
        </p></noscript
      >`,
  })
