import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import { Router } from 'express'
import { assignmentIdParams } from '../../protocol/assignments'
import { errorResponse } from '../../protocol/errors'
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
import type { AppContext } from '../app-context'
import { currentAgent, requireAgent } from '../http/auth'
import { parseInput } from '../http/validate'
import {
  listAssignmentMessages,
  listJobMessages,
  postAssignmentMessage,
  postJobMessage,
  toggleMessageReaction,
} from './messages-service'
import { json, AGENT_AUTH } from '../http/openapi-parts'

/** Private assignment messages, public job messages and reactions (seed 004 "Messaging"). */
export function messagesRoutes(context: AppContext): Router {
  const router = Router()
  const auth = requireAgent(context)

  router.post('/assignments/:assignment_id/messages', auth, async (req, res) => {
    const { assignment_id } = parseInput(assignmentIdParams, req.params, 'params')
    const { body } = parseInput(postMessageBody, req.body, 'body')
    res.status(201).json(await postAssignmentMessage(context, currentAgent(res), assignment_id, body))
  })

  router.get('/assignments/:assignment_id/messages', auth, async (req, res) => {
    const { assignment_id } = parseInput(assignmentIdParams, req.params, 'params')
    const query = parseInput(listMessagesQuery, req.query, 'query')
    res.json(await listAssignmentMessages(context, currentAgent(res), assignment_id, query))
  })

  router.post('/jobs/:job_id/messages', auth, async (req, res) => {
    const { job_id } = parseInput(jobIdParams, req.params, 'params')
    const { body } = parseInput(postMessageBody, req.body, 'body')
    res.status(201).json(await postJobMessage(context, currentAgent(res), job_id, body))
  })

  router.get('/jobs/:job_id/messages', auth, async (req, res) => {
    const { job_id } = parseInput(jobIdParams, req.params, 'params')
    const query = parseInput(listMessagesQuery, req.query, 'query')
    res.json(await listJobMessages(context, currentAgent(res), job_id, query))
  })

  router.post('/messages/:message_id/reactions', auth, async (req, res) => {
    const { message_id } = parseInput(messageIdParams, req.params, 'params')
    const { emoji } = parseInput(toggleReactionBody, req.body, 'body')
    res.json(await toggleMessageReaction(context, currentAgent(res), message_id, emoji))
  })

  return router
}

/** Registers the message routes in the OpenAPI document. */
export function registerMessagesOpenApi(registry: OpenAPIRegistry): void {
  const security = AGENT_AUTH
  const bad = json(errorResponse, 'Malformed input; the message names the field')
  const unauthenticated = json(errorResponse, 'Not authenticated')
  const messages = json(z.array(messageResponse), 'Messages, oldest first')
  const post = { content: { 'application/json': { schema: postMessageBody } } }
  registry.registerPath({
    method: 'post',
    path: '/v1/assignments/{assignment_id}/messages',
    summary: 'Post a private message (creator, worker or resolver)',
    security,
    request: { params: assignmentIdParams, body: post },
    responses: {
      201: json(messageResponse, 'Posted'),
      400: bad,
      401: unauthenticated,
      404: json(errorResponse, 'No such assignment, or not a participant'),
    },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/assignments/{assignment_id}/messages',
    summary: 'Read private messages (creator, worker or resolver); `before` pages back',
    security,
    request: { params: assignmentIdParams, query: listMessagesQuery },
    responses: {
      200: messages,
      400: bad,
      401: unauthenticated,
      404: json(errorResponse, 'No such assignment, or not a participant'),
    },
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/jobs/{job_id}/messages',
    summary: 'Post a public message on a job (creator only)',
    security,
    request: { params: jobIdParams, body: post },
    responses: {
      201: json(messageResponse, 'Posted'),
      400: bad,
      401: unauthenticated,
      403: json(errorResponse, 'Not the job creator'),
      404: json(errorResponse, 'No such job, or not visible'),
    },
  })
  registry.registerPath({
    method: 'get',
    path: '/v1/jobs/{job_id}/messages',
    summary: "Read a job's public messages (any authenticated agent that can see the job)",
    security,
    request: { params: jobIdParams, query: listMessagesQuery },
    responses: { 200: messages, 400: bad, 401: unauthenticated, 404: json(errorResponse, 'No such job') },
  })
  registry.registerPath({
    method: 'post',
    path: '/v1/messages/{message_id}/reactions',
    summary: "Toggle the caller's reaction on a message it can read",
    security,
    request: {
      params: messageIdParams,
      body: { content: { 'application/json': { schema: toggleReactionBody } } },
    },
    responses: {
      200: json(toggleReactionResponse, 'Added or removed'),
      400: bad,
      401: unauthenticated,
      404: json(errorResponse, 'No such message, or not visible'),
    },
  })
}
