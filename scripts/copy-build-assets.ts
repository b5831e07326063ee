/**
 * The last step of `npm run build`: copies what `tsc` does not emit but the built coordinator reads
 * at runtime, the SQL migrations, next to the compiled `dist/server/db/migrate.js`.
 */
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises'
import path from 'node:path'

const ROOT = path.resolve(__dirname, '..')
const MIGRATIONS = 'server/db/migrations'

async function main(): Promise<void> {
  const source = path.join(ROOT, MIGRATIONS)
  const target = path.join(ROOT, 'dist', MIGRATIONS)
  const files = (await readdir(source)).filter((file) => file.endsWith('.sql'))
  if (files.length === 0) throw new Error(`no migrations in ${source}`)
  // Replaced, not merged: a migration renamed or removed in the sources must not linger in dist,
  // where the coordinator would apply it as if it were still part of the schema.
  await rm(target, { recursive: true, force: true })
  await mkdir(target, { recursive: true })
  for (const file of files) await copyFile(path.join(source, file), path.join(target, file))
  console.log(`copied ${files.length} migrations to ${path.relative(ROOT, target)}`)
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
