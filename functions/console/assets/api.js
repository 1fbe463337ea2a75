// The console's only way to the service: the public JSON API, with the
// signed-in user's own token, so the console can do nothing its user
// could not do with curl (docs/security.md 35).
//
// The access token lives only in this module. The refresh token lives
// here and in sessionStorage, so a reload in the same tab stays signed
// in; it is never written to localStorage, which outlives the tab and is
// shared by every tab of the origin.

const BASE = "/api/auth/v2";
const REFRESH_KEY = "authfn.refresh";

let access = null;
let refreshToken = readStored();
let refreshing = null; // the refresh in flight, shared by concurrent calls
let onSignedOut = () => {};

function readStored() {
  try {
    return sessionStorage.getItem(REFRESH_KEY);
  } catch {
    return null; // storage blocked: the sign-in lasts as long as the page
  }
}

function store(token) {
  refreshToken = token;
  try {
    if (token) sessionStorage.setItem(REFRESH_KEY, token);
    else sessionStorage.removeItem(REFRESH_KEY);
  } catch {
    // storage blocked: memory is enough for this page
  }
}

// ApiError is a problem document (RFC 9457) as an Error: status, code,
// detail and, for validation_failed, the field errors. status 0 means
// the API could not be reached at all.
export class ApiError extends Error {
  constructor(status, problem) {
    const p = problem && typeof problem === "object" ? problem : {};
    super(p.detail || `The API answered ${status}.`);
    this.status = status;
    this.code = p.code || (status === 0 ? "network" : "");
    this.detail = p.detail || this.message;
    this.errors = Array.isArray(p.errors) ? p.errors : [];
    this.mfaToken = p.mfa_token || null;
  }
}

// send makes one request and returns the JSON answer (null for 204).
async function send(method, path, body, token) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit", // the API authenticates by bearer token only
    });
  } catch {
    throw new ApiError(0, { detail: "The authfn API cannot be reached." });
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null; // a gateway's HTML error page: the status says enough
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// signIn keeps the tokens of a TokenPair and returns its user.
function signIn(pair) {
  access = pair.access_token;
  store(pair.refresh_token);
  return pair.user;
}

function signOutLocally() {
  access = null;
  store(null);
}

// setSignedOutHandler names what runs when the session is found gone
// (a refresh refused): the app shows the sign-in view.
export function setSignedOutHandler(fn) {
  onSignedOut = fn;
}

// hasStoredSession says whether a reload can resume a sign-in.
export function hasStoredSession() {
  return Boolean(refreshToken);
}

// login answers the user, or throws an ApiError; code mfa_required
// carries mfaToken for loginMFA.
export async function login(username, password) {
  return signIn(await send("POST", "/login", { username, password }));
}

export async function loginMFA(mfaToken, code) {
  return signIn(await send("POST", "/login/mfa", { mfa_token: mfaToken, code }));
}

// refresh rotates the refresh token and answers the user. Concurrent
// callers share one rotation: a second one with the same token would be
// refused as a conflict. A refusal (401) ends the sign-in; a network
// failure or 503 does not, so a retry can still resume it.
export function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      if (!refreshToken) throw new ApiError(401, { code: "invalid_token", detail: "Sign in first." });
      try {
        return signIn(await send("POST", "/refresh", { refresh_token: refreshToken }));
      } catch (err) {
        if (err.status === 401 || err.status === 409) signOutLocally();
        throw err;
      }
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

// call is an authenticated request. A 401 invalid_token (an expired
// access token) refreshes once and retries once; if that fails too, the
// sign-in view is shown. Other 401s (a wrong current password) are the
// caller's to show.
export async function call(method, path, body) {
  const used = access;
  try {
    return await send(method, path, body, used);
  } catch (err) {
    if (err.status !== 401 || err.code === "invalid_credentials") throw err;
  }
  try {
    if (access === used) await refresh(); // another call may have refreshed already
    return await send(method, path, body, access);
  } catch (err) {
    if (err.status === 401 && err.code !== "invalid_credentials") {
      signOutLocally();
      onSignedOut("Your session has ended. Sign in again.");
    }
    throw err;
  }
}

// logout ends this session on the server (best effort: the local tokens
// go either way).
export async function logout() {
  try {
    if (access) await send("POST", "/logout", {}, access);
  } catch {
    // an ended session or an unreachable API: forgetting locally is enough
  } finally {
    signOutLocally();
  }
}

// query builds "?a=1&b=2" from the set values of params.
export function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") q.set(key, String(value));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}
