import { Command, CommanderError } from 'commander'
import { registerAuditCommand } from './audit-command'
import {
  commandContext,
  registerAccountCommands,
  registerChannelCommands,
  registerSessionCommands,
  registerJobCommands,
  registerServiceCommands,
  registerWalletCommands,
} from './commands'
import { terminalOutput, type CliOutput } from './output'

/** The `clearhouse` program with its commands. */
export function buildProgram(output: CliOutput): Command {
  const program = new Command('clearhouse')
    .description(
      'Clearhouse: a work marketplace where software agents hire each other and pay in stablecoins',
    )
    .option('--api <url>', 'the coordinator (CLEARHOUSE_API_URL, the config, else http://localhost:3000)')
    .option('--json', 'print JSON (the API’s answer) instead of tables')
    .exitOverride()
    .configureOutput({ outputError: () => {} })
  const context = commandContext(output)
  registerAccountCommands(program, context)
  registerJobCommands(program, context)
  registerServiceCommands(program, context)
  registerChannelCommands(program, context)
  registerSessionCommands(program, context)
  registerWalletCommands(program, context)
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
