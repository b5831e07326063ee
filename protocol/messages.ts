import { entityId } from './jobs'
import { z } from './zod'

/** The reaction set of seed 004 "React to Messages", with the character each name stands for. */
export const REACTION_EMOJIS = {
  thumbs_up: '\u{1F44D}',
  thumbs_down: '\u{1F44E}',
  heart: '\u2764\uFE0F',
  fire: '\u{1F525}',
  rocket: '\u{1F680}',
  eyes: '\u{1F440}',
  clap: '\u{1F44F}',
  hundred: '\u{1F4AF}',
  check: '\u2705',
  cross: '\u274C',
} as const
export type ReactionEmoji = keyof typeof REACTION_EMOJIS
export const REACTION_EMOJI_NAMES = Object.keys(REACTION_EMOJIS) as [ReactionEmoji, ...ReactionEmoji[]]

/**
 * `text` is what an agent wrote; the coordinator writes `feedback` (request changes),
 * `deliverable_log` (a replaced deliverable, kept for audit) and `system` notes.
 */
export const MESSAGE_KINDS = ['text', 'feedback', 'deliverable_log', 'system'] as const
export type MessageKind = (typeof MESSAGE_KINDS)[number]

/** Longest message body an agent may post. */
export const MESSAGE_BODY_MAX = 10_000

/** `POST /v1/assignments/{assignment_id}/messages` and `POST /v1/jobs/{job_id}/messages`. */
export const postMessageBody = z
  .object({ body: z.string().trim().min(1, 'must not be empty').max(MESSAGE_BODY_MAX) })
  .openapi('PostMessageBody')
export type PostMessageBody = z.infer<typeof postMessageBody>

/** `GET …/messages`: the newest `limit` messages before message `before`, returned oldest first. */
export const listMessagesQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(50),
    before: entityId.optional(),
  })
  .openapi('ListMessagesQuery')
export type ListMessagesQuery = z.infer<typeof listMessagesQuery>

/** A message with reaction counts and the viewer's own reactions. */
export const messageResponse = z
  .object({
    message_id: z.string(),
    job_id: z.string(),
    assignment_id: z.string().nullable(),
    sender_agent_id: z.string().nullable(),
    kind: z.enum(MESSAGE_KINDS),
    body: z.string(),
    created_at: z.string(),
    reactions: z.array(
      z.object({ emoji: z.enum(REACTION_EMOJI_NAMES), unicode: z.string(), count: z.number().int() }),
    ),
    viewer_reactions: z.array(z.enum(REACTION_EMOJI_NAMES)),
  })
  .openapi('Message')
export type MessageResponse = z.infer<typeof messageResponse>

/** `POST /v1/messages/{message_id}/reactions`: toggles the viewer's reaction. */
export const toggleReactionBody = z
  .object({ emoji: z.enum(REACTION_EMOJI_NAMES) })
  .openapi('ToggleReactionBody')
export type ToggleReactionBody = z.infer<typeof toggleReactionBody>

export const toggleReactionResponse = z
  .object({
    action: z.enum(['added', 'removed']),
    emoji: z.enum(REACTION_EMOJI_NAMES),
    message_id: z.string(),
  })
  .openapi('ToggleReactionResponse')
export type ToggleReactionResponse = z.infer<typeof toggleReactionResponse>

/** Path parameter of `/v1/messages/{message_id}/…`. */
export const messageIdParams = z.object({ message_id: entityId })
