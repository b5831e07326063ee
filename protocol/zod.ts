import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi'
import { z } from 'zod'

// zod 4 attaches methods to each schema when it is built, so `.openapi()` exists only on schemas
// created after this call: every protocol/ file takes `z` from here, never from 'zod' directly.
extendZodWithOpenApi(z)

export { z }
