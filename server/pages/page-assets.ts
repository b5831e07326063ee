import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { Router, type Response } from 'express'

/** Where the pages' stylesheet, scripts and icon are served. */
export const ASSETS_PATH = '/assets'

/** The pages' own assets (server/pages/assets/), by file name, with their types. */
const OWN_ASSETS = {
  'pages.css': 'text/css; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'docs.js': 'text/javascript; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
} as const
export type OwnAsset = keyof typeof OWN_ASSETS

/** The files of the OpenAPI viewer (the `swagger-ui-dist` package) that /docs loads. */
const VIEWER_FILES = {
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui.css': 'text/css; charset=utf-8',
} as const
export type ViewerFile = keyof typeof VIEWER_FILES

interface LoadedAsset {
  body: Buffer
  type: string
  etag: string
}

function load(file: string, type: string): LoadedAsset {
  const body = readFileSync(file)
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` }
}

/** The installed viewer's directory and version (its URL carries the version, so it can be cached for good). */
function viewerPackage(): { dir: string; version: string } {
  const manifest = require.resolve('swagger-ui-dist/package.json')
  return {
    dir: path.dirname(manifest),
    version: (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version,
  }
}

/**
 * The pages' assets, read once (they are small; the viewer's bundle is the largest, about 1.5 MB)
 * and served from memory with content-hashed URLs, so a browser caches each until it changes.
 */
export class PageAssets {
  private readonly own = new Map<string, LoadedAsset>()
  private readonly viewer = new Map<string, LoadedAsset>()
  private readonly viewerVersion: string

  constructor(dir: string = path.join(__dirname, 'assets')) {
    for (const [name, type] of Object.entries(OWN_ASSETS))
      this.own.set(name, load(path.join(dir, name), type))
    const viewer = viewerPackage()
    this.viewerVersion = viewer.version
    for (const [name, type] of Object.entries(VIEWER_FILES)) {
      this.viewer.set(name, load(path.join(viewer.dir, name), type))
    }
  }

  /** The URL of one of the pages' own assets: its content hash is in the query, so a change is a new URL. */
  url(name: OwnAsset): string {
    return `${ASSETS_PATH}/${name}?v=${this.own.get(name)!.etag.slice(1, 9)}`
  }

  /** The URL of a file of the OpenAPI viewer, under its package version. */
  viewerUrl(name: ViewerFile): string {
    return `${ASSETS_PATH}/swagger-ui/${this.viewerVersion}/${name}`
  }

  /** Serves the assets; anything else under `ASSETS_PATH` falls through to the 404. */
  router(): Router {
    const router = Router()
    router.get(`${ASSETS_PATH}/swagger-ui/:version/:name`, (req, res, next) => {
      const asset = req.params.version === this.viewerVersion ? this.viewer.get(req.params.name) : undefined
      if (!asset) return next()
      send(res, asset, req.get('if-none-match'))
    })
    router.get(`${ASSETS_PATH}/:name`, (req, res, next) => {
      const asset = this.own.get(req.params.name)
      if (!asset) return next()
      send(res, asset, req.get('if-none-match'))
    })
    return router
  }
}

function send(res: Response, asset: LoadedAsset, ifNoneMatch: string | undefined): void {
  res.setHeader('Cache-Control', 'public, max-age=31536000, immutable')
  res.setHeader('ETag', asset.etag)
  if (ifNoneMatch === asset.etag) {
    res.status(304).end()
    return
  }
  res.type(asset.type).send(asset.body)
}
