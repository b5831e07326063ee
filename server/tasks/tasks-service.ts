import { randomUUID } from 'node:crypto'
import { parseUnits } from 'viem'
import { jobTag } from '../../protocol/jobs'
import type { MicroJobResponse } from '../../protocol/micro-jobs'
import { MATCH_LIMIT_MAX } from '../../protocol/services'
import type {
  CreateTaskBody,
  ListTasksQuery,
  TaskPayment,
  TaskPaymentStatus,
  TaskResponse,
} from '../../protocol/tasks'
import type { AppContext } from '../app-context'
import type { Actor } from '../auth/actor'
import { ConflictError, NotFoundError } from '../errors'
import { callServiceForTask } from '../invoke/invoke-service'
import { formatUnits, parseTokenAmount } from '../jobs/job-tokens'
import { resolveToken } from '../ledger/tokens'
import { getMicroJob } from '../micro-jobs/micro-jobs-service'
import { findCallableService, matchServices, type CallableService } from '../services/services-service'
import { insertTask, selectTask, selectTaskPage, type TaskRow } from './tasks-queries'

/**
 * The services that can take a task for `capability` within `maxPrice`, best match first: enabled
 * services of other agents that the proxy can call (an endpoint and a listed price) in the token,
 * ranked by `/v1/match` on the capability as text and as a tag.
 */
async function routeCandidates(
  context: AppContext,
  actor: Actor,
  capability: string,
  token: { address: string },
  maxPrice: bigint,
): Promise<CallableService[]> {
  const asTag = jobTag.safeParse(capability)
  const { matches } = await matchServices(context, {
    query: capability,
    tags: asTag.success ? [asTag.data] : [],
    limit: MATCH_LIMIT_MAX,
  })
  const candidates: CallableService[] = []
  for (const match of matches) {
    let service: CallableService
    try {
      service = await findCallableService(context.pool, match.service_id, actor.id)
    } catch (error) {
      if (error instanceof NotFoundError) continue // disabled since it was matched
      throw error
    }
    const callable = service.endpointUrl !== null && service.priceAmount !== null
    const fits =
      service.token.address.toLowerCase() === token.address.toLowerCase() &&
      (service.priceAmount ?? 0n) <= maxPrice
    if (callable && fits && service.agentId !== actor.id) candidates.push(service)
  }
  return candidates
}

/**
 * `POST /v1/tasks` (seed 002): routes the task to the best-matching service priced within
 * `max_price` and calls it with the price held in escrow (a micro-job). The provider is paid once
 * it answers; when it fails or declares the task failed, the escrow goes back to the caller and
 * the task is `failed`. Either way the task is recorded and answered (201).
 */
export async function createTask(
  context: AppContext,
  actor: Actor,
  body: CreateTaskBody,
): Promise<TaskResponse> {
  const token = resolveToken(context, body.token, 'token')
  const maxPrice = parseTokenAmount(body.max_price, token.decimals, 'max_price')
  const [service] = await routeCandidates(context, actor, body.capability, token, maxPrice)
  if (!service) {
    throw new ConflictError(
      'no_matching_service',
      `no callable service of another agent offers ${body.capability} for at most ${formatUnits(maxPrice, token.decimals)} ${token.symbol}`,
      {
        details: {
          capability: body.capability,
          max_price: formatUnits(maxPrice, token.decimals),
          token: token.symbol,
        },
      },
    )
  }
  const call = await callServiceForTask(context, actor, service, body.input ?? null)
  const id = randomUUID()
  await insertTask(context.pool, {
    id,
    requester_agent_id: actor.id,
    capability: body.capability,
    max_price: maxPrice.toString(),
    token_symbol: token.symbol,
    token_decimals: token.decimals,
    service_id: service.id,
    service_name: service.name,
    provider_agent_id: service.agentId,
    price: service.priceAmount!.toString(),
    micro_job_id: call.microJobId,
    status: call.outcome,
    output: call.outcome === 'completed' ? call.output : null,
    failure_reason: call.outcome === 'failed' ? call.reason : null,
  })
  return toTaskResponse(context, actor, (await selectTask(context.pool, id))!)
}

function paymentStatus(microJob: MicroJobResponse | null): TaskPaymentStatus {
  if (!microJob) return 'free'
  if (microJob.status === 'completed') return 'released'
  return microJob.status === 'refunded' ? 'refunded' : 'held'
}

async function toPayment(context: AppContext, actor: Actor, task: TaskRow): Promise<TaskPayment> {
  const microJob = task.micro_job_id ? await getMicroJob(context, actor, task.micro_job_id) : null
  const status = paymentStatus(microJob)
  const amount = BigInt(task.price)
  const format = (units: bigint) => formatUnits(units, task.token_decimals)
  const fee = status === 'released' ? parseUnits(microJob!.fee_amount, task.token_decimals) : 0n
  return {
    task_id: task.id,
    payment_type: 'balance',
    status,
    amount: format(amount),
    fee_amount: format(fee),
    provider_amount: format(status === 'refunded' ? 0n : amount - fee),
    token: task.token_symbol,
    micro_job: microJob,
  }
}

async function toTaskResponse(context: AppContext, actor: Actor, task: TaskRow): Promise<TaskResponse> {
  return {
    task_id: task.id,
    id: task.id,
    requester_agent_id: task.requester_agent_id,
    capability: task.capability,
    max_price: formatUnits(task.max_price, task.token_decimals),
    token: task.token_symbol,
    service_id: task.service_id,
    service_name: task.service_name,
    provider_agent_id: task.provider_agent_id,
    status: task.status,
    output: task.output ?? null,
    result: task.output ?? null,
    failure_reason: task.failure_reason,
    payment: await toPayment(context, actor, task),
    created_at: task.created_at.toISOString(),
  }
}

/** The task if the caller requested or provided it; a 404 to anyone else. */
async function findPartyTask(context: AppContext, actor: Actor, taskId: string): Promise<TaskRow> {
  const task = await selectTask(context.pool, taskId)
  if (!task || (task.requester_agent_id !== actor.id && task.provider_agent_id !== actor.id)) {
    throw new NotFoundError('task_not_found', `task ${taskId} not found`)
  }
  return task
}

/** `GET /v1/tasks/{task_id}`: its requester and its provider. */
export async function getTask(context: AppContext, actor: Actor, taskId: string): Promise<TaskResponse> {
  return toTaskResponse(context, actor, await findPartyTask(context, actor, taskId))
}

/** `GET /v1/tasks/{task_id}/payments` (seed 002 "Get payment status for a task"). */
export async function getTaskPayment(
  context: AppContext,
  actor: Actor,
  taskId: string,
): Promise<TaskPayment> {
  return toPayment(context, actor, await findPartyTask(context, actor, taskId))
}

/** `GET /v1/tasks`: the caller's tasks as requester (default) or provider, newest first. */
export async function listTasks(
  context: AppContext,
  actor: Actor,
  query: ListTasksQuery,
): Promise<TaskResponse[]> {
  const rows = await selectTaskPage(
    context.pool,
    { agentId: actor.id, role: query.role, status: query.status },
    query,
  )
  return Promise.all(rows.map((row) => toTaskResponse(context, actor, row)))
}
