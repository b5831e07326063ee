import { ValidationError } from './errors'

/**
 * The one codec of every list's keyset cursor (`next_cursor`, given back as `?cursor=`). To a client
 * a cursor is an opaque string; here it is the values of a list's last row, each written by its
 * field in its shape's key order and joined by `.`. A written value uses only `[A-Za-z0-9_-]`, so a
 * cursor needs no URL escaping and never holds the separator, and a cursor of one id is that id
 * (the wallet's history lists have always handed out the last row's id). Decoding accepts only
 * what encoding can produce, so whatever reaches SQL is a valid value, and anything else is a 400
 * `invalid_cursor`, never a failed cast and a 500.
 */
export interface CursorField<Value> {
  write(value: Value): string
  /** The value `text` was written from, or undefined when it is not a value of this field. */
  read(text: string): Value | undefined
}

/** A cursor's fields by name; their order is the order of the values in the text. */
export type CursorShape = Readonly<Record<string, CursorField<unknown>>>

/** What a cursor of `Shape` holds. */
export type CursorValues<Shape extends CursorShape> = {
  [Key in keyof Shape]: Shape[Key] extends CursorField<infer Value> ? Value : never
}

const SEPARATOR = '.'
const URL_SAFE = /^[A-Za-z0-9_-]+$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** A row's uuid, written as itself (lowercase). */
export const cursorUuid: CursorField<string> = {
  write: (value) => value.toLowerCase(),
  read(text) {
    const value = text.toLowerCase()
    return UUID.test(value) ? value : undefined
  },
}

/** A bigserial id (a ledger entry's), as decimal digits: at most 18, so it always fits a bigint. */
export const cursorSerial: CursorField<string> = {
  write: (value) => value,
  read: (text) => (/^\d{1,18}$/.test(text) ? text : undefined),
}

/** One of `values` (a list's sort column or direction), written as itself. */
export function cursorLiteral<const Values extends readonly string[]>(
  ...values: Values
): CursorField<Values[number]> {
  for (const value of values) {
    if (!URL_SAFE.test(value)) throw new Error(`cursor literal ${JSON.stringify(value)} is not URL-safe`)
  }
  return {
    write: (value) => value,
    read: (text) => values.find((value) => value === text),
  }
}

/**
 * An instant exact to the microsecond, as UTC `YYYY-MM-DDTHH:MM:SS.ffffff`: what SQL renders with
 * `to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')` and reads back with
 * `$n::timestamp AT TIME ZONE 'UTC'`. Written as its 20 digits; read back only when it names a
 * real instant (no month 13, no 30 February, no year 0), which Postgres would refuse to cast.
 */
export const cursorTimestamp: CursorField<string> = {
  write(value) {
    const digits = value.replace(/[-T:.]/g, '')
    if (!/^\d{20}$/.test(digits)) throw new Error(`not a cursor timestamp: ${value}`)
    return digits
  },
  read(text) {
    const parts = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{6})$/.exec(text)
    if (!parts) return undefined
    const [, year, month, day, hour, minute, second, micros] = parts
    const seconds = `${year}-${month}-${day}T${hour}:${minute}:${second}`
    const instant = new Date(`${seconds}Z`)
    if (year === '0000' || Number.isNaN(instant.getTime())) return undefined
    if (instant.toISOString().slice(0, 19) !== seconds) return undefined
    return `${seconds}.${micros}`
  },
}

/** The cursor of `values`, a row of `shape`. */
export function encodeCursor<Shape extends CursorShape>(values: CursorValues<Shape>, shape: Shape): string {
  return Object.keys(shape)
    .map((key) => shape[key]!.write(values[key]))
    .join(SEPARATOR)
}

/** The values `text` holds, or 400 `invalid_cursor` when it is not a cursor of `shape`. */
export function decodeCursor<Shape extends CursorShape>(text: string, shape: Shape): CursorValues<Shape> {
  const keys = Object.keys(shape)
  const parts = text.split(SEPARATOR)
  if (parts.length !== keys.length) throw invalidCursor()
  const values: Record<string, unknown> = {}
  for (const [index, key] of keys.entries()) {
    const value = shape[key]!.read(parts[index]!)
    if (value === undefined) throw invalidCursor()
    values[key] = value
  }
  return values as CursorValues<Shape>
}

const SEQ_CURSOR = { seq: cursorSerial }

/** Where a list keyed by a bigserial `seq` resumes: the seq its `cursor` holds, or null for page one. */
export function seqAfterCursor(cursor: string | undefined): string | null {
  return cursor === undefined ? null : decodeCursor(cursor, SEQ_CURSOR).seq
}

/** The cursor of the page after `rows`, a full page of `limit` rows keyed by `seq`; null after the last. */
export function nextSeqCursor(rows: readonly { seq: string }[], limit: number): string | null {
  const last = rows.at(-1)
  return rows.length === limit && last ? encodeCursor({ seq: last.seq }, SEQ_CURSOR) : null
}

/** 400 `invalid_cursor` naming the query's `cursor`: one this list did not hand out (or not for this query). */
export function invalidCursor(message = 'not a cursor this API returned'): ValidationError {
  return new ValidationError('invalid_cursor', `query cursor: ${message}`, {
    details: { where: 'query', fields: [{ field: 'cursor', message }] },
  })
}
