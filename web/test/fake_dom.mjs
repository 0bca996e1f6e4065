// A small fake of the DOM and window that popup.js touches, for its unit
// tests under Node (the real browser is tested end to end in
// tests/integration/test_web.py). Elements keep text as text: setting
// innerHTML throws, so a test fails if popup.js ever parses content as HTML.

class FakeElement {
  constructor(doc, tag) {
    this.ownerDocument = doc;
    this.tagName = tag.toUpperCase();
    this.children = [];
    this.parent = null;
    this.attributes = {};
    this.listeners = {};
    this.className = "";
    this.id = "";
    this._text = "";
  }
  set textContent(v) { this._text = String(v); this.children = []; }
  get textContent() { return this._text + this.children.map((c) => c.textContent).join(""); }
  set innerHTML(_) { throw new Error("innerHTML must not be used"); }
  get innerHTML() { throw new Error("innerHTML must not be used"); }
  insertAdjacentHTML() { throw new Error("insertAdjacentHTML must not be used"); }
  setAttribute(k, v) { this.attributes[k] = String(v); }
  getAttribute(k) { return k in this.attributes ? this.attributes[k] : null; }
  appendChild(c) { c.parent = this; this.children.push(c); return c; }
  remove() {
    if (!this.parent) return;
    this.parent.children = this.parent.children.filter((c) => c !== this);
    this.parent = null;
  }
  contains(other) {
    for (let e = other; e; e = e.parent) if (e === this) return true;
    return false;
  }
  addEventListener(type, fn) { (this.listeners[type] ||= []).push(fn); }
  removeEventListener(type, fn) {
    this.listeners[type] = (this.listeners[type] || []).filter((f) => f !== fn);
  }
  dispatch(type, props = {}) {
    const ev = { type, target: this, defaultPrevented: false, preventDefault() { this.defaultPrevented = true; }, ...props };
    for (const fn of [...(this.listeners[type] || [])]) fn(ev);
    return ev;
  }
  click() { return this.dispatch("click"); }
  focus() {
    this.ownerDocument.activeElement = this;
    this.ownerDocument.dispatch("focusin", { target: this });
  }
  *walk() {
    yield this;
    for (const c of this.children) yield* c.walk();
  }
  // Elements under this one (itself included) whose tag or class matches.
  find(pred) { return [...this.walk()].filter(pred); }
}

export class FakeDocument extends FakeElement {
  constructor() {
    super(null, "#document");
    this.ownerDocument = this;
    this.head = this.appendChild(new FakeElement(this, "head"));
    this.body = this.appendChild(new FakeElement(this, "body"));
    this.activeElement = this.body;
  }
  createElement(tag) { return new FakeElement(this, tag); }
  getElementById(id) { return this.find((e) => e.id === id)[0] || null; }
  byClass(name) { return this.find((e) => e.className === name); }
  // A key press as the browser delivers it to the capturing listeners.
  key(key, shiftKey = false) { return this.dispatch("keydown", { key, shiftKey, target: this.activeElement }); }
}

// A Response-like answer.
export function answer(status, body) {
  return { status, json: async () => (typeof body === "string" ? JSON.parse(body) : body) };
}

// window for showPopup({window}): fetch and sendBeacon are recorded in
// `calls`; `fetch` answers with the given function.
export function fakeWindow({ fetch, beacon = () => true, href = "https://shop.example/" } = {}) {
  const calls = { fetch: [], beacon: [] };
  const win = {
    document: new FakeDocument(),
    location: { href },
    crypto: globalThis.crypto,
    AbortController,
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (t) => clearTimeout(t),
    fetch: async (url, init = {}) => {
      calls.fetch.push({ url, init });
      return fetch(url, init, calls.fetch.length);
    },
    navigator: beacon === null ? {} : {
      sendBeacon: (url, body) => {
        calls.beacon.push({ url, body });
        return beacon(url, body);
      },
    },
  };
  return { win, calls };
}
