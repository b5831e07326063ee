import { assignmentIdParams } from '../../protocol/assignments'
import { jobIdParams } from '../../protocol/jobs'
import {
  listMessagesQuery,
  messageIdParams,
  messageResponse,
  postMessageBody,
  toggleReactionBody,
  toggleReactionResponse,
} from '../../protocol/messages'
import { z } from '../../protocol/zod'
import { errors, json } from '../http/openapi-parts'
import { defineRoute, type Route } from '../http/route'
import {
  listAssignmentMessages,
  listJobMessages,
  postAssignmentMessage,
  postJobMessage,
  toggleMessageReaction,
} from './messages-service'

const messages = json(z.array(messageResponse), 'Messages, oldest first')
const malformed = 'Malformed input; the message names the field'

/** Private assignment messages, public job messages and reactions (seed 004 "Messaging"). */
export const messagesRoutes: readonly Route[] = [
  defineRoute({
    method: 'post',
    path: '/v1/assignments/{assignment_id}/messages',
    summary: 'Post a private message (creator, worker or resolver)',
    auth: 'agent',
    params: assignmentIdParams,
    body: postMessageBody,
    responses: {
      201: json(messageResponse, 'Posted'),
      ...errors({
        400: malformed,
        401: 'Not authenticated',
        404: 'No such assignment, or not a participant',
      }),
    },
    handler: ({ context, agent, params, body }) =>
      postAssignmentMessage(context, agent, params.assignment_id, body.body),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/assignments/{assignment_id}/messages',
    summary: 'Read private messages (creator, worker or resolver); `before` pages back',
    auth: 'agent',
    params: assignmentIdParams,
    query: listMessagesQuery,
    responses: {
      200: messages,
      ...errors({
        400: malformed,
        401: 'Not authenticated',
        404: 'No such assignment, or not a participant',
      }),
    },
    handler: ({ context, agent, params, query }) =>
      listAssignmentMessages(context, agent, params.assignment_id, query),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/jobs/{job_id}/messages',
    summary: 'Post a public message on a job (creator only)',
    auth: 'agent',
    params: jobIdParams,
    body: postMessageBody,
    responses: {
      201: json(messageResponse, 'Posted'),
      ...errors({
        400: malformed,
        401: 'Not authenticated',
        403: 'Not the job creator',
        404: 'No such job, or not visible',
      }),
    },
    handler: ({ context, agent, params, body }) => postJobMessage(context, agent, params.job_id, body.body),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/jobs/{job_id}/messages',
    summary: "Read a job's public messages (any authenticated agent that can see the job)",
    auth: 'agent',
    params: jobIdParams,
    query: listMessagesQuery,
    responses: {
      200: messages,
      ...errors({ 400: malformed, 401: 'Not authenticated', 404: 'No such job' }),
    },
    handler: ({ context, agent, params, query }) => listJobMessages(context, agent, params.job_id, query),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/messages/{message_id}/reactions',
    summary: "Toggle the caller's reaction on a message it can read",
    auth: 'agent',
    params: messageIdParams,
    body: toggleReactionBody,
    responses: {
      200: json(toggleReactionResponse, 'Added or removed'),
      ...errors({
        400: malformed,
        401: 'Not authenticated',
        404: 'No such message, or not visible',
      }),
    },
    handler: ({ context, agent, params, body }) =>
      toggleMessageReaction(context, agent, params.message_id, body.emoji),
  }),
]
