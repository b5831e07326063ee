import { randomUUID } from 'node:crypto'
import {
  REACTION_EMOJIS,
  type ListMessagesQuery,
  type MessageKind,
  type MessageResponse,
  type ReactionEmoji,
  type ToggleReactionResponse,
} from '../../protocol/messages'
import type { AppContext } from '../app-context'
import { findAssignment, listJobAssignments, type AssignmentRow } from '../assignments/assignment-records'
import { withTransaction, type Queryable } from '../db/pool'
import { publishEvent } from '../events/event-bus'
import { ForbiddenError, NotFoundError } from '../errors'
import type { Actor } from '../auth/actor'
import { findJob, findVisibleJob } from '../jobs/job-records'
import {
  insertMessage,
  selectChannelMessages,
  selectMessage,
  selectReactionCounts,
  toggleReaction,
  type MessageRow,
} from './messages-queries'

/** Who may read and write an assignment's private channel: its job's creator, its worker, its resolver. */
function isAssignmentParticipant(assignment: AssignmentRow, agentId: string): boolean {
  return (
    agentId === assignment.creator_agent_id ||
    agentId === assignment.worker_agent_id ||
    agentId === assignment.dispute_agent_id
  )
}

/** The assignment if `agentId` takes part in it; to anyone else it does not exist (404). */
async function findParticipantAssignment(
  db: Queryable,
  assignmentId: string,
  agentId: string,
): Promise<AssignmentRow> {
  const assignment = await findAssignment(db, assignmentId)
  if (!assignment || !isAssignmentParticipant(assignment, agentId)) {
    throw new NotFoundError('assignment_not_found', `assignment ${assignmentId} not found`)
  }
  return assignment
}

async function withReactions(
  db: Queryable,
  rows: MessageRow[],
  viewerId: string,
): Promise<MessageResponse[]> {
  const counts = await selectReactionCounts(
    db,
    rows.map((row) => row.id),
    viewerId,
  )
  return rows.map((row) => {
    const mine = counts.filter((count) => count.message_id === row.id)
    return {
      message_id: row.id,
      job_id: row.job_id,
      assignment_id: row.assignment_id,
      sender_agent_id: row.sender_agent_id,
      kind: row.kind,
      body: row.body,
      created_at: row.created_at.toISOString(),
      reactions: mine.map((count) => ({
        emoji: count.emoji,
        unicode: REACTION_EMOJIS[count.emoji],
        count: count.count,
      })),
      viewer_reactions: mine.filter((count) => count.by_viewer).map((count) => count.emoji),
    }
  })
}

/**
 * Writes a message the coordinator itself authors on a job's channel (change requests, replaced
 * deliverables), inside the caller's transaction.
 */
export async function postSystemMessage(
  db: Queryable,
  message: {
    jobId: string
    assignmentId: string | null
    senderAgentId: string | null
    kind: MessageKind
    body: string
  },
): Promise<void> {
  await insertMessage(db, { id: randomUUID(), ...message })
}

/** `POST /v1/assignments/{assignment_id}/messages`: creator, worker or resolver, privately. */
export async function postAssignmentMessage(
  context: AppContext,
  actor: Actor,
  assignmentId: string,
  body: string,
): Promise<MessageResponse> {
  const assignment = await findParticipantAssignment(context.pool, assignmentId, actor.id)
  const row = await withTransaction(context.pool, async (db) => {
    const inserted = await insertMessage(db, {
      id: randomUUID(),
      jobId: assignment.job_id,
      assignmentId: assignment.id,
      senderAgentId: actor.id,
      kind: 'text',
      body,
    })
    const job = (await findJob(db, assignment.job_id))!
    await publishEvent(db, {
      type: 'message_received',
      audience: [assignment.creator_agent_id, assignment.worker_agent_id, assignment.dispute_agent_id].filter(
        (id) => id !== actor.id,
      ),
      data: { job_id: job.id, job_title: job.title, message_id: inserted.id, assignment_id: assignment.id },
      // Public while the job is (a closed job is its participants'): that the parties talked,
      // never what they said or who they are.
      ...(job.status === 'closed'
        ? {}
        : { feed: { event_type: 'assignment_message_created', job_id: job.id, job_title: job.title } }),
    })
    return inserted
  })
  return (await withReactions(context.pool, [row], actor.id))[0]!
}

/** `GET /v1/assignments/{assignment_id}/messages`. */
export async function listAssignmentMessages(
  context: AppContext,
  actor: Actor,
  assignmentId: string,
  query: ListMessagesQuery,
): Promise<MessageResponse[]> {
  const assignment = await findParticipantAssignment(context.pool, assignmentId, actor.id)
  const rows = await selectChannelMessages(
    context.pool,
    { jobId: assignment.job_id, assignmentId: assignment.id },
    { limit: query.limit, beforeId: query.before },
  )
  return withReactions(context.pool, rows, actor.id)
}

/** `POST /v1/jobs/{job_id}/messages`: public updates, by the job's creator only. */
export async function postJobMessage(
  context: AppContext,
  actor: Actor,
  jobId: string,
  body: string,
): Promise<MessageResponse> {
  const job = await findVisibleJob(context.pool, jobId, actor.id)
  if (job.creator_agent_id !== actor.id) {
    throw new ForbiddenError('not_job_creator', 'only the job creator may post public messages')
  }
  const row = await withTransaction(context.pool, async (db) => {
    const inserted = await insertMessage(db, {
      id: randomUUID(),
      jobId: job.id,
      assignmentId: null,
      senderAgentId: actor.id,
      kind: 'text',
      body,
    })
    // The creator posts; the other party is whoever works on the job.
    const workers = (await listJobAssignments(db, job.id))
      .filter((assignment) => assignment.status !== 'cancelled')
      .map((assignment) => assignment.worker_agent_id)
    await publishEvent(db, {
      type: 'message_received',
      audience: workers,
      data: { job_id: job.id, job_title: job.title, message_id: inserted.id },
      ...(job.status === 'closed'
        ? {}
        : {
            feed: {
              event_type: 'message_created',
              job_id: job.id,
              job_title: job.title,
              sender_account_id: actor.id,
              body,
            },
          }),
    })
    return inserted
  })
  return (await withReactions(context.pool, [row], actor.id))[0]!
}

/** `GET /v1/jobs/{job_id}/messages`: any authenticated agent that may see the job. */
export async function listJobMessages(
  context: AppContext,
  actor: Actor,
  jobId: string,
  query: ListMessagesQuery,
): Promise<MessageResponse[]> {
  const job = await findVisibleJob(context.pool, jobId, actor.id)
  const rows = await selectChannelMessages(
    context.pool,
    { jobId: job.id, assignmentId: null },
    { limit: query.limit, beforeId: query.before },
  )
  return withReactions(context.pool, rows, actor.id)
}

/** `POST /v1/messages/{message_id}/reactions`: toggles the caller's reaction on a message it may read. */
export async function toggleMessageReaction(
  context: AppContext,
  actor: Actor,
  messageId: string,
  emoji: ReactionEmoji,
): Promise<ToggleReactionResponse> {
  const message = await selectMessage(context.pool, messageId)
  const notFound = new NotFoundError('message_not_found', `message ${messageId} not found`)
  if (!message) throw notFound
  try {
    if (message.assignment_id) await findParticipantAssignment(context.pool, message.assignment_id, actor.id)
    else await findVisibleJob(context.pool, message.job_id, actor.id)
  } catch (error) {
    if (error instanceof NotFoundError) throw notFound
    throw error
  }
  const action = await toggleReaction(context.pool, message.id, actor.id, emoji)
  return { action, emoji, message_id: message.id }
}
