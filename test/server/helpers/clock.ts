import type { Queryable } from '../../../server/db/pool'

/** Moves the database's clock (`clearhouse_now()`) `seconds` ahead of the real one: time passes without sleeping. */
export async function shiftDatabaseClock(db: Queryable, seconds: number): Promise<void> {
  await db.query('UPDATE clock_offset SET shift = make_interval(secs => $1)', [seconds])
}
