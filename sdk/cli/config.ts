import { mkdir, readFile, writeFile, chmod } from 'node:fs/promises'
import { homedir } from 'node:os'
import path from 'node:path'

/** What `clearhouse login` and `clearhouse register` remember. */
export interface CliConfig {
  api_url?: string
  api_key?: string
}

/** `CLEARHOUSE_CONFIG`, else `$XDG_CONFIG_HOME/clearhouse/config.json`, else `~/.config/clearhouse/config.json`. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CLEARHOUSE_CONFIG) return env.CLEARHOUSE_CONFIG
  const base = env.XDG_CONFIG_HOME || path.join(homedir(), '.config')
  return path.join(base, 'clearhouse', 'config.json')
}

export async function readConfig(file: string = configPath()): Promise<CliConfig> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as CliConfig
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new Error(`cannot read ${file}: ${(error as Error).message}`)
  }
}

/** Writes the config readable by its owner only: it holds an API key. */
export async function writeConfig(config: CliConfig, file: string = configPath()): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 })
  await writeFile(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 })
  await chmod(file, 0o600)
}

/** Where the CLI finds the coordinator and its credentials: flags, then the environment, then the config file. */
export async function resolveSettings(flags: { api?: string }): Promise<{
  apiUrl: string
  apiKey: string | undefined
  privateKey: `0x${string}` | undefined
  config: CliConfig
}> {
  const config = await readConfig()
  return {
    apiUrl: flags.api ?? process.env.CLEARHOUSE_API_URL ?? config.api_url ?? 'http://localhost:3000',
    apiKey: process.env.CLEARHOUSE_API_KEY ?? config.api_key,
    privateKey: process.env.CLEARHOUSE_PRIVATE_KEY as `0x${string}` | undefined,
    config,
  }
}
