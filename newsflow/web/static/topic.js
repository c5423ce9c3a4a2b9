/* newsflow topic page: facts, growth chart, articles grouped by outlet, lineage, provenance. */
"use strict";

(() => {
  const { el, svg, fill, apiGet, describeError } = NF;
  const topicId = Number(document.body.dataset.topicId);
  const byId = (id) => document.getElementById(id);

  function hourLabel(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? "" : `${String(d.getUTCHours()).padStart(2, "0")}:00`;
  }

  function dayLabel(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? "" : `${d.getUTCDate()}.${d.getUTCMonth() + 1}.`;
  }

  /** Bars of articles per hour with hour labels on the x axis (about eight, whatever the span). */
  function growthChart(series) {
    const m = { top: 14, right: 12, bottom: 40, left: 40 };
    const height = 220, plotH = height - m.top - m.bottom;
    // at most 800 units wide; a short story gets bars of at most 64 units instead of a few giant ones
    const slot = Math.min(64, 748 / Math.max(1, series.length));
    const width = Math.max(320, m.left + m.right + slot * series.length);
    const counts = series.map((p) => Number(p.count) || 0);
    const max = Math.max(1, ...counts);
    const gap = slot > 6 ? Math.min(4, slot * 0.2) : 0;
    const chart = svg("svg", {
      className: "growth-chart", viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
      "aria-label": `articles per hour over ${series.length} hours, peak ${max}`,
      dataset: { bars: String(series.length) },
    });
    // y axis: zero, half and peak with faint grid lines
    for (const v of [...new Set([0, Math.round(max / 2), max])]) {
      const y = m.top + plotH - (v / max) * plotH;
      chart.append(svg("line", { className: "grid", x1: m.left, x2: width - m.right, y1: y, y2: y }));
      chart.append(svg("text", { className: "axis-label", x: m.left - 6, y: y + 4, "text-anchor": "end" }, String(v)));
    }
    const labelEvery = Math.max(1, Math.ceil(series.length / 8));
    series.forEach((point, i) => {
      const x = m.left + i * slot;
      const h = (counts[i] / max) * plotH;
      chart.append(svg("rect", {
        className: "bar", x: (x + gap / 2).toFixed(2), y: (m.top + plotH - h).toFixed(2),
        width: Math.max(0.5, slot - gap).toFixed(2), height: h.toFixed(2),
        dataset: { hour: point.hour, count: String(counts[i]) },
      }, svg("title", {}, `${NF.fmtTime(point.hour)}: ${counts[i]} article${counts[i] === 1 ? "" : "s"}`)));
      if (i % labelEvery === 0) {
        const cx = x + slot / 2;
        chart.append(svg("text", { className: "axis-label hour-label", x: cx, y: m.top + plotH + 16, "text-anchor": "middle" },
          hourLabel(point.hour)));
        const d = new Date(point.hour);
        if (i === 0 || d.getUTCHours() < labelEvery) {
          chart.append(svg("text", { className: "axis-label day-label", x: cx, y: m.top + plotH + 32, "text-anchor": "middle" },
            dayLabel(point.hour)));
        }
      }
    });
    chart.append(svg("line", { className: "axis", x1: m.left, x2: width - m.right, y1: m.top + plotH, y2: m.top + plotH }));
    return chart;
  }

  function articleItem(a) {
    const href = NF.safeHref(a.url);
    const title = a.title || a.url || a.id;
    return el("li", { className: "article", dataset: { articleId: a.id } },
      href
        ? el("a", { href, className: "article-link", rel: "noopener noreferrer" }, title)
        : el("span", { className: "article-link unsafe", title: "link hidden: not an http(s) address" }, title),
      el("div", { className: "muted small" }, NF.timeEl(a.published_at), a.language ? ` · ${a.language}` : ""),
      a.summary ? el("p", { className: "summary" }, a.summary) : null);
  }

  function outletGroup(group) {
    const articles = group.articles || [];
    return el("section", { className: "outlet-group", dataset: { outlet: group.outlet } },
      el("h3", {}, group.outlet, " ", el("span", { className: "count" }, String(articles.length))),
      el("ul", { className: "articles" }, articles.map(articleItem)));
  }

  function relation(name, cls, ids) {
    if (!ids || !ids.length) return null;
    return el("div", { className: `relation ${cls}` },
      el("dt", {}, name), el("dd", {}, ids.flatMap((id, i) => (i ? [", ", NF.topicLink(id)] : [NF.topicLink(id)]))));
  }

  const KIND_TEXT = {
    merged: "absorbed",
    split: "split off",
    born: "born",
    grew: "grew",
    faded: "faded",
    revived: "revived",
  };

  function lineageItem(event) {
    const related = event.related || [];
    return el("li", { className: `lineage-event kind-${event.kind}`, dataset: { kind: event.kind } },
      el("span", { className: "kind" }, event.kind),
      " ", NF.timeEl(event.at),
      el("div", { className: "small" },
        related.length ? [`${KIND_TEXT[event.kind] || event.kind} `, related.flatMap((id, i) =>
          (i ? [", ", NF.topicLink(id)] : [NF.topicLink(id)])), " · "] : null,
        `${event.article_count} articles`, event.label ? ` · “${event.label}”` : ""));
  }

  /** Named entities as chips under the keywords (the list is made once; the page shell has no slot). */
  function entityChips(names) {
    let list = byId("entities");
    if (!list) {
      list = el("ul", { id: "entities", className: "chips entities", "aria-label": "named entities" });
      byId("keywords").after(list);
    }
    fill(list, names.map((name) => el("li", { className: "entity", title: "named entity" }, name)));
    list.hidden = names.length === 0;
  }

  /** One outlet of the provenance: "first: <outlet> at <time>" or "<outlet> +N min"; a fetch time says so. */
  function provenanceItem(entry) {
    const source = entry.time_source && entry.time_source !== "published"
      ? el("span", { className: "muted small time-source" }, ` (time ${entry.time_source})`) : null;
    const lag = Number(entry.lag_minutes) || 0;
    return el("li", { className: `provenance-entry${entry.first ? " first" : ""}`, dataset: { outlet: entry.outlet } },
      entry.first
        ? ["first: ", el("strong", { className: "outlet" }, entry.outlet), " at ", NF.timeEl(entry.first_at)]
        : [el("span", { className: "outlet" }, entry.outlet), " ", el("span", { className: "lag" }, `+${lag} min`)],
      source);
  }

  function render(t) {
    document.title = `newsflow · ${t.representative_title || t.label || "topic " + t.id}`;
    byId("representative").textContent = t.representative_title || t.label || `Topic ${t.id}`;
    byId("topic-label").textContent = t.label || "";
    fill(byId("keywords"), (t.keywords || []).map((k) => el("li", {}, k)));
    entityChips(t.entities || []);
    fill(byId("first-seen"), NF.timeEl(t.first_seen));
    fill(byId("last-seen"), NF.timeEl(t.last_seen), " ", el("span", { className: "muted" }, NF.fmtAgo(t.last_seen)));
    byId("article-count").textContent = `${t.article_count} from ${t.outlet_count} outlet${t.outlet_count === 1 ? "" : "s"}`;
    fill(byId("growth"), NF.growthBadge(t.growth));
    byId("outlets").textContent = (t.outlets || []).join(", ") || "—";
    byId("languages").textContent = (t.languages || []).join(", ") || "—";

    const note = byId("status-note");
    if (t.status === "merged" && t.merged_into) {
      fill(note, "This topic was merged into ", NF.topicLink(t.merged_into), ".");
      note.hidden = false;
    } else if (t.status && t.status !== "active") {
      fill(note, `This topic is ${t.status}.`);
      note.hidden = false;
    }

    const series = t.growth_series || [];
    fill(byId("chart"), series.length ? growthChart(series) : el("p", { className: "muted" }, "No hourly data."));

    const groups = t.articles_by_outlet || [];
    const shown = groups.reduce((n, g) => n + (g.articles || []).length, 0);
    byId("articles-note").textContent = t.articles_total > shown ? `${shown} of ${t.articles_total} shown` : `${shown}`;
    fill(byId("articles"), groups.length ? groups.map(outletGroup) : el("p", { className: "muted" }, "No articles."));

    fill(byId("relations"),
      relation("Merged from", "merged-from", t.merged_from),
      relation("Split into", "split-into", t.split_into),
      relation("Split from", "split-from", t.split_from),
      t.merged_into ? relation("Merged into", "merged-into", [t.merged_into]) : null);
    const reporters = (t.provenance && t.provenance.outlets) || [];
    fill(byId("provenance"), reporters.length ? reporters.map(provenanceItem)
      : el("li", { className: "muted" }, "No articles."));
    const events = t.lineage || [];
    fill(byId("lineage"), events.length ? events.map(lineageItem) : el("li", { className: "muted" }, "No lineage events."));
    byId("topic").hidden = false;
  }

  async function load() {
    try {
      const topic = await apiGet(`/topics/${encodeURIComponent(String(topicId))}`);
      render(topic);
      NF.showError("");
      NF.setStatus(`updated ${NF.clock()}`);
    } catch (err) {
      NF.showError(err instanceof NF.ApiError && err.status === 404 ? `Topic ${topicId} not found.` : describeError(err));
      NF.setStatus("");
    }
  }

  load();
})();
