/* newsflow web page: helpers shared by the overview and the topic page.
 *
 * Safety rule: everything that comes from the API (topic labels come from news feeds) reaches the
 * page only as text nodes or attribute values set through the DOM — never as markup — and links
 * are only followed when they are http(s). No HTML-parsing DOM sink is used anywhere.
 */
"use strict";

const NF = (() => {
  const KEY_STORAGE = "newsflow-api-key";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const body = document.body;
  const apiBase = body.dataset.apiBase || "/api/v1";

  /** An element with attributes and children (strings become text nodes). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  /** An SVG element (same contract as el). */
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function setAttrs(node, attrs) {
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = String(value);
      else if (name === "className") node.setAttribute("class", value);
      else if (name === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
  }

  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  /** Replaces all children of a node. */
  function fill(node, ...children) {
    node.replaceChildren();
    append(node, children);
    return node;
  }

  /** The URL when it is http(s), else null: a feed cannot smuggle javascript: or data: links in. */
  function safeHref(url) {
    if (typeof url !== "string" || url === "") return null;
    try {
      const parsed = new URL(url, window.location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (_err) {
      return null;
    }
  }

  function topicHref(id) {
    return "/topics/" + encodeURIComponent(String(Number(id)));
  }

  function topicLink(id) {
    return el("a", { href: topicHref(id), className: "topic-ref", dataset: { topicId: String(id) } }, "#" + id);
  }

  const pad = (n) => String(n).padStart(2, "0");

  /** "2026-11-24 21:05 UTC" for an ISO timestamp; the raw text when it does not parse. */
  function fmtTime(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
      `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
  }

  /** "3 h ago" relative to now. */
  function fmtAgo(iso) {
    const d = new Date(iso);
    if (!iso || Number.isNaN(d.getTime())) return "";
    const minutes = Math.round((Date.now() - d.getTime()) / 60000);
    if (minutes < 1) return "just now";
    if (minutes < 60) return `${minutes} min ago`;
    const hours = Math.round(minutes / 60);
    if (hours < 48) return `${hours} h ago`;
    return `${Math.round(hours / 24)} d ago`;
  }

  function timeEl(iso) {
    return el("time", { datetime: iso || null, title: iso || null }, fmtTime(iso));
  }

  /** The browser's clock as HH:MM:SS (the "updated" note). */
  function clock() {
    const d = new Date();
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function setStatus(text) {
    const node = document.getElementById("status");
    if (node) node.textContent = text;
  }

  function showError(message) {
    const node = document.getElementById("error");
    if (!node) return;
    node.textContent = message || "";
    node.hidden = !message;
  }

  /** The growth badge: z-score, marked "growing" at or above the alert threshold. */
  function growthBadge(growth) {
    const z = Number((growth && growth.z_score) || 0);
    const threshold = Number(body.dataset.zThreshold || 3);
    const level = z >= threshold ? "high" : z >= threshold / 3 ? "mid" : "flat";
    const recent = growth ? growth.recent_count : 0;
    const title = `z-score ${z.toFixed(2)} · ${recent} recent articles` +
      (growth && growth.evaluated_at ? ` · evaluated ${fmtTime(growth.evaluated_at)}` : " · not evaluated yet");
    const sign = z > 0 ? "+" : "";
    return el("span", { className: `growth-badge growth-${level}`, title, dataset: { z: String(z) } },
      (level === "high" ? "▲ " : "") + `z ${sign}${z.toFixed(1)}`);
  }

  /** An inline SVG sparkline of hourly counts (one polyline point per hour, oldest first). */
  function sparkline(counts) {
    const values = Array.isArray(counts) ? counts.map((c) => Number(c) || 0) : [];
    const width = 120, height = 28, padY = 3;
    const max = Math.max(1, ...values);
    const step = values.length > 1 ? width / (values.length - 1) : 0;
    const points = values.map((v, i) =>
      `${(i * step).toFixed(1)},${(height - padY - (v / max) * (height - 2 * padY)).toFixed(1)}`);
    const total = values.reduce((a, b) => a + b, 0);
    const node = svg("svg", {
      className: "sparkline", viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
      "aria-label": `${total} articles in the last ${values.length} hours`,
      dataset: { points: String(values.length) },
    }, svg("title", {}, `${total} articles in the last ${values.length} hours (peak ${max}/h)`));
    if (points.length) {
      node.append(svg("polygon", { className: "spark-area", points: `0,${height} ${points.join(" ")} ${width},${height}` }));
      node.append(svg("polyline", { className: "spark-line", points: points.join(" ") }));
    }
    return node;
  }

  // --- API access with the stored key -----------------------------------------------------------

  class ApiError extends Error {
    constructor(status, detail) {
      super(typeof detail === "string" ? detail : `HTTP ${status}`);
      this.status = status;
      this.detail = detail;
    }
  }

  let keyPrompt = null; // one pending key form shared by every request that was refused

  function storedKey() {
    try { return window.localStorage.getItem(KEY_STORAGE) || ""; } catch (_err) { return ""; }
  }

  function storeKey(key) {
    try { window.localStorage.setItem(KEY_STORAGE, key); } catch (_err) { /* private mode: key lives for this page only */ }
  }

  function keyFormVisible() {
    return keyPrompt !== null;
  }

  /** Shows the key form; resolves once the analyst saved a key. */
  function askForKey(reason) {
    if (keyPrompt) return keyPrompt.promise;
    let resolve;
    const promise = new Promise((r) => { resolve = r; });
    const input = el("input", {
      type: "password", id: "api-key-input", name: "api-key", autocomplete: "off", required: true,
      placeholder: "API key", "aria-label": "API key",
    });
    const form = el("form", { id: "api-key-form", className: "key-form" },
      el("p", {}, el("strong", {}, "API key needed. "), reason ? `The server said: ${reason}.` : ""),
      input, " ", el("button", { type: "submit", className: "primary" }, "Use key"),
      el("p", { className: "muted small" }, "The key is kept in this browser (localStorage) and sent as X-API-Key."));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      storeKey(key);
      form.remove();
      keyPrompt = null;
      resolve();
    });
    document.querySelector("main").prepend(form);
    input.focus();
    setStatus("waiting for an API key");
    keyPrompt = { promise };
    return promise;
  }

  /** GET a JSON API path (relative to the API base) with query params; asks for a key on 401/403. */
  async function apiGet(path, params) {
    const url = new URL(apiBase + path, window.location.origin);
    for (const [name, value] of Object.entries(params || {})) {
      if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, String(value));
    }
    for (;;) {
      const headers = { Accept: "application/json" };
      const key = storedKey();
      if (key) headers["X-API-Key"] = key;
      const response = await fetch(url, { headers, cache: "no-store" });
      let payload = null;
      try { payload = await response.json(); } catch (_err) { payload = null; }
      if (response.status === 401 || response.status === 403) {
        await askForKey(payload && typeof payload.detail === "string" ? payload.detail : `HTTP ${response.status}`);
        continue;
      }
      if (!response.ok) throw new ApiError(response.status, payload ? payload.detail : null);
      return payload;
    }
  }

  /** A readable one-line message for a failed request. */
  function describeError(err) {
    if (err instanceof ApiError) {
      const detail = Array.isArray(err.detail)
        ? err.detail.map((d) => `${(d.loc || []).slice(-1)[0]}: ${d.msg}`).join("; ")
        : err.detail || "";
      return `Request failed (HTTP ${err.status})${detail ? ": " + detail : ""}`;
    }
    return `Cannot reach the API: ${err && err.message ? err.message : err}`;
  }

  return {
    el, svg, fill, safeHref, topicHref, topicLink, fmtTime, fmtAgo, timeEl, clock, setStatus, showError,
    growthBadge, sparkline, apiGet, ApiError, describeError, keyFormVisible,
  };
})();
