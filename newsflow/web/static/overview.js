/* newsflow overview: topics sorted by growth, filters and pages kept in the URL, self-refreshing. */
"use strict";

(() => {
  const { el, fill, apiGet, describeError } = NF;
  const PAGE_SIZE = 25;
  const FILTERS = ["q", "language", "min_size", "sort", "growing"];

  const params = new URLSearchParams(window.location.search);
  const refreshSeconds = (() => {
    const asked = Number(params.get("refresh"));
    const fallback = Number(document.body.dataset.defaultRefresh) || 60;
    return Number.isFinite(asked) && asked >= 1 ? asked : fallback;
  })();

  const state = {
    offset: Math.max(0, parseInt(params.get("offset") || "0", 10) || 0),
    limit: Math.min(200, Math.max(1, parseInt(params.get("limit") || String(PAGE_SIZE), 10) || PAGE_SIZE)),
    total: 0,
    loading: false,
    filters: {},
  };

  const form = document.getElementById("filters");
  const rows = document.getElementById("topic-rows");

  function filtersFromUrl() {
    document.getElementById("f-q").value = params.get("q") || "";
    document.getElementById("f-language").value = params.get("language") || "";
    document.getElementById("f-min-size").value = params.get("min_size") || "";
    document.getElementById("f-sort").value = params.get("sort") || "growth";
    document.getElementById("f-growing").checked = params.get("growing") === "true";
  }

  /** The filters as submitted (a refresh must not apply what is still being typed). */
  function filtersFromForm() {
    const data = new FormData(form);
    return {
      q: String(data.get("q") || "").trim(),
      language: String(data.get("language") || "").trim(),
      min_size: String(data.get("min_size") || "").trim(),
      sort: String(data.get("sort") || "growth"),
      growing: data.get("growing") ? "true" : "",
    };
  }

  /** The API query for the applied filters and the current page. */
  function query() {
    return { ...state.filters, limit: state.limit, offset: state.offset };
  }

  /** Keeps filters and page in the address bar so a view can be bookmarked or shared. */
  function syncUrl(q) {
    const url = new URL(window.location.href);
    for (const name of [...FILTERS, "offset"]) {
      const value = name === "offset" ? (q.offset ? String(q.offset) : "") : q[name];
      if (value && !(name === "sort" && value === "growth")) url.searchParams.set(name, value);
      else url.searchParams.delete(name);
    }
    window.history.replaceState(null, "", url);
  }

  function topicRow(t) {
    const outlets = (t.outlets || []).join(", ");
    return el("tr", { className: "topic-row", dataset: { topicId: String(t.id) } },
      el("td", { className: "topic-cell", "data-label": "Topic" },
        // The representative headline is the topic's title, as news readers expect; the keywords beneath.
        el("a", { href: NF.topicHref(t.id), className: "topic-title" },
          t.representative_title || t.label || `Topic ${t.id}`),
        el("div", { className: "topic-label muted" }, t.label || ""),
        (t.entities || []).length
          ? el("div", { className: "entities muted small", title: "named entities" }, t.entities.slice(0, 4).join(" · "))
          : null),
      el("td", { "data-label": "Keywords" },
        el("ul", { className: "chips" }, (t.keywords || []).slice(0, 6).map((k) => el("li", {}, k)))),
      el("td", { className: "num article-count", "data-label": "Articles" }, String(t.article_count)),
      el("td", { className: "num outlet-count", "data-label": "Outlets", title: outlets || null },
        String(t.outlet_count)),
      el("td", { "data-label": "Last seen" }, NF.timeEl(t.last_seen),
        el("div", { className: "muted small" }, NF.fmtAgo(t.last_seen))),
      el("td", { "data-label": "Growth" }, NF.growthBadge(t.growth)),
      el("td", { "data-label": "Last 24 h" }, NF.sparkline(t.sparkline)));
  }

  function render(body) {
    const items = body.items || [];
    state.total = Number(body.total) || 0;
    fill(rows, items.map(topicRow));
    document.getElementById("empty").hidden = items.length > 0;
    const first = items.length ? state.offset + 1 : 0;
    const last = state.offset + items.length;
    document.getElementById("page-info").textContent = `${first}–${last} of ${state.total}`;
    document.getElementById("prev").disabled = state.offset <= 0;
    document.getElementById("next").disabled = last >= state.total;
    document.getElementById("as-of").textContent = body.as_of ? `as of ${NF.fmtTime(body.as_of)}` : "";
  }

  async function load() {
    if (state.loading || NF.keyFormVisible()) return;
    state.loading = true;
    const q = query();
    syncUrl(q);
    try {
      const body = await apiGet("/topics", q);
      render(body);
      NF.showError("");
      NF.setStatus(`updated ${NF.clock()} · refresh every ${refreshSeconds} s`);
    } catch (err) {
      NF.showError(describeError(err));
      NF.setStatus(`update failed ${NF.clock()}`);
    } finally {
      state.loading = false;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    state.filters = filtersFromForm();
    state.offset = 0;
    load();
  });
  document.getElementById("f-reset").addEventListener("click", () => {
    form.reset();
    document.getElementById("f-sort").value = "growth";
    state.filters = filtersFromForm();
    state.offset = 0;
    load();
  });
  document.getElementById("prev").addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - state.limit);
    load();
  });
  document.getElementById("next").addEventListener("click", () => {
    if (state.offset + state.limit < state.total) state.offset += state.limit;
    load();
  });

  filtersFromUrl();
  state.filters = filtersFromForm();
  load();
  // Refresh in place (no page reload): the filters, page and scroll position stay as they are.
  window.setInterval(() => { if (!document.hidden) load(); }, refreshSeconds * 1000);
})();
