// The demo shop's own script: picks the visitor's uid and asks popup.js for
// a popup. ?uid=U chooses the visitor (else the one in localStorage, else a
// new random one); ?api=URL points at the API on another origin (that
// origin must then be in the service's cors_origins); ?lang=xx sets the
// language (else the browser's). The outcome is written to #popup-status
// and to <html data-popup="...">, which the browser test reads.
import { showPopup } from "./popup.js";

const params = new URLSearchParams(location.search);
const STORE = "northwind-uid";

function chooseUid() {
  const given = params.get("uid");
  if (given) return given;
  try {
    const kept = localStorage.getItem(STORE);
    if (kept) return kept;
  } catch (_) { /* storage disabled: a new visitor each time */ }
  return "visitor-" + Math.random().toString(36).slice(2, 10);
}

function status(state, text) {
  document.documentElement.dataset.popup = state;
  document.getElementById("popup-status").textContent = text;
}

const uid = chooseUid();
try { localStorage.setItem(STORE, uid); } catch (_) { /* see above */ }
const input = document.getElementById("uid");
input.value = uid;
document.getElementById("visitor").addEventListener("submit", (e) => {
  e.preventDefault();
  const next = new URLSearchParams(params);
  next.set("uid", input.value);
  location.search = next.toString();
});

const lang = params.get("lang") || (navigator.language || "").split("-")[0];
let why = "";
const handle = await showPopup({
  endpoint: params.get("api") || "/api",
  uid,
  lang: /^[A-Za-z]{2,8}$/.test(lang) ? lang : undefined,
  onError: (e) => { why = String(e && e.message || e); },
});
if (!handle) {
  status(why ? "error" : "none", why ? `No popup (${why}).` : `No popup for ${uid} right now.`);
} else {
  status("shown", `Popup ${handle.popup.id} shown to ${uid}.`);
  const r = await handle.reported;
  if (r) status(`${r.action}:${r.via}`, `Popup ${handle.popup.id}: ${r.action} sent (${r.via}).`);
}
