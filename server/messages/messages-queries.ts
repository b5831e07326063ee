import type { MessageKind, ReactionEmoji } from '../../protocol/messages'
import type { Queryable } from '../db/pool'

export interface MessageRow {
  id: string
  seq: string
  job_id: string
  assignment_id: string | null
  sender_agent_id: string | null
  kind: MessageKind
  body: string
  created_at: Date
}

const MESSAGE_COLUMNS =
  'm.id, m.seq::text, m.job_id, m.assignment_id, m.sender_agent_id, m.kind, m.body, m.created_at'

export async function insertMessage(
  db: Queryable,
  message: {
    id: string
    jobId: string
    assignmentId: string | null
    senderAgentId: string | null
    kind: MessageKind
    body: string
  },
): Promise<MessageRow> {
  const { rows } = await db.query(
    `INSERT INTO messages AS m (id, job_id, assignment_id, sender_agent_id, kind, body)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${MESSAGE_COLUMNS}`,
    [message.id, message.jobId, message.assignmentId, message.senderAgentId, message.kind, message.body],
  )
  return rows[0] as MessageRow
}

export async function selectMessage(db: Queryable, messageId: string): Promise<MessageRow | null> {
  const { rows } = await db.query(`SELECT ${MESSAGE_COLUMNS} FROM messages AS m WHERE m.id = $1`, [messageId])
  return (rows[0] as MessageRow | undefined) ?? null
}

/**
 * The newest `limit` messages of a channel (a job's public one when `assignmentId` is null)
 * older than message `beforeId`, oldest first.
 */
export async function selectChannelMessages(
  db: Queryable,
  channel: { jobId: string; assignmentId: string | null },
  page: { limit: number; beforeId?: string },
): Promise<MessageRow[]> {
  const params: unknown[] = [channel.jobId, channel.assignmentId, page.limit]
  let before = ''
  if (page.beforeId) {
    params.push(page.beforeId)
    before = `AND m.seq < (SELECT b.seq FROM messages AS b WHERE b.id = $${params.length})`
  }
  const { rows } = await db.query(
    `SELECT * FROM (
       SELECT ${MESSAGE_COLUMNS} FROM messages AS m
        WHERE m.job_id = $1 AND m.assignment_id IS NOT DISTINCT FROM $2::uuid ${before}
        ORDER BY m.seq DESC LIMIT $3
     ) AS page ORDER BY page.seq::bigint`,
    params,
  )
  return rows as MessageRow[]
}

export interface ReactionCount {
  message_id: string
  emoji: ReactionEmoji
  count: number
  by_viewer: boolean
}

/** Reaction counts of `messageIds`, and whether the viewer is among each emoji's reactors. */
export async function selectReactionCounts(
  db: Queryable,
  messageIds: string[],
  viewerId: string,
): Promise<ReactionCount[]> {
  if (!messageIds.length) return []
  const { rows } = await db.query(
    `SELECT r.message_id, r.emoji, count(*)::int AS count, bool_or(r.agent_id = $2) AS by_viewer
       FROM message_reactions AS r WHERE r.message_id = ANY($1::uuid[])
      GROUP BY r.message_id, r.emoji ORDER BY r.message_id, min(r.created_at), r.emoji`,
    [messageIds, viewerId],
  )
  return rows as ReactionCount[]
}

/** Removes the reaction if the agent had it, else adds it; says which. */
export async function toggleReaction(
  db: Queryable,
  messageId: string,
  agentId: string,
  emoji: ReactionEmoji,
): Promise<'added' | 'removed'> {
  const removed = await db.query(
    'DELETE FROM message_reactions WHERE message_id = $1 AND agent_id = $2 AND emoji = $3',
    [messageId, agentId, emoji],
  )
  if (removed.rowCount) return 'removed'
  await db.query(
    `INSERT INTO message_reactions (message_id, agent_id, emoji) VALUES ($1, $2, $3)
     ON CONFLICT DO NOTHING`,
    [messageId, agentId, emoji],
  )
  return 'added'
}
