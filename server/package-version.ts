import { readFileSync } from 'node:fs'
import path from 'node:path'

const PACKAGE_NAME = 'clearhouse'

/**
 * The version in Clearhouse's package.json, found by walking up from `start`. The same module runs
 * as `server/*.ts` under ts-node and as `dist/server/*.js` after a build, at different depths below
 * the package root, so no fixed relative path is right for both; the name check skips any other
 * package.json on the way (a workspace, a vendored copy).
 */
export function readPackageVersion(start: string = __dirname): string {
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    const manifest = readManifest(path.join(dir, 'package.json'))
    if (manifest?.name === PACKAGE_NAME && typeof manifest.version === 'string') return manifest.version
    if (path.dirname(dir) === dir) {
      throw new Error(`no package.json named "${PACKAGE_NAME}" in ${path.resolve(start)} or above it`)
    }
  }
}

function readManifest(file: string): { name?: unknown; version?: unknown } | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown }
  } catch {
    return null
  }
}
