import { cursorUuid, decodeCursor, encodeCursor, invalidCursor } from '../cursor'
import { ValidationError } from '../errors'

/** A history page's cursor: the last row's id (so `next_cursor` is that row's `deposit_id` or `withdrawal_id`). */
const historyCursor = { id: cursorUuid }

/**
 * Reads a history list's keyset `cursor`: the previous page's last item, one of the caller's own
 * (anyone else's id would reveal nothing, but is still a client mistake), and not mixed with offset.
 */
export async function checkHistoryCursor(
  query: { cursor?: string; offset: number },
  isCallersItem: (id: string) => Promise<boolean>,
): Promise<string | undefined> {
  if (query.cursor === undefined) return undefined
  const { id } = decodeCursor(query.cursor, historyCursor)
  if (query.offset !== 0) {
    throw new ValidationError('validation_failed', 'query cursor: give either cursor or offset, not both', {
      details: {
        where: 'query',
        fields: [{ field: 'cursor', message: 'give either cursor or offset, not both' }],
      },
    })
  }
  if (!(await isCallersItem(id))) throw invalidCursor('not a next_cursor of this list')
  return id
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
    next_cursor: hasMore ? encodeCursor({ id: page[page.length - 1]!.id }, historyCursor) : null,
  }
}
