import { randomUUID } from 'node:crypto'
import { parseUnits } from 'viem'
import type { AssignmentResponse } from '../../protocol/assignments'
import type { ReservationResponse } from '../../protocol/reservations'
import { JOB_LIMITS, jobTag } from '../../protocol/jobs'
import type { MicroJobResponse } from '../../protocol/micro-jobs'
import { MATCH_LIMIT_MAX } from '../../protocol/services'
import type {
  CompleteTaskBody,
  CreateTaskBody,
  FailTaskBody,
  ListTasksQuery,
  TaskPayment,
  TaskPaymentStatus,
  TaskResponse,
} from '../../protocol/tasks'
import type { AppContext } from '../app-context'
import type { Actor } from '../auth/actor'
import { findAssignment, type AssignmentRow } from '../assignments/assignment-records'
import { cancelAndRefundAssignment } from '../assignments/assignment-timers'
import { getAssignment, submitDeliverable } from '../assignments/assignments-service'
import type { Queryable } from '../db/pool'
import { withRetryingTransaction } from '../db/retrying-transaction'
import { publishEvent } from '../events/event-bus'
import { ConflictError, ForbiddenError, NotFoundError, UnauthorizedError } from '../errors'
import { createInstantJob } from '../instant-jobs/instant-jobs-service'
import { callServiceForTask } from '../invoke/invoke-service'
import { findJob, transitionJob, type JobRow } from '../jobs/job-records'
import { formatUnits, parseTokenAmount } from '../jobs/job-tokens'
import { feeFor } from '../ledger/ledger-service'
import { resolveToken } from '../ledger/tokens'
import { getMicroJob } from '../micro-jobs/micro-jobs-service'
import {
  completeReservation,
  createReservableJob,
  releaseReservation,
  reserveJob,
} from '../reservations/reservations-service'
import { matchCallableServices, type CallableService } from '../services/services-service'
import {
  finishTask,
  insertTask,
  selectAssignedTaskIds,
  selectOpenBoardTasks,
  selectTakenBoardTaskIds,
  selectTask,
  selectTaskPage,
  setTaskTaker,
  type TaskRow,
} from './tasks-queries'

/**
 * The services that can take a task for `capability` within `maxPrice`, best match first: enabled
 * services of other agents with a listed price in the token, ranked by `/v1/match` on the
 * capability as text and as a tag.
 */
async function routeCandidates(
  context: AppContext,
  actor: Actor,
  capability: string,
  token: { address: string },
  maxPrice: bigint,
): Promise<CallableService[]> {
  const asTag = jobTag.safeParse(capability)
  const services = await matchCallableServices(
    context,
    { query: capability, tags: asTag.success ? [asTag.data] : [], limit: MATCH_LIMIT_MAX },
    actor.id,
  )
  // Listed-price services only: an endpoint answers at once, one without works it as a job.
  return services.filter(
    (service) =>
      service.priceAmount !== null &&
      service.priceAmount <= maxPrice &&
      service.token.address.toLowerCase() === token.address.toLowerCase() &&
      service.agentId !== actor.id,
  )
}

/**
 * `POST /v1/tasks` (seed 002): routes the task to the best-matching service priced within
 * `max_price`. A service with an endpoint is called at once with the price held in escrow (a
 * micro-job): paid once it answers; when it fails or declares the task failed, the escrow goes
 * back and the task is `failed`. A service without one gets the task as an instant job for that
 * service alone (the price locked on the vault, `assigned`): its provider completes it through
 * `POST /v1/tasks/{id}/complete` (paid at once) or fails it (refunded), and a response time that
 * passes refunds it too. Either way the task is recorded and answered (201).
 */
export async function createTask(
  context: AppContext,
  actor: Actor,
  body: CreateTaskBody,
): Promise<TaskResponse> {
  const id =
    body.capability === undefined
      ? await postBoardTask(context, actor, body)
      : await routeTask(context, actor, body)
  return toTaskResponse(context, actor, (await selectTask(context.pool, id))!)
}

/** A routed task's board fields: none. */
const NOT_BOARD: Pick<
  TaskRow,
  'kind' | 'title' | 'description' | 'required_capabilities' | 'reservation_id'
> = {
  kind: 'routed',
  title: null,
  description: null,
  required_capabilities: [],
  reservation_id: null,
}

/** A routed task (`createTask`): returns its id. */
async function routeTask(context: AppContext, actor: Actor, body: CreateTaskBody): Promise<string> {
  const capability = body.capability!
  const token = resolveToken(context, body.token, 'token')
  const maxPrice = parseTokenAmount(body.max_price!, token.decimals, 'max_price')
  const [service] = await routeCandidates(context, actor, capability, token, maxPrice)
  if (!service) {
    throw new ConflictError(
      'no_matching_service',
      `no service of another agent offers ${capability} for at most ${formatUnits(maxPrice, token.decimals)} ${token.symbol}`,
      {
        details: {
          capability,
          max_price: formatUnits(maxPrice, token.decimals),
          token: token.symbol,
        },
      },
    )
  }
  const id = randomUUID()
  const task = {
    ...NOT_BOARD,
    id,
    requester_agent_id: actor.id,
    capability,
    max_price: maxPrice.toString(),
    token_symbol: token.symbol,
    token_decimals: token.decimals,
    service_id: service.id,
    service_name: service.name,
    provider_agent_id: service.agentId,
    price: service.priceAmount!.toString(),
  }
  if (service.endpointUrl === null) {
    const job = await createInstantJob(
      context,
      actor,
      {
        title: `Task: ${capability}`,
        description: taskDescription(body),
        budget_amount: formatUnits(service.priceAmount!, token.decimals),
        budget_token: token.symbol,
        service_id: service.id,
        auto_accept: true,
      },
      { namedServiceOnly: true },
    )
    await insertTask(context.pool, {
      ...task,
      micro_job_id: null,
      job_id: job.job_id,
      assignment_id: job.assignment_id,
      status: 'assigned',
      output: null,
      failure_reason: null,
    })
  } else {
    const call = await callServiceForTask(context, actor, service, body.input ?? null)
    await insertTask(context.pool, {
      ...task,
      micro_job_id: call.microJobId,
      job_id: null,
      assignment_id: null,
      status: call.outcome,
      output: call.outcome === 'completed' ? call.output : null,
      failure_reason: call.outcome === 'failed' ? call.reason : null,
    })
  }
  return id
}

/**
 * A task posted to the board (seed 001 "Post a new task"): a reservable job paying `budget` to
 * the agent that accepts and completes it, on the board until one does. The budget must be
 * available now; it is escrowed when an agent accepts. Returns its id.
 */
async function postBoardTask(context: AppContext, actor: Actor, body: CreateTaskBody): Promise<string> {
  const token = resolveToken(context, body.token, 'token')
  const budget = parseTokenAmount(body.budget!, token.decimals, 'budget', { positive: true })
  const description = body.description ?? body.title!
  const requiredCapabilities = [...new Set(body.required_capabilities ?? [])]
  const tags = requiredCapabilities.filter((capability) => jobTag.safeParse(capability).success)
  const deadlineSeconds = body.deadline_seconds ?? JOB_LIMITS.deadlineSecondsDefault
  const job = await createReservableJob(context, actor, {
    title: body.title!,
    description,
    tags,
    budget_amount: formatUnits(budget, token.decimals),
    budget_token: token.symbol,
    deadline_seconds: deadlineSeconds,
    // The board shows the whole task: nothing is private to its taker.
    private_instructions: description,
    reservation_seconds: deadlineSeconds,
    auto_accept: true,
  })
  const id = randomUUID()
  await withRetryingTransaction(context.pool, async (db) => {
    await insertTask(db, {
      id,
      kind: 'board',
      requester_agent_id: actor.id,
      capability: null,
      title: body.title!,
      description,
      required_capabilities: requiredCapabilities,
      max_price: budget.toString(),
      token_symbol: token.symbol,
      token_decimals: token.decimals,
      service_id: null,
      service_name: null,
      provider_agent_id: null,
      price: budget.toString(),
      micro_job_id: null,
      job_id: job.job_id,
      assignment_id: null,
      reservation_id: null,
      status: 'open',
      output: null,
      failure_reason: null,
    })
    const task = (await selectTask(db, id))!
    await publishEvent(db, {
      type: 'task.posted',
      // Seed 001's webhook: the agents whose tags or capabilities name a required capability hear of it.
      audience: [],
      data: {
        job_id: job.job_id,
        job_title: body.title!,
        description,
        tags: requiredCapabilities,
        budget: `${formatUnits(budget, token.decimals)} ${token.symbol}`,
        creator_agent_id: actor.id,
        task: {
          id,
          title: body.title!,
          description,
          budget: formatUnits(budget, token.decimals),
          token: token.symbol,
          required_capabilities: requiredCapabilities,
          created_at: task.created_at.toISOString(),
        },
      },
      feed: {
        event_type: 'job_created',
        job_id: job.job_id,
        job_title: body.title!,
        creator_account_id: actor.id,
        budget: `${formatUnits(budget, token.decimals)} ${token.symbol}`,
      },
    })
  })
  return id
}

/**
 * `POST /v1/tasks/{task_id}/accept` (seed 001 "Accept an open task"): the caller reserves the
 * board task's job, so its budget is escrowed from the poster; the task is `assigned` to it. Of
 * two agents accepting at once, one gets it (409 `task_not_open` for the other).
 */
export async function acceptTask(context: AppContext, actor: Actor, taskId: string): Promise<TaskResponse> {
  // A board task was public while open: anyone may learn it is taken. A routed one stays private.
  const task = await selectTask(context.pool, taskId)
  if (!task || (task.kind !== 'board' && !isTaskParty(task, actor))) {
    throw new NotFoundError('task_not_found', `task ${taskId} not found`)
  }
  if (task.kind !== 'board')
    throw new ConflictError('task_not_open', `task ${taskId} was routed to a service`)
  if (task.requester_agent_id === actor.id)
    throw new ForbiddenError('own_job', 'you cannot accept your own task')
  if (task.status !== 'open') throw new ConflictError('task_not_open', `task ${taskId} is ${task.status}`)
  let reservation: ReservationResponse
  try {
    reservation = await reserveJob(context, actor, task.job_id!)
  } catch (error) {
    if (error instanceof ConflictError && error.code === 'job_reserved') {
      throw new ConflictError('task_not_open', `task ${taskId} was accepted by another agent`)
    }
    throw error
  }
  await withRetryingTransaction(context.pool, async (db) => {
    await selectTask(db, taskId, { forUpdate: true })
    await setTaskTaker(db, taskId, {
      providerId: actor.id,
      assignmentId: reservation.assignment_id,
      reservationId: reservation.reservation_id,
    })
  })
  return toTaskResponse(context, actor, (await selectTask(context.pool, taskId))!)
}

/** The job a task is worked as describes it by its input, which its provider reads there. */
function taskDescription(body: CreateTaskBody): string {
  const input = body.input === undefined ? '(no input)' : JSON.stringify(body.input)
  return `Capability ${body.capability}. Input: ${input}`.slice(0, JOB_LIMITS.descriptionMax)
}

/** The task its provider works as a job, locked with its job (job first, as every job flow takes them). */
async function lockAssignedTask(
  db: Queryable,
  actor: Actor,
  taskId: string,
): Promise<{ task: TaskRow; job: JobRow; assignment: AssignmentRow }> {
  const found = await selectTask(db, taskId)
  if (!found || !isTaskParty(found, actor)) {
    throw new NotFoundError('task_not_found', `task ${taskId} not found`)
  }
  if (found.provider_agent_id !== actor.id) {
    throw new ForbiddenError('not_task_provider', 'only the task’s provider may complete or fail it')
  }
  if (found.job_id === null) {
    throw new ConflictError('task_not_assigned', `task ${taskId} was answered by its service’s endpoint`)
  }
  const job = (await findJob(db, found.job_id, { forUpdate: true }))!
  const task = (await selectTask(db, taskId, { forUpdate: true }))!
  const assignment = (await findAssignment(db, task.assignment_id!, { forUpdate: true }))!
  if (task.status !== 'assigned' || assignment.status !== 'in_progress') {
    throw new ConflictError('task_not_assigned', `task ${taskId} is ${effectiveStatus(task, assignment)}`)
  }
  return { task, job, assignment }
}

/**
 * `POST /v1/tasks/{task_id}/complete` (seed 002 "submits results via the complete endpoint"): the
 * provider's result (`output`, or seed 001's `result`) is its job's submission, which the job
 * accepts on arrival, releasing the escrow to the provider less the fee; the task is `completed`.
 */
export async function completeTask(
  context: AppContext,
  actor: Actor,
  taskId: string,
  body: CompleteTaskBody,
): Promise<TaskResponse> {
  const { task } = await withRetryingTransaction(context.pool, (db) => lockAssignedTask(db, actor, taskId))
  const output = body.output !== undefined ? body.output : body.result
  const deliverable = typeof output === 'string' ? output : JSON.stringify(output)
  // The submission takes the job's lock itself; a response time or a reservation window passing
  // meanwhile leaves the assignment cancelled, and the submission refused.
  if (task.kind === 'board') {
    await completeReservation(context, actor, task.job_id!, {
      reservation_id: task.reservation_id!,
      proof_text: deliverable,
    })
  } else {
    await submitDeliverable(context, actor, task.job_id!, {
      deliverable,
      deliverable_hash: undefined,
      criteria_answers: [],
    })
  }
  await withRetryingTransaction(context.pool, (db) => finishTask(db, taskId, { status: 'completed', output }))
  return toTaskResponse(context, actor, (await selectTask(context.pool, taskId))!)
}

/**
 * `POST /v1/tasks/{task_id}/fail`: the provider cannot do it. A routed task: in one transaction its
 * assignment is cancelled, the escrow sent back to the requester (`cancelAndRefundAssignment`),
 * its job closed, and the task `failed` with the reason. A board task: its taker gives it up, the
 * poster's escrow comes back, and it is `open` on the board again.
 */
export async function failTask(
  context: AppContext,
  actor: Actor,
  taskId: string,
  body: FailTaskBody,
): Promise<TaskResponse> {
  const found = await findPartyTask(context, actor, taskId)
  if (found.kind === 'board' && found.provider_agent_id === actor.id && found.status === 'assigned') {
    // A board task goes back on the board for another agent; its poster's escrow comes back.
    await releaseReservation(context, actor, found.reservation_id!)
    await withRetryingTransaction(context.pool, (db) => setTaskTaker(db, taskId, null))
    return toTaskResponse(context, actor, (await selectTask(context.pool, taskId))!)
  }
  await withRetryingTransaction(context.pool, async (db) => {
    const { task, job, assignment } = await lockAssignedTask(db, actor, taskId)
    await cancelAndRefundAssignment(db, context, job, assignment)
    await transitionJob(db, job.id, 'closed', 'cancelled')
    await finishTask(db, task.id, { status: 'failed', reason: body.reason })
  })
  return toTaskResponse(context, actor, (await selectTask(context.pool, taskId))!)
}

/**
 * A task worked as a job ends with its assignment: `completed` once its result was accepted,
 * `failed` once it was cancelled (its response time passed, or its provider failed it).
 */
function effectiveStatus(task: TaskRow, assignment: AssignmentRow | null): TaskRow['status'] {
  if (task.status !== 'assigned' || !assignment) return task.status
  if (assignment.status === 'accepted') return 'completed'
  if (assignment.status !== 'cancelled') return 'assigned'
  // A board task's taker let its window lapse: the task is back on the board.
  return task.kind === 'board' ? 'open' : 'failed'
}

/**
 * Writes down how assigned tasks ended since (a response time or a reservation window that
 * passed), so lists filter on the truth. Returns how many board tasks went back on the board.
 */
async function recordEndedTasks(context: AppContext, taskIds: string[]): Promise<number> {
  let reopened = 0
  for (const taskId of taskIds) {
    const task = (await selectTask(context.pool, taskId))!
    const assignment = task.assignment_id ? await findAssignment(context.pool, task.assignment_id) : null
    const status = effectiveStatus(task, assignment)
    if (status === 'open') {
      await withRetryingTransaction(context.pool, async (db) => {
        const locked = await selectTask(db, taskId, { forUpdate: true })
        if (locked?.assignment_id === task.assignment_id) await setTaskTaker(db, taskId, null)
      })
      reopened += 1
    } else if (status === 'failed') {
      await finishTask(context.pool, taskId, {
        status: 'failed',
        reason: 'the provider did not complete it within its service’s response time',
      })
    } else if (status === 'completed') {
      await finishTask(context.pool, taskId, { status: 'completed', output: assignment!.deliverable })
    }
  }
  return reopened
}

/** For the timers: board tasks whose taker let its reservation lapse go back on the board. Returns how many. */
export async function reopenLapsedBoardTasks(context: AppContext, limit = 100): Promise<number> {
  return recordEndedTasks(context, await selectTakenBoardTaskIds(context.pool, limit))
}

function paymentStatus(microJob: MicroJobResponse | null): TaskPaymentStatus {
  if (!microJob) return 'free'
  if (microJob.status === 'completed') return 'released'
  return microJob.status === 'refunded' ? 'refunded' : 'held'
}

/** Where a task worked as a job stands: its assignment's escrow held, released on acceptance, or refunded. */
function assignmentPaymentStatus(assignment: AssignmentResponse): TaskPaymentStatus {
  if (assignment.status === 'accepted') return 'released'
  return assignment.status === 'cancelled' ? 'refunded' : 'held'
}

/**
 * The task's payment as `reader` may see it. An anonymous reader only reaches open board tasks,
 * which hold no escrow yet: there is no micro-job or assignment to show it.
 */
async function toPayment(context: AppContext, reader: Actor | null, task: TaskRow): Promise<TaskPayment> {
  const microJob = task.micro_job_id && reader ? await getMicroJob(context, reader, task.micro_job_id) : null
  const assignment =
    task.assignment_id && reader ? await getAssignment(context, reader, task.assignment_id) : null
  const status = assignment
    ? assignmentPaymentStatus(assignment)
    : task.kind === 'board'
      ? 'pending'
      : paymentStatus(microJob)
  const amount = BigInt(task.price)
  const format = (units: bigint) => formatUnits(units, task.token_decimals)
  const fee =
    status !== 'released'
      ? 0n
      : assignment
        ? feeFor(amount, assignment.fee_bps)
        : parseUnits(microJob!.fee_amount, task.token_decimals)
  return {
    task_id: task.id,
    payment_type: 'balance',
    status,
    amount: format(amount),
    fee_amount: format(fee),
    provider_amount: format(status === 'refunded' || status === 'pending' ? 0n : amount - fee),
    token: task.token_symbol,
    micro_job: microJob,
    assignment,
  }
}

async function toTaskResponse(
  context: AppContext,
  reader: Actor | null,
  task: TaskRow,
): Promise<TaskResponse> {
  return {
    task_id: task.id,
    id: task.id,
    requester_agent_id: task.requester_agent_id,
    capability: task.capability,
    title: task.title,
    description: task.description,
    required_capabilities: task.required_capabilities,
    max_price: formatUnits(task.max_price, task.token_decimals),
    budget: formatUnits(task.max_price, task.token_decimals),
    token: task.token_symbol,
    service_id: task.service_id,
    service_name: task.service_name,
    provider_agent_id: task.provider_agent_id,
    assigned_to: task.provider_agent_id,
    status: task.status,
    output: task.output ?? null,
    result: task.output ?? null,
    failure_reason: task.failure_reason,
    payment: await toPayment(context, reader, task),
    created_at: task.created_at.toISOString(),
  }
}

/** Whether `actor` requested or provides the task. */
function isTaskParty(task: TaskRow, actor: Actor | null): boolean {
  return actor !== null && (task.requester_agent_id === actor.id || task.provider_agent_id === actor.id)
}

/**
 * The task if the caller requested or provided it, or it is open on the board (to anyone, without
 * credentials too, as seed 001's board is public); a 404 to anyone else.
 */
async function findPartyTask(context: AppContext, actor: Actor | null, taskId: string): Promise<TaskRow> {
  const task = await selectTask(context.pool, taskId)
  const isOnBoard = task?.kind === 'board' && task.status === 'open'
  if (!task || (!isOnBoard && !isTaskParty(task, actor))) {
    throw new NotFoundError('task_not_found', `task ${taskId} not found`)
  }
  return task
}

/** `GET /v1/tasks/{task_id}`: its requester and its provider; anyone while it is open on the board. */
export async function getTask(
  context: AppContext,
  actor: Actor | null,
  taskId: string,
): Promise<TaskResponse> {
  const task = await findPartyTask(context, actor, taskId)
  if (task.status !== 'assigned') return toTaskResponse(context, actor, task)
  // Its response time or its taker's window may have passed since: say how it stands now.
  await recordEndedTasks(context, [task.id])
  return toTaskResponse(context, actor, (await selectTask(context.pool, task.id))!)
}

/** `GET /v1/tasks/{task_id}/payments` (seed 002 "Get payment status for a task"). */
export async function getTaskPayment(
  context: AppContext,
  actor: Actor,
  taskId: string,
): Promise<TaskPayment> {
  return toPayment(context, actor, await findPartyTask(context, actor, taskId))
}

/**
 * `GET /v1/tasks`: with `status=open` the board (every agent's open tasks, those requiring
 * `capability` if given: seed 001 "List tasks"); otherwise the caller's tasks as requester
 * (default) or provider. Newest first.
 */
export async function listTasks(
  context: AppContext,
  actor: Actor | null,
  query: ListTasksQuery,
): Promise<TaskResponse[]> {
  if (query.status === 'open') {
    const rows = await selectOpenBoardTasks(context.pool, { capability: query.capability }, query)
    return Promise.all(rows.map((row) => toTaskResponse(context, actor, row)))
  }
  if (!actor) {
    throw new UnauthorizedError(
      'unauthorized',
      'status=open is the public board; your own tasks need credentials',
      {
        details: { reason: 'missing_credentials' },
      },
    )
  }
  await recordEndedTasks(context, await selectAssignedTaskIds(context.pool, actor.id))
  const rows = await selectTaskPage(
    context.pool,
    { agentId: actor.id, role: query.role, status: query.status },
    query,
  )
  return Promise.all(rows.map((row) => toTaskResponse(context, actor, row)))
}
