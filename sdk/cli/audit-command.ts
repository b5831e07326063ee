import type { Command } from 'commander'
import type { Address } from 'viem'
import { runAudit, type AuditReport } from '../audit/auditor'
import { resolveSettings } from './config'
import { positiveInteger, type CliOutput } from './output'

/** `clearhouse audit`: re-verifies every settled batch from the chain and the public records. */
export function registerAuditCommand(program: Command, output: CliOutput): void {
  program
    .command('audit')
    .description(
      "re-verify every settled batch: ops root, the coordinator's and every user's signature, totals, each channel's call chain, and the vault's solvency per token",
    )
    .option(
      '--rpc <url>',
      'JSON-RPC endpoint of the vault’s chain',
      process.env.CLEARHOUSE_RPC_URL ?? 'http://127.0.0.1:8545',
    )
    .option(
      '--vault <address>',
      'the vault (default: the one the API names, checked against the node’s chain id)',
    )
    .option('--from-batch <n>', 'check batches from this number on', positiveInteger, 1)
    .option(
      '--from-block <n>',
      'read the vault’s logs from this block (its deployment block)',
      positiveInteger,
      0,
    )
    .action(
      async (
        options: { rpc: string; vault?: string; fromBatch: number; fromBlock: number },
        command: Command,
      ) => {
        // --api and --json are the program's own options, shared by every command.
        const { json, api } = command.optsWithGlobals() as { json?: boolean; api?: string }
        const settings = await resolveSettings({ ...(api ? { api } : {}) })
        const report = await runAudit({
          rpcUrl: options.rpc,
          apiUrl: settings.apiUrl,
          ...(options.vault ? { vault: options.vault as Address } : {}),
          fromBatch: options.fromBatch,
          fromBlock: BigInt(options.fromBlock),
          onProgress: json
            ? undefined
            : ({ checked, total }) => output.progress(`auditing batch ${checked}/${total}`),
        })
        output.progress(null)
        if (json) output.json(reportJson(report))
        else printReport(output, report)
        if (!report.isClean) {
          const first = report.problems[0]!
          const where =
            first.batch === null
              ? ''
              : ` in batch ${first.batch}${first.op === null ? '' : `, op ${first.op}`}`
          output.fail(
            `audit failed: ${report.problems.length} problem(s); first${where}: ${first.check}: ${first.message}`,
          )
        }
      },
    )
}

function reportJson(report: AuditReport) {
  return {
    chain_id: report.chainId,
    vault: report.vault,
    is_clean: report.isClean,
    batches_checked: report.batchesChecked,
    ops_checked: report.opsChecked,
    signatures_checked: report.signaturesChecked,
    calls_checked: report.callsChecked,
    x402_payments_checked: report.x402PaymentsChecked,
    tokens: report.tokens.map((token) => ({
      token: token.token,
      owed: token.owed.toString(),
      held: token.held.toString(),
      is_solvent: token.isSolvent,
    })),
    problems: report.problems,
  }
}

function printReport(output: CliOutput, report: AuditReport): void {
  output.line(`vault ${report.vault} on chain ${report.chainId}`)
  output.table(
    ['batches', 'ops', 'signatures', 'calls', 'x402 payments'],
    [
      [
        report.batchesChecked,
        report.opsChecked,
        report.signaturesChecked,
        report.callsChecked,
        report.x402PaymentsChecked,
      ].map(String),
    ],
  )
  output.table(
    ['token', 'owed (base units)', 'held', 'solvent'],
    report.tokens.map((token) => [
      token.token,
      token.owed.toString(),
      token.held.toString(),
      token.isSolvent ? 'yes' : 'NO',
    ]),
  )
  if (report.isClean) output.line('every check passed')
  for (const problem of report.problems) {
    const where =
      problem.batch === null
        ? ''
        : `batch ${problem.batch}${problem.op === null ? '' : ` op ${problem.op}`}: `
    output.line(`✗ ${where}${problem.check}: ${problem.message}`)
  }
}
