/**
 * The last step of `npm run build`: copies what `tsc` does not emit but the built coordinator reads
 * at runtime next to the compiled code: the SQL migrations (beside `dist/server/db/migrate.js`)
 * and the public pages' stylesheet, scripts and icon (beside `dist/server/pages/page-assets.js`).
 */
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises'
import path from 'node:path'

const ROOT = path.resolve(__dirname, '..')

/** Each folder copied, and which of its files. */
const FOLDERS = [
  { folder: 'server/db/migrations', isCopied: (file: string) => file.endsWith('.sql'), what: 'migrations' },
  {
    folder: 'server/pages/assets',
    isCopied: (file: string) => /\.(css|js|svg)$/.test(file),
    what: 'page assets',
  },
]

async function copyFolder(folder: string, isCopied: (file: string) => boolean, what: string): Promise<void> {
  const source = path.join(ROOT, folder)
  const target = path.join(ROOT, 'dist', folder)
  const files = (await readdir(source)).filter(isCopied)
  if (files.length === 0) throw new Error(`no ${what} in ${source}`)
  // Replaced, not merged: a migration renamed or removed in the sources must not linger in dist,
  // where the coordinator would apply it as if it were still part of the schema.
  await rm(target, { recursive: true, force: true })
  await mkdir(target, { recursive: true })
  for (const file of files) await copyFile(path.join(source, file), path.join(target, file))
  console.log(`copied ${files.length} ${what} to ${path.relative(ROOT, target)}`)
}

async function main(): Promise<void> {
  for (const { folder, isCopied, what } of FOLDERS) await copyFolder(folder, isCopied, what)
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
