import { InvalidArgumentError } from 'commander'

/** Thrown to end the CLI with one line on stderr and a non-zero exit code. */
export class CliFailure extends Error {}

/** Where the CLI writes: tables for people, JSON for scripts, progress on stderr, failures as one line. */
export interface CliOutput {
  line(text: string): void
  table(headers: string[], rows: string[][]): void
  /** One record as aligned `field  value` lines. */
  record(fields: Record<string, unknown>): void
  json(value: unknown): void
  /** A transient status line on a terminal's stderr (null clears it); nothing when stderr is not a terminal. */
  progress(text: string | null): void
  fail(message: string): never
}

export function terminalOutput(
  stdout: NodeJS.WriteStream = process.stdout,
  stderr: NodeJS.WriteStream = process.stderr,
): CliOutput {
  let hasProgress = false
  return {
    line: (text) => void stdout.write(`${text}\n`),
    table(headers, rows) {
      const widths = headers.map((header, column) =>
        Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
      )
      const format = (cells: string[]) =>
        cells
          .map((cell, column) => cell.padEnd(widths[column]!))
          .join('  ')
          .trimEnd()
      stdout.write(`${format(headers)}\n${widths.map((width) => '-'.repeat(width)).join('  ')}\n`)
      for (const row of rows) stdout.write(`${format(row)}\n`)
    },
    record(fields) {
      const width = Math.max(0, ...Object.keys(fields).map((key) => key.length))
      for (const [key, value] of Object.entries(fields)) {
        const text =
          value === null || value === undefined
            ? '-'
            : typeof value === 'object'
              ? JSON.stringify(value)
              : String(value)
        stdout.write(`${key.padEnd(width)}  ${text}\n`)
      }
    },
    json: (value) => void stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    progress(text) {
      if (!stderr.isTTY) return
      if (text === null) {
        if (hasProgress) stderr.write('\r\x1b[2K')
        hasProgress = false
        return
      }
      stderr.write(`\r\x1b[2K${text}`)
      hasProgress = true
    },
    fail(message) {
      throw new CliFailure(message)
    },
  }
}

/** commander's parser for a whole number ≥ 0. */
export function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a whole number')
  return Number(value)
}
