import { readFile } from 'node:fs/promises'
import { deploymentSchema, type Deployment } from '../../protocol/deployment'
import { ConfigError } from '../errors'

/** Reads and validates a deployment file; any problem is a one-line `ConfigError` naming DEPLOYMENT_FILE. */
export async function readDeploymentFile(file: string): Promise<Deployment> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw new ConfigError(
      `invalid DEPLOYMENT_FILE: cannot read ${file} (${(error as NodeJS.ErrnoException).code})`,
    )
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new ConfigError(`invalid DEPLOYMENT_FILE: ${file} is not JSON`)
  }
  const parsed = deploymentSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw new ConfigError(`invalid DEPLOYMENT_FILE: ${file} ${issue.path.join('.')} ${issue.message}`)
  }
  return parsed.data
}
