// Unit tests of web/popup.js under Node's own runner: node --test web/test/
// (tests/run_all.sh counts them in make test). The DOM is the small fake in
// fake_dom.mjs; the real browser runs in tests/integration/test_web.py.
import { test } from "node:test";
import assert from "node:assert/strict";

import { showPopup, decisionUrl, actionBody, safeUrl, parseAnswer, newKey } from "../popup.js";
import { fakeWindow, answer } from "./fake_dom.mjs";

const POPUP = { id: 7, title: "Spring sale", body: "Use code <b>SPRING</b>\nat checkout",
                image_url: "https://cdn.example/i.png", link_url: "/sale" };

function withPopup(popup = POPUP, more = {}) {
  return fakeWindow({ fetch: (url, init) => (init.method === "POST" ? answer(202, { ok: true })
                                                                    : answer(200, { popup })), ...more });
}

function dialogOf(win) {
  return win.document.find((e) => e.getAttribute && e.getAttribute("role") === "dialog")[0];
}

function form(body) {
  return Object.fromEntries(new URLSearchParams(body));
}

test("asks GET endpoint/popup with the visit's parameters, encoded", async () => {
  const { win, calls } = fakeWindow({ fetch: () => answer(200, { popup: null }) });
  await showPopup({ window: win, endpoint: "https://api.example/api/", uid: "a.b-c_1",
                    platform: "ios", version: "2.1", lang: "de" });
  assert.equal(calls.fetch.length, 1);
  assert.equal(calls.fetch[0].url,
               "https://api.example/api/popup?uid=a.b-c_1&platform=ios&version=2.1&lang=de");
  assert.equal(calls.fetch[0].init.credentials, "omit");
  assert.equal(decisionUrl({ endpoint: "/api", uid: "u" }), "/api/popup?uid=u&platform=web");
});

test("no popup: nothing is added to the page and the result is null", async () => {
  const { win } = fakeWindow({ fetch: () => answer(200, { popup: null }) });
  assert.equal(await showPopup({ window: win, uid: "u1" }), null);
  assert.equal(win.document.body.children.length, 0);
});

test("renders an accessible modal: dialog role, aria-modal, labelled by the title", async () => {
  const { win } = withPopup();
  const h = await showPopup({ window: win, uid: "u1" });
  assert.ok(h);
  const d = dialogOf(win);
  assert.equal(d.getAttribute("aria-modal"), "true");
  assert.equal(win.document.getElementById(d.getAttribute("aria-labelledby")).textContent, POPUP.title);
  assert.equal(win.document.getElementById(d.getAttribute("aria-describedby")).textContent, POPUP.body);
  const close = win.document.byClass("popupjs-close")[0];
  assert.equal(close.getAttribute("aria-label"), "Close");
  assert.equal(win.document.activeElement, close, "focus moves into the dialog");
});

test("title and body are text: markup appears literally and makes no element", async () => {
  const evil = { ...POPUP, title: "<img src=x onerror=alert(1)>", body: "<script>alert(2)</script>" };
  const { win } = withPopup(evil);
  await showPopup({ window: win, uid: "u1" });
  assert.equal(win.document.byClass("popupjs-title")[0].textContent, evil.title);
  assert.equal(win.document.byClass("popupjs-body")[0].textContent, evil.body);
  const tags = win.document.find(() => true).map((e) => e.tagName);
  assert.deepEqual(tags.filter((t) => t === "SCRIPT"), []);
  assert.equal(tags.filter((t) => t === "IMG").length, 1, "only the popup's own image_url");
});

test("unsafe image and link URLs are dropped; relative ones resolve against the page", async () => {
  const { win } = withPopup({ ...POPUP, image_url: "javascript:alert(1)", link_url: "JavaScript:alert(1)" });
  await showPopup({ window: win, uid: "u1" });
  assert.equal(win.document.byClass("popupjs-image").length, 0);
  assert.equal(win.document.byClass("popupjs-link").length, 0);
  assert.equal(safeUrl("/sale?x=1", "https://shop.example/a/b"), "https://shop.example/sale?x=1");
  assert.equal(safeUrl("data:text/html,hi", "https://shop.example/"), null);
  assert.equal(safeUrl("", "https://shop.example/"), null);
  assert.equal(safeUrl(5, "https://shop.example/"), null);
  const ok = withPopup();
  await showPopup({ window: ok.win, uid: "u1" });
  assert.equal(ok.win.document.byClass("popupjs-link")[0].getAttribute("href"), "https://shop.example/sale");
});

test("the link reports a click by beacon with an idempotency key and closes the dialog", async () => {
  const { win, calls } = withPopup();
  const h = await showPopup({ window: win, endpoint: "/api", uid: "u1" });
  win.document.byClass("popupjs-link")[0].click();
  const r = await h.reported;
  assert.equal(r.action, "click");
  assert.equal(r.via, "beacon");
  assert.equal(calls.beacon.length, 1);
  assert.equal(calls.beacon[0].url, "/api/popup/action?uid=u1");
  const f = form(calls.beacon[0].body);
  assert.deepEqual({ ...f, action_id: undefined },
                   { uid: "u1", popup_id: "7", action: "click", action_id: undefined });
  assert.match(f.action_id, /^[0-9a-f]{32}$/);
  assert.equal(dialogOf(win), undefined, "the dialog is gone");
});

test("Escape and the close button each report one ignore", async () => {
  for (const how of ["escape", "button"]) {
    const { win, calls } = withPopup();
    const before = win.document.createElement("button");
    win.document.body.appendChild(before);
    before.focus();
    const h = await showPopup({ window: win, uid: "u2" });
    if (how === "escape") assert.ok(win.document.key("Escape").defaultPrevented);
    else win.document.byClass("popupjs-close")[0].click();
    assert.equal((await h.reported).action, "ignore", how);
    // A second way out after the first changes nothing.
    win.document.key("Escape");
    assert.equal(calls.beacon.length, 1, how);
    assert.equal(form(calls.beacon[0].body).action, "ignore");
    assert.equal(win.document.activeElement, before, "focus returns to where it was");
  }
});

test("Tab and Shift+Tab stay inside the dialog", async () => {
  const { win } = withPopup();
  await showPopup({ window: win, uid: "u1" });
  const [close, link] = [win.document.byClass("popupjs-close")[0], win.document.byClass("popupjs-link")[0]];
  assert.equal(win.document.activeElement, close);
  assert.ok(win.document.key("Tab", true).defaultPrevented);  // Shift+Tab on the first wraps
  assert.equal(win.document.activeElement, link);
  assert.ok(win.document.key("Tab").defaultPrevented);        // Tab on the last wraps
  assert.equal(win.document.activeElement, close);
  assert.ok(!win.document.key("Tab").defaultPrevented);       // in between: the browser moves
  // Focus that escapes to the page behind is brought back.
  const outside = win.document.createElement("input");
  win.document.body.appendChild(outside);
  outside.focus();
  assert.equal(win.document.activeElement, close);
});

test("without sendBeacon the action goes by fetch with keepalive, text/plain, no preflight", async () => {
  const { win, calls } = withPopup(POPUP, { beacon: null });
  const h = await showPopup({ window: win, uid: "u3" });
  win.document.byClass("popupjs-close")[0].click();
  assert.equal((await h.reported).via, "fetch");
  const post = calls.fetch[1];
  assert.equal(post.init.method, "POST");
  assert.equal(post.init.keepalive, true);
  assert.equal(post.init.headers["Content-Type"], "text/plain;charset=UTF-8");
  assert.equal(form(post.init.body).action, "ignore");
});

test("a refused beacon falls back to fetch, and resends reuse the idempotency key", async () => {
  let posts = 0;
  const { win, calls } = fakeWindow({
    beacon: () => false,
    fetch: (url, init) => {
      if (init.method !== "POST") return answer(200, { popup: POPUP });
      posts += 1;
      if (posts === 1) throw new TypeError("network error");
      return posts === 2 ? answer(503, { error: "unavailable" }) : answer(202, { ok: true });
    },
  });
  const h = await showPopup({ window: win, uid: "u4" });
  win.document.byClass("popupjs-close")[0].click();
  const r = await h.reported;
  assert.equal(r.via, "fetch");
  assert.equal(calls.beacon.length, 1);
  const keys = calls.fetch.slice(1).map((c) => form(c.init.body).action_id);
  assert.equal(keys.length, 3);
  assert.equal(new Set(keys).size, 1, "one key for every resend");
  assert.equal(keys[0], r.key);
});

test("every popup shown gets its own key", () => {
  const keys = new Set(Array.from({ length: 50 }, () => newKey()));
  assert.equal(keys.size, 50);
  assert.equal(actionBody("u", 3, "click", "k"), "uid=u&popup_id=3&action=click&action_id=k");
});

test("a service that does not answer within the budget shows nothing, and the request is aborted", async () => {
  let signal;
  const { win } = fakeWindow({ fetch: (url, init) => { signal = init.signal; return new Promise(() => {}); } });
  const errors = [];
  const t0 = Date.now();
  const h = await showPopup({ window: win, uid: "u5", timeoutMs: 100, onError: (e) => errors.push(e) });
  const took = Date.now() - t0;
  assert.equal(h, null);
  assert.ok(took >= 90 && took < 2000, `gave up after ${took} ms`);
  assert.equal(signal.aborted, true);
  assert.match(String(errors[0]), /100 ms/);
  assert.equal(win.document.body.children.length, 0);
});

test("network errors, error statuses and malformed answers never throw", async () => {
  const bad = [
    () => { throw new TypeError("Failed to fetch"); },
    () => answer(503, { error: "unavailable" }),
    () => answer(200, "not json"),
    () => answer(200, { nope: 1 }),
    () => answer(200, { popup: { id: "7", title: "t", body: "b" } }),
    () => answer(200, { popup: { id: 7, title: null, body: "b" } }),
  ];
  for (const fetch of bad) {
    const { win } = fakeWindow({ fetch });
    assert.equal(await showPopup({ window: win, uid: "u6" }), null);
    assert.equal(win.document.body.children.length, 0);
  }
});

test("an invalid uid or a throwing onError never reaches the network or the page", async () => {
  for (const uid of [undefined, "", "a b", "x".repeat(65), "<script>"]) {
    const { win, calls } = fakeWindow({ fetch: () => answer(200, { popup: POPUP }) });
    assert.equal(await showPopup({ window: win, uid, onError: () => { throw new Error("host bug"); } }), null);
    assert.equal(calls.fetch.length, 0);
  }
  assert.equal(await showPopup(), null);
});

test("a broken page (no document) costs a null, not an exception", async () => {
  const { win } = withPopup();
  delete win.document;
  assert.equal(await showPopup({ window: win, uid: "u7" }), null);
});

test("the link shows the popup's button_text as text, else the page's linkText", async () => {
  const own = withPopup({ ...POPUP, button_text: "<b>Shop</b> now" });
  await showPopup({ window: own.win, uid: "u1", linkText: "Read more" });
  const link = own.win.document.byClass("popupjs-link")[0];
  assert.equal(link.textContent, "<b>Shop</b> now");
  assert.deepEqual(own.win.document.find((e) => e.tagName === "B"), []);
  for (const button_text of [undefined, "", "   "]) {
    const plain = withPopup({ ...POPUP, button_text });
    await showPopup({ window: plain.win, uid: "u1", linkText: "Read more" });
    assert.equal(plain.win.document.byClass("popupjs-link")[0].textContent, "Read more");
  }
});

test("parseAnswer keeps only the documented fields", () => {
  assert.equal(parseAnswer({ popup: null }), null);
  assert.deepEqual(parseAnswer({ popup: { id: 1, title: "t", body: "b", extra: 1 } }),
                   { id: 1, title: "t", body: "b", image_url: "", link_url: "", button_text: "" });
  assert.equal(parseAnswer({ popup: { id: 1, title: "t", body: "b", button_text: 5 } }).button_text, "");
  assert.throws(() => parseAnswer([]));
});

test("the default styles are injected once, and not at all with styles: false", async () => {
  const { win } = withPopup();
  await showPopup({ window: win, uid: "u1" });
  await showPopup({ window: win, uid: "u1" });
  assert.equal(win.document.find((e) => e.tagName === "STYLE").length, 1);
  const bare = withPopup();
  await showPopup({ window: bare.win, uid: "u1", styles: false });
  assert.equal(bare.win.document.find((e) => e.tagName === "STYLE").length, 0);
});

test("close() from the host removes the dialog without reporting anything", async () => {
  const { win, calls } = withPopup();
  const h = await showPopup({ window: win, uid: "u1" });
  h.close();
  assert.equal(await h.reported, null);
  assert.equal(calls.beacon.length, 0);
  assert.equal(dialogOf(win), undefined);
});
