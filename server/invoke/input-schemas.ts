import Ajv, { type ValidateFunction } from 'ajv'
import { ValidationError } from '../errors'

// A service's `input_schema`, compiled once per version of the service and checked on every call.

const ajv = new Ajv({ allErrors: true, strict: false, validateSchema: true })

// Keyed by service id; a changed service (new `updated_at`) compiles again.
const compiled = new Map<string, { version: number; validate: ValidateFunction | null }>()

// Enough for every active service of a busy coordinator; older entries are dropped first.
const MAX_COMPILED = 10_000

function validatorFor(service: {
  id: string
  inputSchema: Record<string, unknown> | null
  updatedAt: Date
}): ValidateFunction | null {
  const version = service.updatedAt.getTime()
  const cached = compiled.get(service.id)
  if (cached && cached.version === version) return cached.validate
  let validate: ValidateFunction | null = null
  if (service.inputSchema) {
    try {
      validate = ajv.compile(service.inputSchema)
    } catch {
      // The provider registered a schema no input can satisfy; every call is refused with why.
      validate = Object.assign(() => false, {
        errors: [{ instancePath: '', message: "the service's input_schema is not a valid JSON Schema" }],
      }) as unknown as ValidateFunction
    }
  }
  if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!)
  compiled.set(service.id, { version, validate })
  return validate
}

/** Checks a call's `input` against the service's `input_schema`; a 400 `invalid_input` naming each mismatch. */
export function checkCallInput(
  service: { id: string; inputSchema: Record<string, unknown> | null; updatedAt: Date },
  input: unknown,
): void {
  const validate = validatorFor(service)
  if (!validate || validate(input)) return
  const fields = (validate.errors ?? []).slice(0, 20).map((error) => ({
    field: `input${error.instancePath.replaceAll('/', '.')}`,
    message: error.message ?? 'is invalid',
  }))
  throw new ValidationError(
    'invalid_input',
    `input does not match the service's input_schema: ${fields.map((f) => `${f.field} ${f.message}`).join('; ')}`,
    { details: { where: 'body', fields } },
  )
}
