// The ticket page and the phone view, live: when a batch of changes names the ticket shown
// (at another version than the page's) or a ticket of mine, the part is reloaded by htmx, so
// two people on one ticket see each other's changes and their forms carry the new version.
// What the user was typing in a form is kept across the reload; a form with photos chosen
// is not reloaded under the user (the photos could not be put back).
(function () {
  "use strict";
  var body = document.body;
  var typed = null;

  function photosChosen(root) {
    var files = root.querySelectorAll("input[type=file]");
    for (var i = 0; i < files.length; i++) if (files[i].files && files[i].files.length) return true;
    return false;
  }

  body.addEventListener("gd:tickets", function (e) {
    var list = (e.detail && e.detail.tickets) || [];
    var page = document.getElementById("ticket");
    if (page) {
      var id = page.getAttribute("data-ticket"), version = page.getAttribute("data-version");
      for (var i = 0; i < list.length; i++) {
        if (list[i].id === id && String(list[i].version) !== version) {
          if (!photosChosen(page)) body.dispatchEvent(new CustomEvent("gd:ticket-changed", { bubbles: true }));
          return;
        }
      }
    }
    var me = document.getElementById("me");
    if (me) {
      var who = me.getAttribute("data-me");
      for (var j = 0; j < list.length; j++) {
        var t = list[j];
        if (t.assignee === who || me.querySelector('[data-ticket="' + CSS.escape(t.id) + '"]')) {
          body.dispatchEvent(new CustomEvent("gd:mine-changed", { bubbles: true }));
          return;
        }
      }
    }
  });

  // Keep what was typed (fields with an id, and which forms were open) across a reload.
  body.addEventListener("htmx:beforeSwap", function (e) {
    var page = document.getElementById("ticket");
    if (!page || e.detail.target !== page) return;
    typed = { fields: {}, open: [] };
    page.querySelectorAll("textarea[id], input[id]:not([type=hidden]):not([type=file]), select[id]").forEach(function (f) {
      if (f.value !== f.defaultValue || (f.tagName === "SELECT")) typed.fields[f.id] = f.value;
    });
    page.querySelectorAll("details.act[open]").forEach(function (d) { typed.open.push(d.className); });
  });
  body.addEventListener("htmx:afterSettle", function () {
    if (!typed) return;
    var page = document.getElementById("ticket");
    if (page) {
      Object.keys(typed.fields).forEach(function (id) {
        var f = document.getElementById(id);
        if (f && page.contains(f) && f.id !== "tracking-url") f.value = typed.fields[id];
      });
      page.querySelectorAll("details.act").forEach(function (d) {
        if (typed.open.indexOf(d.className) >= 0) d.open = true;
      });
    }
    typed = null;
  });
})();
