// Live-agent desk: keeps the queue and the open conversation up to date by polling two small
// JSON endpoints of this app, and sends replies without reloading. The pages work without it.
(function () {
  "use strict";
  var POLL_MS = 1000;
  var NAMES = { citizen: "Công dân", bot: "Trợ lý", operator: "Tổng đài viên" };
  // A form posting normally (take, close, on duty) is leaving the page: a poll that sees the status
  // it just changed must not reload over the form's own redirect. Runs after the reply form's own
  // handler, which posts with fetch and cancels the normal submission.
  var leaving = false;
  document.addEventListener("submit", function (ev) { if (!ev.defaultPrevented) leaving = true; });

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "desk" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); });
  }

  // The queue page: reload when the set of open hand-offs changes; count waiting seconds locally.
  var queue = document.getElementById("desk-queue");
  if (queue) {
    var signature = null;
    var tick = function () {
      getJSON(queue.dataset.poll).then(function (data) {
        var sig = JSON.stringify(data.open.map(function (t) { return [t.id, t.status]; })) + data.on_duty;
        if (signature !== null && sig !== signature && !leaving) location.reload();
        signature = sig;
        var n = document.querySelector('[data-testid="agents-on-duty"]');
        if (n) n.textContent = String(data.agents_on_duty);
      }).catch(function () { /* the next poll retries */ });
    };
    tick();
    setInterval(tick, POLL_MS * 2);
    setInterval(function () {
      document.querySelectorAll(".waited").forEach(function (el) {
        var s = parseInt(el.dataset.waited, 10) + 1;
        el.dataset.waited = String(s);
        el.textContent = String(s);
      });
    }, 1000);
  }

  // The conversation page: append new lines; reload when the hand-off's status changes.
  var log = document.getElementById("desk-transcript");
  if (log) {
    var busy = false;
    var poll = function () {
      if (busy) return;
      busy = true;
      getJSON(log.dataset.poll + "?after=" + log.dataset.n).then(function (data) {
        data.lines.forEach(function (line) {
          var li = document.createElement("li");
          li.className = line.who;
          li.dataset.testid = "line-" + line.who;
          var who = document.createElement("span");
          who.className = "who";
          who.textContent = (NAMES[line.who] || line.who) + ":";
          li.append(who, " " + line.text);
          log.append(li);
          li.scrollIntoView({ block: "nearest" });
        });
        log.dataset.n = String(data.n);
        if (data.status !== log.dataset.status && !leaving) location.reload();
      }).catch(function () { /* the next poll retries */ }).finally(function () { busy = false; });
    };
    setInterval(poll, POLL_MS);
    var form = document.getElementById("desk-reply");
    if (form) {
      var error = document.getElementById("desk-reply-error");
      var text = form.querySelector("textarea");
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var body = new URLSearchParams(new FormData(form));
        fetch(form.action, { method: "POST", body: body, credentials: "same-origin",
          headers: { "X-Requested-With": "desk" } })
          .then(function (r) { return r.json(); })
          .then(function (res) {
            error.textContent = res.ok ? "" : res.error;
            if (res.ok) { text.value = ""; poll(); }
          })
          .catch(function () { error.textContent = "Không gửi được, Anh/Chị thử lại."; });
      });
      text.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit(); }
      });
    }
  }
})();
