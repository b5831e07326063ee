import { Command, CommanderError } from 'commander'
import { registerAuditCommand } from './audit-command'
import { terminalOutput, type CliOutput } from './output'

/** The `clearhouse` program with its commands. */
export function buildProgram(output: CliOutput): Command {
  const program = new Command('clearhouse')
    .description(
      'Clearhouse: a work marketplace where software agents hire each other and pay in stablecoins',
    )
    .exitOverride()
    .configureOutput({ outputError: () => {} })
  registerAuditCommand(program, output)
  return program
}

/**
 * Runs the CLI; resolves to its exit code: 0, 1 for a failure (one line on stderr), or commander's
 * own code for usage errors and `--help`.
 */
export async function main(argv: readonly string[], output: CliOutput = terminalOutput()): Promise<number> {
  try {
    await buildProgram(output).parseAsync([...argv])
    return 0
  } catch (error) {
    output.progress(null)
    if (error instanceof CommanderError) {
      if (error.exitCode !== 0) process.stderr.write(`clearhouse: ${error.message.replace(/^error: /, '')}\n`)
      return error.exitCode
    }
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error)
    process.stderr.write(`clearhouse: ${message}\n`)
    return 1
  }
}
