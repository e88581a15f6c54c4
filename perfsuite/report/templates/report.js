// The case table: rows come from the JSON block #perf-data and are written with textContent only
// (never innerHTML), so no case id or model name can become markup. Sort, filter, paginate.
(function () {
  "use strict";
  var rows = JSON.parse(document.getElementById("perf-data").textContent);
  var table = document.getElementById("case-table");
  var body = table.tBodies[0];
  var DASH = "\u2013";

  function sig3(x) {
    var a = Math.abs(x);
    return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(2);
  }
  function scaled(v, units, sep) {
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(v) >= units[i][1]) return sig3(v / units[i][1]) + sep + units[i][0];
    }
    var last = units[units.length - 1];
    return sig3(v / last[1]) + sep + last[0];
  }
  var TIME = [["s", 1], ["ms", 1e-3], ["\u00b5s", 1e-6], ["ns", 1e-9]];
  var BYTES = [["GiB", 1073741824], ["MiB", 1048576], ["KiB", 1024], ["B", 1]];
  var COUNT = [["T", 1e12], ["G", 1e9], ["M", 1e6], ["k", 1e3], ["", 1]];
  function time(v) { return v == null ? DASH : v === 0 ? "0 s" : scaled(v, TIME, " "); }
  function bytes(v) { return v == null ? DASH : scaled(v, BYTES, " "); }
  function rate(v) { return v == null ? DASH : scaled(v, COUNT, "") + "/s"; }
  function speedup(v) { return v == null ? DASH : v.toFixed(2) + "\u00d7"; }
  function change(r) {
    if (r == null) return "";
    var pct = (r - 1) * 100;
    return (pct >= 0 ? "+" : "") + pct.toFixed(1) + "%";
  }

  // key, header, kind of value, formatter
  var COLUMNS = [
    ["id", "case", "text"], ["kind", "kind", "text"], ["model", "model", "text"], ["dataset", "dataset", "text"],
    ["runtime", "runtime", "text"], ["bs", "batch", "num"], ["device", "device", "text"], ["outcome", "outcome", "text"],
    ["p50", "p50", "num", time], ["p90", "p90", "num", time], ["p99", "p99", "num", time],
    ["ttft", "TTFT p50", "num", time], ["tpot", "TPOT p50", "num", time],
    ["sps", "samples/s", "num", rate], ["tps", "tokens/s", "num", rate], ["spd", "vs eager", "num", speedup],
    ["mem", "own RSS", "num", bytes], ["rss", "process RSS peak", "num", bytes], ["gpu", "CUDA peak", "num", bytes],
    ["verdict", "verdict", "text"], ["chg", "change", "num", change], ["files", "files", "none"], ["noise", "noise", "text"]
  ];
  COLUMNS = COLUMNS.filter(function (c) {
    // a column nobody has a value for (no CUDA, no generation) is left out
    return c[2] !== "num" || rows.some(function (r) { return r[c[0]] != null; });
  });
  if (!rows.some(function (r) { return r.verdict; })) COLUMNS = COLUMNS.filter(function (c) { return c[0] !== "verdict"; });
  if (!rows.some(function (r) { return r.trace || r.ops; })) COLUMNS = COLUMNS.filter(function (c) { return c[0] !== "files"; });

  var state = { key: null, dir: 1, page: 0, size: 50, shown: rows };
  var head = table.tHead.rows[0];
  COLUMNS.forEach(function (c) {
    var th = document.createElement("th");
    th.textContent = c[1];
    th.dataset.key = c[0];
    if (c[2] !== "none") th.addEventListener("click", function () { sortBy(c[0]); });
    head.appendChild(th);
  });

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text != null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function safeHref(h) { return typeof h === "string" && !/^[a-z][a-z0-9+.-]*:/i.test(h) && h.indexOf("//") !== 0; }
  function link(href, text) {
    var a = el("a", text);
    if (safeHref(href)) a.setAttribute("href", href);
    return a;
  }

  function cell(r, c) {
    var td = el("td");
    var v = r[c[0]];
    if (c[0] === "id") {
      td.className = "id";
      if (r.panel) {
        var a = link("#" + r.panel, v);
        td.appendChild(a);
      } else td.textContent = v;
      if (r.reason) td.title = r.reason;
    } else if (c[0] === "outcome") {
      td.textContent = v;
      td.className = "outcome-" + v;
      if (r.reason) td.title = r.reason;
    } else if (c[0] === "verdict") {
      if (v) {
        var s = el("span", v, "verdict v-" + v);
        if (r.why) s.title = r.why;
        td.appendChild(s);
      }
    } else if (c[0] === "chg") {
      td.className = "num";
      td.textContent = change(v);
      if (v != null && r.lo != null) td.title = (r.metric || "") + " interval [" + change(r.lo) + ", " + change(r.hi) + "]";
    } else if (c[0] === "noise") {
      td.textContent = (v || []).join(", ");
      td.className = "noise";
    } else if (c[0] === "files") {
      if (r.trace) td.appendChild(link(r.trace, "trace"));
      if (r.trace && r.ops) td.appendChild(document.createTextNode(" "));
      if (r.ops) td.appendChild(link(r.ops, "ops"));
    } else if (c[0] === "kind" && r.kind === "generation") {
      td.textContent = "generation";
      td.title = "latency columns: end-to-end; TTFT p50 " + time(r.ttft) + ", TPOT p50 " + time(r.tpot) + "; tokens/s: decode rate";
    } else if (c[3]) {
      td.className = "num";
      td.textContent = c[3](v);
    } else {
      td.textContent = v == null ? DASH : String(v);
      if (c[2] === "num") td.className = "num";
    }
    return td;
  }

  function compare(a, b) {
    var x = a[state.key], y = b[state.key];
    if (Array.isArray(x)) x = x.join(",");
    if (Array.isArray(y)) y = y.join(",");
    var xn = x == null || x === "", yn = y == null || y === "";
    if (xn || yn) return xn === yn ? 0 : xn ? 1 : -1; // missing values last, whatever the direction
    if (typeof x === "number" && typeof y === "number") return (x - y) * state.dir;
    return String(x).localeCompare(String(y), undefined, { numeric: true }) * state.dir;
  }

  function sortBy(key) {
    state.dir = state.key === key ? -state.dir : 1;
    state.key = key;
    Array.prototype.forEach.call(head.cells, function (th) {
      th.classList.toggle("sorted-asc", th.dataset.key === key && state.dir === 1);
      th.classList.toggle("sorted-desc", th.dataset.key === key && state.dir === -1);
    });
    apply();
  }

  var filter = document.getElementById("filter");
  var selects = { kind: document.getElementById("f-kind"), outcome: document.getElementById("f-outcome"), verdict: document.getElementById("f-verdict") };

  function apply() {
    var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    state.shown = rows.filter(function (r) {
      for (var k in selects) if (selects[k].value && r[k] !== selects[k].value) return false;
      if (!words.length) return true;
      var text = [r.id, r.model, r.dataset, r.runtime, r.device, r.outcome, r.verdict, r.kind, "bs" + r.bs, (r.noise || []).join(" ")].join(" ").toLowerCase();
      return words.every(function (w) { return text.indexOf(w) >= 0; });
    });
    if (state.key) state.shown.sort(compare);
    state.page = 0;
    draw();
  }

  function draw() {
    var pages = Math.max(1, Math.ceil(state.shown.length / state.size));
    state.page = Math.min(state.page, pages - 1);
    var start = state.page * state.size;
    var part = state.shown.slice(start, start + state.size);
    var frag = document.createDocumentFragment();
    part.forEach(function (r) {
      var tr = el("tr");
      COLUMNS.forEach(function (c) { tr.appendChild(cell(r, c)); });
      frag.appendChild(tr);
    });
    body.replaceChildren(frag);
    if (!part.length) {
      var tr = el("tr"), td = el("td", rows.length ? "no case matches the filter" : "no timed case in this run", "muted");
      td.colSpan = COLUMNS.length;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    var end = Math.min(start + state.size, state.shown.length);
    document.getElementById("page-info").textContent = (state.shown.length ? (start + 1) + "\u2013" + end : "0") + " of " + state.shown.length +
      (state.shown.length !== rows.length ? " (filtered from " + rows.length + ")" : "") + " \u00b7 page " + (state.page + 1) + "/" + pages;
    document.getElementById("prev").disabled = state.page === 0;
    document.getElementById("next").disabled = state.page >= pages - 1;
  }

  filter.addEventListener("input", apply);
  for (var k in selects) selects[k].addEventListener("change", apply);
  document.getElementById("page-size").addEventListener("change", function (e) { state.size = +e.target.value; draw(); });
  document.getElementById("prev").addEventListener("click", function () { state.page--; draw(); });
  document.getElementById("next").addEventListener("click", function () { state.page++; draw(); });

  // A link to a model's panel opens it (panels past the first few start closed).
  function openTarget(hash) {
    var target = hash && document.getElementById(hash.slice(1));
    if (target && target.tagName === "DETAILS") target.open = true;
  }
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("a[href^='#']");
    if (a) openTarget(a.getAttribute("href"));
  });
  openTarget(location.hash);

  apply();
  document.body.dataset.ready = "1";
})();
