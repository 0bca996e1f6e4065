// popup.js: asks the popup service whether this visitor gets a popup now,
// shows it as an accessible modal dialog, and reports what the visitor did.
// A dependency-free ES module, used as is (no build step):
//
//   import { showPopup } from "/popup.js";
//   showPopup({ endpoint: "/api", uid: "alice", lang: "en" });
//
// Why it is shaped this way:
// - It must never break the host page. showPopup never throws and never
//   rejects; the question to the service has a time budget (800 ms by
//   default) after which it gives up silently and shows nothing.
// - Content is text. title, body and button_text (the link's label, the
//   page's linkText when a popup has none) are rendered with textContent, never as
//   HTML, so markup in them appears literally; image_url and link_url are
//   used only when they are http(s) URLs (or relative ones), so a
//   "javascript:" link can never run. This is the content contract in the
//   README: the service stores and returns the strings as they are, and
//   the client escapes them.
// - Actions survive the page going away: the link navigates, so the click is
//   sent with navigator.sendBeacon (queued by the browser), falling back to
//   fetch with keepalive. The body is a text/plain form string, which needs
//   no CORS preflight, and carries an idempotency key (action_id) that
//   every resend of the same action reuses, so the service records it once.
// - Escape and the close button mean "ignore", the link means "click"; one
//   action per popup at most.

const UID = /^[A-Za-z0-9._-]{1,64}$/;
const STYLE_ID = "popupjs-style";
const CSS = `
.popupjs-backdrop{position:fixed;inset:0;background:rgba(20,24,31,.55);display:flex;
 align-items:center;justify-content:center;z-index:2147483000;padding:16px}
.popupjs-dialog{position:relative;background:#fff;color:#1d232b;max-width:420px;width:100%;
 border-radius:12px;box-shadow:0 18px 48px rgba(0,0,0,.3);padding:28px 24px 22px;
 font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;box-sizing:border-box}
.popupjs-dialog:focus{outline:none}
.popupjs-image{display:block;max-width:100%;border-radius:8px;margin:0 0 14px}
.popupjs-title{font-size:1.35em;margin:0 28px 8px 0;line-height:1.25}
.popupjs-body{margin:0 0 18px;white-space:pre-line;overflow-wrap:anywhere}
.popupjs-link{display:inline-block;background:#0b6bcb;color:#fff;text-decoration:none;
 padding:10px 18px;border-radius:8px;font-weight:600}
.popupjs-link:focus-visible,.popupjs-close:focus-visible{outline:3px solid #f5a623;outline-offset:2px}
.popupjs-close{position:absolute;top:10px;right:10px;width:36px;height:36px;border:0;
 background:transparent;font-size:26px;line-height:1;cursor:pointer;color:#4a5560;border-radius:6px}
.popupjs-close:hover{background:#eef1f4}
`;

/**
 * Asks the service for this visitor's popup and shows it.
 *
 * options: endpoint (the API base, default "/api"; another origin needs it
 * in the service's cors_origins), uid (required, 1-64 of [A-Za-z0-9._-]),
 * platform ("web"), version, lang, timeoutMs (800), linkText ("Learn
 * more": the link's label for a popup without its own button_text), closeLabel ("Close"), styles (true: inject the default CSS once;
 * false when the host styles .popupjs-* itself, e.g. under a strict CSP),
 * retries (2: resends of an action that fetch could not deliver),
 * onError(error) (told why nothing was shown), window (for tests).
 *
 * Resolves to null when there is no popup or anything went wrong (bad
 * options, network error, timeout, a malformed answer), else to a handle
 * { popup, element, close(), reported } where `reported` resolves to
 * { action, via: "beacon" | "fetch" | "failed" } once an action was sent.
 * Never rejects.
 */
export async function showPopup(options = {}) {
  const o = { endpoint: "/api", platform: "web", timeoutMs: 800, linkText: "Learn more",
              closeLabel: "Close", styles: true, retries: 2, ...options };
  const win = o.window || globalThis;
  const fail = (error) => {
    try { if (typeof o.onError === "function") o.onError(error); } catch (_) { /* host's */ }
    return null;
  };
  try {
    if (typeof o.uid !== "string" || !UID.test(o.uid)) return fail(new Error("invalid uid"));
    const popup = await fetchDecision(win, o);
    if (!popup) return null;
    return render(win, o, popup);
  } catch (e) {
    return fail(e);
  }
}

/** The GET /api/popup URL for these options. */
export function decisionUrl(o) {
  const q = new URLSearchParams({ uid: o.uid, platform: o.platform || "web" });
  if (o.version) q.set("version", String(o.version));
  if (o.lang) q.set("lang", String(o.lang));
  return `${trimSlash(o.endpoint)}/popup?${q}`;
}

/** The POST /api/popup/action URL; the uid in the query lets nginx route by user. */
export function actionUrl(o) {
  return `${trimSlash(o.endpoint)}/popup/action?${new URLSearchParams({ uid: o.uid })}`;
}

/** A text/plain body in the form encoding: what sendBeacon sends for a string. */
export function actionBody(uid, popupId, action, key) {
  return new URLSearchParams({ uid, popup_id: String(popupId), action, action_id: key }).toString();
}

/** A new idempotency key: 32 hex digits, from crypto.getRandomValues when there is one. */
export function newKey(win = globalThis) {
  const bytes = new Uint8Array(16);
  const c = win.crypto;
  if (c && typeof c.getRandomValues === "function") c.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * `u` as an absolute http(s) URL (relative URLs resolve against `base`),
 * or null for anything else: "javascript:", "data:", malformed, not a string.
 */
export function safeUrl(u, base) {
  if (typeof u !== "string" || u.trim() === "") return null;
  try {
    const url = new URL(u, base);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch (_) {
    return null;
  }
}

/**
 * The popup of a decoded answer, or null for {"popup":null}. Throws on a
 * shape the service does not send (then nothing is shown).
 */
export function parseAnswer(answer) {
  if (!answer || typeof answer !== "object" || !("popup" in answer)) throw new Error("no popup field");
  const p = answer.popup;
  if (p === null) return null;
  if (!p || typeof p !== "object" || !Number.isInteger(p.id) || p.id < 1 ||
      typeof p.title !== "string" || typeof p.body !== "string") {
    throw new Error("malformed popup");
  }
  return { id: p.id, title: p.title, body: p.body,
           image_url: typeof p.image_url === "string" ? p.image_url : "",
           link_url: typeof p.link_url === "string" ? p.link_url : "",
           button_text: typeof p.button_text === "string" ? p.button_text.trim() : "" };
}

function trimSlash(s) {
  return String(s).replace(/\/+$/, "");
}

// The decision within the time budget: the request is aborted when the
// budget runs out, and a fetch that ignores the abort is not waited for.
async function fetchDecision(win, o) {
  const ctl = typeof win.AbortController === "function" ? new win.AbortController() : null;
  let timer;
  const budget = new Promise((_, reject) => {
    timer = win.setTimeout(() => {
      if (ctl) ctl.abort();
      reject(new Error(`no answer within ${o.timeoutMs} ms`));
    }, o.timeoutMs);
  });
  const ask = (async () => {
    const r = await win.fetch(decisionUrl(o), {
      method: "GET", credentials: "omit", cache: "no-store", signal: ctl ? ctl.signal : undefined,
    });
    if (r.status !== 200) throw new Error(`popup service answered ${r.status}`);
    return parseAnswer(await r.json());
  })();
  try {
    return await Promise.race([ask, budget]);
  } finally {
    win.clearTimeout(timer);
    ask.catch(() => {});  // an answer after the budget is dropped quietly
  }
}

// Sends one action: a beacon when the browser takes it, else fetch with
// keepalive, resent on a network error or a 5xx with the same key.
async function report(win, o, popupId, action) {
  const key = newKey(win);
  const url = actionUrl(o);
  const body = actionBody(o.uid, popupId, action, key);
  const nav = win.navigator;
  try {
    if (nav && typeof nav.sendBeacon === "function" && nav.sendBeacon(url, body)) {
      return { action, via: "beacon", key };
    }
  } catch (_) { /* a beacon refused by the browser: fall back to fetch */ }
  for (let attempt = 0; attempt <= o.retries; attempt++) {
    try {
      const r = await win.fetch(url, {
        method: "POST", body, keepalive: true, credentials: "omit",
        headers: { "Content-Type": "text/plain;charset=UTF-8" },
      });
      if (r.status < 500) return { action, via: r.status === 202 ? "fetch" : "failed", key };
    } catch (_) { /* network error: resend with the same key */ }
    if (attempt < o.retries) await new Promise((res) => win.setTimeout(res, 200 * (attempt + 1)));
  }
  return { action, via: "failed", key };
}

function injectStyles(doc) {
  if (doc.getElementById(STYLE_ID)) return;
  const style = doc.createElement("style");
  style.id = STYLE_ID;
  style.textContent = CSS;
  (doc.head || doc.body).appendChild(style);
}

function el(doc, tag, className, text) {
  const e = doc.createElement(tag);
  e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

// Builds the dialog, traps focus in it and wires the three ways out.
function render(win, o, popup) {
  const doc = win.document;
  if (o.styles) injectStyles(doc);
  const n = popup.id + "-" + newKey(win).slice(0, 8);
  const backdrop = el(doc, "div", "popupjs-backdrop");
  const dialog = el(doc, "div", "popupjs-dialog");
  dialog.setAttribute("role", "dialog");
  dialog.setAttribute("aria-modal", "true");
  dialog.setAttribute("aria-labelledby", "popupjs-title-" + n);
  dialog.setAttribute("aria-describedby", "popupjs-body-" + n);
  dialog.setAttribute("tabindex", "-1");
  dialog.setAttribute("data-popup-id", String(popup.id));
  const close = el(doc, "button", "popupjs-close", "\u00d7");
  close.setAttribute("type", "button");
  close.setAttribute("aria-label", o.closeLabel);
  dialog.appendChild(close);
  const image = safeUrl(popup.image_url, win.location && win.location.href);
  if (image) {
    const img = el(doc, "img", "popupjs-image");
    img.setAttribute("alt", "");
    img.addEventListener("error", () => img.remove());
    img.setAttribute("src", image);
    dialog.appendChild(img);
  }
  const title = el(doc, "h2", "popupjs-title", popup.title);
  title.id = "popupjs-title-" + n;
  dialog.appendChild(title);
  const body = el(doc, "p", "popupjs-body", popup.body);
  body.id = "popupjs-body-" + n;
  dialog.appendChild(body);
  const href = safeUrl(popup.link_url, win.location && win.location.href);
  let link = null;
  if (href) {
    // The popup's own label when it has one, as text; else the page's.
    link = el(doc, "a", "popupjs-link", popup.button_text || o.linkText);
    link.setAttribute("href", href);
    dialog.appendChild(link);
  }
  backdrop.appendChild(dialog);

  const focusables = link ? [close, link] : [close];
  const before = doc.activeElement;
  let settle;
  const reported = new Promise((res) => { settle = res; });
  let done = false;
  const finish = (action) => {
    if (done) return;
    done = true;
    doc.removeEventListener("keydown", onKey, true);
    doc.removeEventListener("focusin", onFocusIn, true);
    backdrop.remove();
    if (before && typeof before.focus === "function") before.focus();
    if (!action) { settle(null); return; }
    report(win, o, popup.id, action).then(settle, () => settle({ action, via: "failed" }));
  };
  const onKey = (e) => {
    if (e.key === "Escape" || e.key === "Esc") {
      e.preventDefault();
      finish("ignore");
    } else if (e.key === "Tab") {
      const first = focusables[0], last = focusables[focusables.length - 1];
      const at = doc.activeElement;
      if (e.shiftKey && (at === first || !dialog.contains(at))) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && (at === last || !dialog.contains(at))) {
        e.preventDefault();
        first.focus();
      }
    }
  };
  // Focus that leaves the dialog some other way (a click outside, a script)
  // is brought back: the page behind is inert while the dialog is open.
  const onFocusIn = (e) => {
    if (!dialog.contains(e.target)) close.focus();
  };
  close.addEventListener("click", () => finish("ignore"));
  // The link's default action (navigation) goes ahead; the beacon outlives it.
  if (link) link.addEventListener("click", () => finish("click"));
  doc.addEventListener("keydown", onKey, true);
  doc.addEventListener("focusin", onFocusIn, true);
  doc.body.appendChild(backdrop);
  close.focus();
  return { popup, element: dialog, reported, close: () => finish(null) };
}
