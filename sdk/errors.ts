/** An error the API answered (4xx or 5xx), with its `code` from the API's error catalogue. */
export class ClearhouseApiError extends Error {
  constructor(
    /** The HTTP status. */
    readonly status: number,
    /** The API's error code (`insufficient_balance`, `job_not_found`, …; see `ERROR_CATALOGUE`). */
    readonly code: string,
    message: string,
    /** The error's `details`, when the API gave any. */
    readonly details: unknown = null,
  ) {
    super(message)
    this.name = 'ClearhouseApiError'
  }
}

/** The coordinator could not be reached, or did not answer in time, after every retry. */
export class ClearhouseNetworkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ClearhouseNetworkError'
  }
}
