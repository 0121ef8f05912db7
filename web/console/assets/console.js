// gongdan console: the few things htmx does not do. No inline scripts (the CSP forbids them).
(function () {
  "use strict";
  var body = document.body;
  var csrf = body.getAttribute("data-csrf") || "";

  // Every htmx request carries the session's CSRF token.
  document.addEventListener("htmx:configRequest", function (e) {
    if (csrf) e.detail.headers["X-CSRF-Token"] = csrf;
  });

  // The live stream: one per page. Each batch is dispatched as a "gd:tickets" event on the
  // body (detail: {tickets, events}); pages listen for it, or refresh a part with
  // hx-trigger="gd:tickets from:body throttle:1s". After a reconnect, "gd:resync" tells them
  // to reload what they show, since changes may have been missed.
  var live = body.getAttribute("data-live");
  if (live && window.EventSource) {
    var badge = document.getElementById("live-state");
    var es = new EventSource(live);
    es.addEventListener("tickets", function (m) {
      var batch;
      try { batch = JSON.parse(m.data); } catch (err) { return; }
      body.dispatchEvent(new CustomEvent("gd:tickets", { detail: batch, bubbles: true }));
    });
    var resync = function () { body.dispatchEvent(new CustomEvent("gd:resync", { bubbles: true })); };
    es.addEventListener("resync", resync); // the server fell behind: changes were missed
    var opened = false;
    es.onopen = function () {
      if (badge) { badge.hidden = false; badge.textContent = badge.getAttribute("data-text-on") || "●"; badge.className = "live on"; }
      // The first stream starts where the page's rendering ended (the server sends what
      // came in between, or "resync"); after a disconnection, changes were missed: pages
      // reload what they show.
      if (opened) resync();
      opened = true;
    };
    es.onerror = function () {
      if (badge) { badge.textContent = badge.getAttribute("data-text-off") || "…"; badge.className = "live off"; }
    };
  }

  // Forms marked data-queue are kept when they cannot be sent (a phone out of signal) and
  // sent again, with the same command id, when the network is back: the API does a command
  // id once, so a retry never does anything twice.
  // The outbox is each person's own (a phone passed between engineers never sends one's
  // forms as the other), and items leave it by their command id, once answered.
  var KEY = "gd_outbox:" + (body.getAttribute("data-actor") || "");
  function outbox() { try { return JSON.parse(localStorage.getItem(KEY) || "[]"); } catch (e) { return []; } }
  function save(list) { try { localStorage.setItem(KEY, JSON.stringify(list)); } catch (e) {} }
  function idOf(item) { var id = ""; item.fields.forEach(function (kv) { if (kv[0] === "command_id") id = kv[1]; }); return id; }
  function drop(item) { var id = idOf(item); save(outbox().filter(function (o) { return idOf(o) !== id; })); }
  var stuck = ""; // why the outbox waits (signed out), shown beside the count
  function showOutbox() {
    var n = outbox().length, el = document.getElementById("outbox");
    if (el) { el.hidden = n === 0; el.textContent = (el.getAttribute("data-text") || "待发送: ") + n + (stuck ? " · " + stuck : ""); }
  }
  function sendOne(item) {
    var fd = new FormData();
    item.fields.forEach(function (kv) { if (kv[0] !== "csrf") fd.append(kv[0], kv[1]); });
    fd.append("csrf", csrf); // this page's session's token, not the one the form had
    return fetch(item.action, { method: "POST", body: fd, credentials: "same-origin", redirect: "manual", headers: { "X-CSRF-Token": csrf, "X-Queued": "1" } });
  }
  var flushing = false;
  function flush() {
    var list = outbox();
    if (flushing || !list.length || !navigator.onLine || !csrf) return;
    flushing = true;
    var item = list[0];
    sendOne(item).then(function (res) {
      flushing = false;
      if (res.status === 401 || res.status === 403) {
        // Signed out, or the session changed: the form waits for its person to sign in.
        stuck = document.getElementById("outbox") ? (document.getElementById("outbox").getAttribute("data-signin") || "请重新登录后自动发送") : "";
        showOutbox();
        return;
      }
      if (res.status >= 500) return; // tried again later
      // Answered: done, or refused for a reason a retry would not change (the page shows
      // the ticket as it is now).
      stuck = "";
      drop(item); showOutbox(); flush();
    }).catch(function () { flushing = false; });
  }
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (!f.hasAttribute("data-queue") || !window.fetch) return;
    e.preventDefault();
    var fields = [];
    new FormData(f).forEach(function (v, k) { if (typeof v === "string") fields.push([k, v]); });
    var files = new FormData(f);
    var hasFile = false;
    files.forEach(function (v) { if (typeof v !== "string" && v.size > 0) hasFile = true; });
    var btn = f.querySelector("button[type=submit]");
    if (btn) btn.disabled = true;
    fetch(f.action, { method: "POST", body: files, credentials: "same-origin", headers: { "X-CSRF-Token": csrf } })
      .then(function (res) { return res.text().then(function (t) { return { res: res, text: t }; }); })
      .then(function (r) {
        if (r.res.redirected) { window.location = r.res.url; return; }
        document.open(); document.write(r.text); document.close();
      })
      .catch(function () {
        if (hasFile) { // photos are not kept offline: say so, keep the form as it is
          if (btn) btn.disabled = false;
          alert(f.getAttribute("data-offline-photo") || "网络不可用，请稍后重试");
          return;
        }
        var list = outbox(); list.push({ action: f.action, fields: fields }); save(list); showOutbox();
        if (btn) btn.disabled = false;
        var note = f.querySelector(".queued"); if (note) note.hidden = false;
      });
  });
  window.addEventListener("online", flush);
  setInterval(flush, 15000);
  showOutbox(); flush();

  // Copy buttons (the tracking link).
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("[data-copy]");
    if (!b) return;
    var el = document.getElementById(b.getAttribute("data-copy"));
    if (el && navigator.clipboard) navigator.clipboard.writeText(el.value || el.textContent);
  });

  // Times counting down: <time data-due="RFC3339"> shows what is left, every second.
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due")); if (isNaN(due)) return;
      var s = Math.round((due - now) / 1000), neg = s < 0; s = Math.abs(s);
      var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
      el.textContent = (neg ? "-" : "") + (h ? h + ":" : "") + String(m).padStart(2, "0") + ":" + String(sec).padStart(2, "0");
      el.classList.toggle("overdue", neg);
    });
  }
  setInterval(tick, 1000); tick();
})();
