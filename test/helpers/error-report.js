// What an error handler saw, as data: the differential tests' custom error handler answers with
// it, so a thrown value that reached the handler differently (another type, name, fields or
// cause) shows in the answer's bytes.
export function describeError (err) {
  const isObject = err !== null && (typeof err === 'object' || typeof err === 'function')
  return {
    type: typeof err,
    isError: err instanceof Error,
    name: isObject ? String(err.name) : null,
    keys: isObject ? Object.keys(err) : null,
    message: isObject ? String(err.message) : null,
    code: isObject ? String(err.code) : null,
    cause: isObject && 'cause' in err ? String(err.cause) : null,
    serialization: isObject && err.serialization !== undefined
  }
}
