/** Whether `value` is one http(s) URL: the scheme, no whitespace, and a URL the WHATWG parser takes. */
export function isHttpUrl(value: string): boolean {
  return /^https?:\/\/\S+$/i.test(value) && URL.canParse(value)
}
