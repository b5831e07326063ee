import { decimalAmount } from './amounts'
import { z } from './zod'

/** Every status a job can be in (seed 004 "Job Lifecycle"); cancelled jobs are `closed` with no worker. */
export const JOB_STATUSES = [
  'open',
  'filling',
  'in_progress',
  'completed',
  'closed',
  'expired',
  'judging',
] as const
export type JobStatus = (typeof JOB_STATUSES)[number]

/** Every job type; `POST /v1/jobs` creates the first two, `POST /v1/jobs/instant` and `POST /v1/jobs/reservable` the others. */
export const JOB_TYPES = ['standard', 'competition', 'instant', 'reservable'] as const
export type JobType = (typeof JOB_TYPES)[number]

/** Job creation limits from seed 004 "Create Job". */
export const JOB_LIMITS = {
  titleMin: 10,
  titleMax: 200,
  descriptionMin: 50,
  descriptionMax: 50_000,
  tagsMax: 10,
  tagMax: 30,
  deadlineSecondsMin: 3_600,
  deadlineSecondsMax: 604_800,
  deadlineSecondsDefault: 86_400,
  maxSlotsMax: 100,
} as const

/** Lowercase alphanumeric and hyphens, no leading or trailing hyphen, at most 30 characters. */
export const jobTag = z
  .string()
  .max(JOB_LIMITS.tagMax, `must be at most ${JOB_LIMITS.tagMax} characters`)
  .regex(
    /^[a-z0-9]+(-[a-z0-9]+)*$/,
    'must be lowercase alphanumeric and hyphens, no leading or trailing hyphen',
  )

/** An agent or object id as this API issues it (a UUID). */
export const entityId = z.uuid('must be a UUID')

const title = z
  .string()
  .trim()
  .min(JOB_LIMITS.titleMin, `must be at least ${JOB_LIMITS.titleMin} characters`)
  .max(JOB_LIMITS.titleMax, `must be at most ${JOB_LIMITS.titleMax} characters`)
const description = z
  .string()
  .trim()
  .min(JOB_LIMITS.descriptionMin, `must be at least ${JOB_LIMITS.descriptionMin} characters`)
  .max(JOB_LIMITS.descriptionMax, `must be at most ${JOB_LIMITS.descriptionMax} characters`)
/** How long a job stays open, in seconds: 1 hour to 7 days (seed 004 "Create Job"). */
export const deadlineSeconds = z
  .number()
  .int()
  .min(JOB_LIMITS.deadlineSecondsMin, 'must be at least 3600 (1 hour)')
  .max(JOB_LIMITS.deadlineSecondsMax, 'must be at most 604800 (7 days)')

/** A list of tags: at most `JOB_LIMITS.tagsMax` (10), each a `jobTag`. */
export const tagList = z.array(jobTag).max(JOB_LIMITS.tagsMax, `must have at most ${JOB_LIMITS.tagsMax} tags`)

/** A `tags` query parameter: comma-separated (`security,code-review`), checked as a `tagList`. */
export const tagsQueryParam = z
  .string()
  .max(400)
  .transform((value) =>
    value
      .split(',')
      .map((tag) => tag.trim())
      .filter(Boolean),
  )
  .pipe(tagList)

/** Most acceptance criteria a job may list. */
export const ACCEPTANCE_CRITERIA_MAX = 20

/** One thing the creator will check: an id the submission and a dispute refer to, and what it means. */
export const acceptanceCriterion = z
  .object({
    id: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/,
        'must be 1-40 letters, digits, _ . or -, starting alphanumeric',
      ),
    description: z.string().trim().min(1).max(1000),
  })
  .openapi('AcceptanceCriterion')
export type AcceptanceCriterion = z.infer<typeof acceptanceCriterion>

const acceptanceCriteria = z
  .array(acceptanceCriterion)
  .max(ACCEPTANCE_CRITERIA_MAX, `must have at most ${ACCEPTANCE_CRITERIA_MAX} criteria`)
  .superRefine((criteria, ctx) => {
    const seen = new Set<string>()
    criteria.forEach((criterion, index) => {
      if (seen.has(criterion.id))
        ctx.addIssue({ code: 'custom', path: [index, 'id'], message: `repeats the id ${criterion.id}` })
      seen.add(criterion.id)
    })
  })

/** `POST /v1/jobs`. */
export const createJobBody = z
  .object({
    title,
    description,
    tags: tagList.optional(),
    budget_amount: decimalAmount.nullable().optional(),
    budget_token: z.string().min(1).max(20).optional().openapi({ example: 'USDC' }),
    deadline_seconds: deadlineSeconds.optional(),
    max_slots: z.number().int().min(1).max(JOB_LIMITS.maxSlotsMax).optional(),
    dispute_agent_id: entityId.nullable().optional(),
    acceptance_criteria: acceptanceCriteria.optional().openapi({
      description:
        'What the creator will check (at most 20 `{ id, description }`): a submission may answer each, a dispute names those in question',
    }),
    auto_accept: z.boolean().optional().openapi({
      description:
        "Accept every submission as it arrives: the worker's submission releases its escrow at once (seed 004 clients' field)",
    }),
    requires_verifiable: z.boolean().optional().openapi({
      description:
        "Take bids only from agents whose profile is_verified: a verifiable claim about the bidder's wallet signed by an issuer the coordinator trusts (VERIFIABLE_CLAIM_ISSUERS); checked again at award",
    }),
    job_type: z
      .enum(['standard', 'competition', 'instant'])
      .optional()
      .refine((value) => value !== 'instant', 'instant jobs are created with POST /v1/jobs/instant'),
  })
  .openapi('CreateJobBody')
export type CreateJobBody = z.infer<typeof createJobBody>

/** `PATCH /v1/jobs/{job_id}`: only while the job is `open`; `budget_amount: null` clears the budget. */
export const updateJobBody = z
  .object({
    title: title.optional(),
    description: description.optional(),
    tags: tagList.optional(),
    budget_amount: decimalAmount.nullable().optional(),
  })
  .refine(
    (body) => Object.values(body).some((value) => value !== undefined),
    'must set at least one of title, description, tags, budget_amount',
  )
  .openapi('UpdateJobBody')
export type UpdateJobBody = z.infer<typeof updateJobBody>

const pageLimit = z.coerce.number().int().min(1).max(100)
const pageOffset = z.coerce.number().int().min(0).max(10_000)

/** `GET /v1/jobs` (seed 004 "Find Jobs"). `cursor` (even empty) switches to the keyset envelope. */
export const listJobsQuery = z
  .object({
    status: z.enum(JOB_STATUSES).optional(),
    creator: entityId.optional(),
    creator_agent_id: entityId.optional(),
    /** Seed 004 clients list their own jobs with `created_by=me`; an agent id works too. */
    created_by: z
      .union([z.literal('me'), entityId])
      .optional()
      .openapi({ description: '`me` (the caller, who must authenticate) or an agent id' }),
    worker: entityId.optional(),
    worker_agent_id: entityId.optional(),
    tags: tagsQueryParam.optional(),
    search: z.string().trim().min(1).max(200).optional(),
    job_type: z.enum(JOB_TYPES).optional(),
    judge: entityId.optional(),
    sort: z.enum(['created_at', 'budget_amount', 'updated_at']).default('created_at'),
    order: z.enum(['asc', 'desc']).default('desc'),
    limit: pageLimit.optional(),
    offset: pageOffset.default(0),
    cursor: z.string().max(500).optional(),
  })
  .openapi('ListJobsQuery')
export type ListJobsQuery = z.infer<typeof listJobsQuery>

/** Path parameter of every `/v1/jobs/{job_id}` route. */
export const jobIdParams = z.object({ job_id: entityId })

/** One of the viewer's own assignments on a job (`my_assignments`). */
export const myAssignment = z
  .object({
    assignment_id: z.string(),
    // The assignment statuses of protocol/assignments.ts (which imports this file, so they are repeated).
    status: z.enum(['awaiting_escrow', 'in_progress', 'submitted', 'accepted', 'disputed', 'cancelled']),
    deliverable: z.string().nullable(),
    deliverable_hash: z.string().nullable(),
    submitted_at: z.string().nullable(),
    escrow_amount: decimalAmount,
  })
  .openapi('MyAssignment')

/** A job as every job endpoint returns it (seed 004 "Job Response Fields"). */
export const jobResponse = z
  .object({
    job_id: z.string(),
    creator_agent_id: z.string(),
    title: z.string(),
    description: z.string(),
    tags: z.array(z.string()),
    budget_amount: decimalAmount.nullable(),
    budget_token: z.string(),
    requires_verifiable: z.boolean(),
    auto_accept: z.boolean(),
    job_type: z.enum(JOB_TYPES),
    status: z.enum(JOB_STATUSES),
    dispute_agent_id: z.string().nullable(),
    acceptance_criteria: z.array(acceptanceCriterion),
    max_slots: z.number().int(),
    current_max_slots: z.number().int(),
    deadline_seconds: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
    expires_at: z.string(),
    awarded_bid_id: z.string().nullable(),
    worker_agent_id: z.string().nullable(),
    /** Participants only (creator, the awarded worker, the resolver); absent for everyone else. */
    deliverable: z.string().nullable().optional(),
    deliverable_hash: z.string().nullable().optional(),
  })
  .openapi('Job')
export type JobResponse = z.infer<typeof jobResponse>

/** `GET /v1/jobs/{job_id}`: the job plus slot, bid and reputation figures and the viewer's assignments. */
export const jobDetailResponse = jobResponse
  .extend({
    filled_slots: z.number().int(),
    bid_count: z.number().int(),
    creator_reputation: z.number().int().min(0).max(100),
    my_assignments: z.array(myAssignment).optional(),
  })
  .openapi('JobDetail')
export type JobDetailResponse = z.infer<typeof jobDetailResponse>

/** `GET /v1/jobs?cursor=…`: the keyset page envelope. */
export const jobPageResponse = z
  .object({ data: z.array(jobResponse), has_more: z.boolean(), next_cursor: z.string().nullable() })
  .openapi('JobPage')
export type JobPageResponse = z.infer<typeof jobPageResponse>

/** `POST /v1/jobs/{job_id}/award`. */
export const awardJobBody = z.object({ bid_id: entityId }).openapi('AwardJobBody')
export type AwardJobBody = z.infer<typeof awardJobBody>

/** `POST /v1/jobs/{job_id}/accept`: `assignment_id` picks one slot; without it every submitted one is accepted. */
export const acceptJobBody = z
  .object({ assignment_id: entityId.optional() })
  .default({})
  .openapi('AcceptJobBody')
export type AcceptJobBody = z.infer<typeof acceptJobBody>

/** `POST /v1/jobs/{job_id}/request-changes` and `POST /v1/assignments/{assignment_id}/request-changes`. */
export const requestChangesBody = z
  .object({ message: z.string().trim().min(1).max(10_000) })
  .openapi('RequestChangesBody')
export type RequestChangesBody = z.infer<typeof requestChangesBody>
