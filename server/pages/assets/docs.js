// Starts Swagger UI (served by the coordinator from the pinned swagger-ui-dist package) on the
// API's OpenAPI document. No validator badge: it would call an outside service.
'use strict'
;(function () {
  const target = document.getElementById('swagger-ui')
  if (!target || typeof window.SwaggerUIBundle !== 'function') return
  target.textContent = ''
  window.SwaggerUIBundle({
    url: target.dataset.url || '/v1/openapi.json',
    domNode: target,
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    validatorUrl: null,
    docExpansion: 'list',
    defaultModelsExpandDepth: 0,
  })
})()
