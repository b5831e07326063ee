import { ValidationError } from '../errors'

/**
 * Checks a history list's keyset `cursor`: the previous page's last item, one of the caller's own
 * (anyone else's id would reveal nothing, but is still a client mistake), and not mixed with offset.
 */
export async function checkHistoryCursor(
  query: { cursor?: string; offset: number },
  isCallersItem: (id: string) => Promise<boolean>,
): Promise<string | undefined> {
  if (query.cursor === undefined) return undefined
  if (query.offset !== 0) throw cursorError('give either cursor or offset, not both')
  if (!(await isCallersItem(query.cursor))) throw cursorError('not a next_cursor of this list')
  return query.cursor
}

function cursorError(message: string): ValidationError {
  return new ValidationError('validation_failed', `query cursor: ${message}`, {
    details: { where: 'query', fields: [{ field: 'cursor', message }] },
  })
}

/** One page of `limit` items from `limit + 1` rows, with the cursor of the next page. */
export function historyPage<Row extends { id: string }, Item>(
  rows: Row[],
  limit: number,
  toItem: (row: Row) => Item,
): { data: Item[]; has_more: boolean; next_cursor: string | null } {
  const page = rows.slice(0, limit)
  const hasMore = rows.length > limit
  return {
    data: page.map(toItem),
    has_more: hasMore,
    next_cursor: hasMore ? page[page.length - 1]!.id : null,
  }
}
