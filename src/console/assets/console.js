// eventward console: progressive enhancement only. Every page works without
// this file (forms post, samples are listed one after another); with it, the
// samples become tabs, follow the unsaved "Secure your endpoint" selection,
// and a new key can be copied to the clipboard. Served from 'self' (CSP).
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Tabs over the samples: role=tab buttons, arrow keys move between them.
  function makeTabs(root) {
    var samples = Array.prototype.slice.call(root.querySelectorAll(".sample"));
    if (!samples.length) return;
    var list = document.createElement("div");
    list.setAttribute("role", "tablist");
    list.setAttribute("aria-label", "Code samples");
    var tabs = samples.map(function (sample, i) {
      var tab = document.createElement("button");
      tab.type = "button";
      tab.setAttribute("role", "tab");
      tab.id = "tab-" + sample.dataset.lang;
      tab.setAttribute("aria-controls", sample.id);
      tab.textContent = sample.dataset.label;
      sample.setAttribute("role", "tabpanel");
      sample.setAttribute("aria-labelledby", tab.id);
      sample.tabIndex = 0;
      var heading = sample.querySelector("h3");
      if (heading) heading.hidden = true;
      tab.addEventListener("click", function () { select(i, false); });
      tab.addEventListener("keydown", function (e) {
        var next = e.key === "ArrowRight" ? i + 1 : e.key === "ArrowLeft" ? i - 1 : -2;
        if (e.key === "Home") next = 0;
        if (e.key === "End") next = samples.length - 1;
        if (next === -2) return;
        e.preventDefault();
        select((next + samples.length) % samples.length, true);
      });
      list.appendChild(tab);
      return tab;
    });
    function select(i, focus) {
      tabs.forEach(function (t, j) {
        t.setAttribute("aria-selected", String(i === j));
        t.tabIndex = i === j ? 0 : -1;
        samples[j].hidden = i !== j;
      });
      root.dataset.selected = samples[i].dataset.lang;
      if (focus) tabs[i].focus();
    }
    root.insertBefore(list, root.firstChild);
    var wanted = root.dataset.selected;
    var start = samples.findIndex(function (s) { return s.dataset.lang === wanted; });
    select(start < 0 ? 0 : start, false);
  }

  // "Secure your endpoint": fetch the samples for the current, unsaved
  // selection as a server-rendered fragment and swap them in.
  function followSelection(form) {
    var target = document.getElementById("samples");
    if (!target || !form.dataset.samples) return;
    var pending = 0;
    form.addEventListener("change", function () {
      var query = new URLSearchParams();
      new FormData(form).forEach(function (value, name) {
        if (name !== "csrf_token") query.append(name, value);
      });
      var mine = ++pending;
      fetch(form.dataset.samples + "?" + query.toString(), {
        credentials: "same-origin",
        headers: { "Accept": "text/html" }
      }).then(function (r) {
        if (!r.ok) throw new Error("samples: HTTP " + r.status);
        return r.text();
      }).then(function (html) {
        if (mine !== pending) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("samples");
        if (!fresh) return;
        var selected = target.dataset.selected;
        if (selected) fresh.dataset.selected = selected;
        target.replaceWith(fresh);
        target = fresh;
        makeTabs(fresh);
        var status = document.getElementById("samples-status");
        var caption = fresh.querySelector("#samples-caption");
        if (status && caption) status.textContent = "Code samples updated. " + caption.textContent;
      }).catch(function (e) { console.error(e); });
    });
  }

  // Copy buttons: data-copy names the element whose text is copied.
  function copyButtons() {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var source = document.getElementById(button.dataset.copy);
        var status = document.getElementById(button.dataset.status);
        var say = function (text) { if (status) status.textContent = text; };
        if (!navigator.clipboard) { say("Copy is not available here: select the key and copy it."); return; }
        navigator.clipboard.writeText(source.textContent.trim()).then(
          function () { say("Copied to the clipboard."); },
          function () { say("Could not copy: select the key and copy it."); }
        );
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".samples").forEach(makeTabs);
    document.querySelectorAll("form[data-samples]").forEach(followSelection);
    copyButtons();
  });
})();
