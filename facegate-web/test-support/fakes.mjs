// Test doubles shared by the SDK's tests: a scripted fetch, a recording sleep,
// an in-memory storage.

/** A JSON (or raw text) Response. */
export function reply(status, body, headers = {}) {
  const text = typeof body === 'string' ? body : body === undefined ? '' : JSON.stringify(body);
  return new Response(text === '' ? null : text, { status, headers: { 'content-type': 'application/json', ...headers } });
}

/**
 * A fetch that answers from a script, one entry per call: a Response, an
 * Error (rejects, as fetch does on network failure), or a function of the request.
 * `calls` records { url, method, headers, body }.
 */
export function scriptedFetch(...script) {
  const calls = [];
  const fetch = async (url, init = {}) => {
    calls.push({ url, method: init.method, headers: { ...init.headers }, body: init.body ? JSON.parse(init.body) : undefined });
    const next = script.length > 1 ? script.shift() : script[0];
    const answer = typeof next === 'function' ? next(url, init) : next;
    if (answer instanceof Error) throw answer;
    // A Response body can be read once; hand out a copy for repeated answers.
    return answer.clone();
  };
  return { fetch, calls };
}

export function recordingSleep() {
  const waits = [];
  const sleep = async (ms) => {
    waits.push(ms);
  };
  return { sleep, waits };
}

export function memoryStorage(initial = {}) {
  const map = new Map(Object.entries(initial));
  return {
    map,
    getItem: (key) => (map.has(key) ? map.get(key) : null),
    setItem: (key, value) => map.set(key, String(value)),
    removeItem: (key) => map.delete(key),
  };
}

export const API_KEY = 'fg_test_demo0000000000000000';
