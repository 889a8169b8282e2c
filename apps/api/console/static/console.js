// Presswork console: progressive enhancement only; every page works without it.
// - [data-task-events]: follows a task's Server-Sent Events (progress bar, stage);
//   with [data-reload-when-done] the page reloads when the task ends.
// - textarea[data-preview]: live markdown preview, rendered and sanitised by
//   the server exactly as the public API renders posts.
// - [data-max]: character counters for fields with a length limit.
(function () {
  "use strict";

  function csrfToken() {
    var field = document.querySelector('input[name="csrf"]');
    return field ? field.value : "";
  }

  function follow(el) {
    var bar = el.querySelector("progress");
    var stage = el.querySelector(".stage");
    var source = new EventSource(el.getAttribute("data-task-events"));
    source.addEventListener("task", function (ev) {
      var task;
      try { task = JSON.parse(ev.data); } catch (e) { return; }
      var progress = task.progress || {};
      if (typeof progress.percentage === "number" && bar) { bar.value = progress.percentage; bar.textContent = progress.percentage + "%"; }
      if (stage) { stage.textContent = progress.stage || task.status; }
      el.setAttribute("data-status", task.status);
      if (["completed", "failed", "cancelled"].indexOf(task.status) >= 0) {
        source.close();
        if (el.hasAttribute("data-reload-when-done")) { window.location.reload(); }
      }
    });
    source.onerror = function () {
      // The browser reconnects by itself; nothing to do unless the page is gone.
    };
  }

  function preview(area) {
    var target = document.querySelector(area.getAttribute("data-preview"));
    if (!target) { return; }
    var timer = null, seq = 0;
    area.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var mine = ++seq;
        var body = new URLSearchParams();
        body.set("markdown", area.value);
        body.set("csrf", csrfToken());
        fetch("/console/preview", { method: "POST", body: body, credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) { if (html !== null && mine === seq) { target.innerHTML = html; } });
      }, 250);
    });
  }

  function counter(field) {
    var max = parseInt(field.getAttribute("data-max"), 10);
    var out = document.querySelector('[data-count-for="' + field.id + '"]');
    if (!out || !max) { return; }
    var update = function () {
      var n = Array.from(field.value).length;
      out.textContent = n + "/" + max;
      out.classList.toggle("over", n > max);
    };
    field.addEventListener("input", update);
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-task-events]").forEach(follow);
    document.querySelectorAll("textarea[data-preview]").forEach(preview);
    document.querySelectorAll("[data-max]").forEach(counter);
  });
})();
