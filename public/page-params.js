// @ts-check
// The request's parameters a link carries (`?params=`, a JSON object), read. Pure: the page
// and the unit tests use the same code.

/**
 * A JSON object, or none; or why the link's parameters are not one: a typo in a link must not
 * quietly make the file with the job's defaults.
 *
 * @param {string} search  `location.search`
 * @returns {{ params: Record<string, unknown> | null } | { problem: string }}
 */
export function readParams(search) {
  const text = new URLSearchParams(search).get('params')
  if (text === null) return { params: null }
  let value
  try {
    value = JSON.parse(text)
  } catch {
    return { problem: 'they are not valid JSON' }
  }
  return value && typeof value === 'object' && !Array.isArray(value)
    ? { params: value }
    : { problem: 'they are not a JSON object ({"name": value, …})' }
}
