// gongdan console, the queue: live rows, the "new tickets" button, j/k between rows.
(function () {
  "use strict";
  var body = document.body;
  var pending = 0;

  function results() { return document.getElementById("results"); }
  function filter(res) { try { return JSON.parse(res.getAttribute("data-filter") || "{}"); } catch (e) { return {}; } }
  function rowFrom(html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html.trim();
    var tr = tpl.content.firstElementChild;
    return tr && tr.tagName === "TR" ? tr : null;
  }
  function tagsOf(tr) { try { return JSON.parse(tr.getAttribute("data-tags") || "[]"); } catch (e) { return []; } }

  // slaOf is the SLA status of a row by its due time, as the server's filter counts it.
  function slaOf(tr) {
    var t = tr.querySelector("time[data-due]");
    if (!t) return "none";
    var left = Date.parse(t.getAttribute("data-due")) - Date.now();
    if (left < 0) return "breached";
    return left < 3600 * 1000 ? "at_risk" : "on_time";
  }

  // matches: does a new ticket's row belong under the filters shown?
  function matches(tr, f) {
    var d = function (k) { return tr.getAttribute("data-" + k) || ""; };
    if (f.state && f.state.length && f.state.indexOf(d("state")) < 0) return false;
    if (f.team && f.team !== d("team")) return false;
    if (f.assignee && f.assignee !== d("assignee")) return false;
    if (f.urgency && f.urgency !== d("urgency")) return false;
    if (f.connector && f.connector.split(",").map(function (s) { return s.trim(); }).indexOf(d("connector")) < 0) return false;
    if (f.tags && f.tags.length) {
      var have = tagsOf(tr);
      for (var i = 0; i < f.tags.length; i++) if (have.indexOf(f.tags[i]) < 0) return false;
    }
    if (f.sla && f.sla !== slaOf(tr)) return false;
    return true;
  }

  function atTop(res) { return window.scrollY <= Math.max(0, res.offsetTop - 8) + 40; }

  function showPending(res) {
    var b = res.querySelector("#q-new");
    if (!b) return;
    b.hidden = pending === 0;
    b.textContent = (b.getAttribute("data-text") || "{n}").replace("{n}", pending);
  }

  // reload fetches the results part again, as the form would.
  function reload() {
    var res = results();
    if (!res || !window.htmx) { window.location.reload(); return; }
    pending = 0;
    window.htmx.ajax("GET", window.location.pathname + window.location.search, { target: "#results", swap: "outerHTML" });
  }

  body.addEventListener("gd:tickets", function (e) {
    var res = results();
    if (!res || !e.detail || !e.detail.tickets) return;
    var tbody = res.querySelector("tbody");
    var f = filter(res);
    var first = res.getAttribute("data-first") === "true";
    var y = window.scrollY;
    e.detail.tickets.forEach(function (t) {
      if (!t.row) return;
      var old = document.getElementById("q-" + t.id);
      if (old) {
        // In place: the row keeps its place, and the focus stays on it.
        var tr = rowFrom(t.row);
        if (!tr) return;
        var focused = old.contains(document.activeElement);
        if (f.guess && !matches(tr, f) && !focused) {
          // It left the view (assigned out of an "unassigned" one, breached out of "at
          // risk"): it goes, unless the user is on it.
          old.remove();
          return;
        }
        old.replaceWith(tr);
        if (focused) { var a = tr.querySelector("a.qid"); if (a) a.focus({ preventScroll: true }); }
        return;
      }
      if (!t.created) return;
      if (!f.guess) { pending++; return; } // a search or the due order: the server decides
      var row = rowFrom(t.row);
      if (!row || !matches(row, f)) return;
      if (first && atTop(res) && tbody) {
        row.classList.add("fresh");
        tbody.insertBefore(row, tbody.firstChild);
        var empty = res.querySelector(".empty"); if (empty) empty.hidden = true;
      } else {
        pending++;
      }
    });
    window.scrollTo(window.scrollX, y);
    showPending(res);
  });
  body.addEventListener("gd:resync", reload);
  document.addEventListener("click", function (e) {
    if (e.target && e.target.id === "q-new") { e.preventDefault(); reload(); }
  });
  // A swap of the results starts the count again.
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail && e.detail.target && e.detail.target.id === "results") pending = 0;
  });

  // Saving a view saves the filters shown, which htmx may have changed since the page loaded.
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (!f.classList || !f.classList.contains("save-view")) return;
    var qf = document.getElementById("qf"), q = f.querySelector("input[name=query]");
    if (!qf || !q) return;
    var params = new URLSearchParams();
    new FormData(qf).forEach(function (v, k) { if (typeof v === "string" && v !== "") params.append(k, v); });
    q.value = params.toString();
  });

  // j / k move between rows (their ticket links); Enter opens the focused one (a link).
  document.addEventListener("keydown", function (e) {
    if (e.key !== "j" && e.key !== "k") return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var el = document.activeElement;
    if (el && (el.tagName === "INPUT" || el.tagName === "SELECT" || el.tagName === "TEXTAREA" || el.isContentEditable)) return;
    var links = Array.prototype.slice.call(document.querySelectorAll("#q-rows a.qid"));
    if (!links.length) return;
    var i = links.indexOf(el);
    if (i < 0) i = e.key === "j" ? -1 : links.length;
    i += e.key === "j" ? 1 : -1;
    if (i < 0 || i >= links.length) return;
    e.preventDefault();
    links[i].focus();
    links[i].closest("tr").scrollIntoView({ block: "nearest" });
  });
  // On a phone the filters fold away unless they are in use: the tickets come first.
  var box = document.getElementById("qf-box");
  if (box && !box.hasAttribute("data-active") && window.matchMedia && window.matchMedia("(max-width: 720px)").matches) box.open = false;
})();
