// Follow-ups on every page: live speed-to-lead countdowns and the bell's unread count.
// Progressive enhancement only: the server renders both; this keeps them current.
(function () {
  "use strict";

  function formatSpan(ms) {
    var s = Math.max(0, Math.floor(Math.abs(ms) / 1000));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d > 0) return d + " d " + h + " h";
    if (h > 0) return h + " h " + m + " min";
    return m + ":" + String(s % 60).padStart(2, "0");
  }

  // <span data-countdown="ISO deadline">: "12:34" counting down, then the time since it passed.
  function tickCountdowns() {
    var now = Date.now();
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var deadline = Date.parse(el.getAttribute("data-countdown"));
      if (isNaN(deadline)) return;
      var left = deadline - now;
      el.textContent = formatSpan(left);
      var badge = el.closest(".sla-running");
      if (left <= 0 && badge) {
        badge.classList.remove("sla-running", "text-bg-warning");
        badge.classList.add("sla-breached", "text-bg-danger");
        badge.firstChild.textContent = "SLA breached ";
        if (badge.lastChild.nodeType === Node.TEXT_NODE) badge.lastChild.textContent = " ago";
      }
    });
  }

  // The bell: poll the unread count so a reminder shows up without a reload.
  function refreshBell() {
    var bell = document.getElementById("bell");
    var count = document.getElementById("bell-count");
    if (!bell || !count || document.hidden) return;
    fetch(bell.getAttribute("data-unread-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        count.textContent = data.unread;
        count.hidden = data.unread === 0;
      })
      .catch(function () { /* offline: try again next time */ });
  }

  if (document.querySelector("[data-countdown]")) {
    tickCountdowns();
    setInterval(tickCountdowns, 1000);
  }
  setInterval(refreshBell, 30000);
  document.addEventListener("visibilitychange", refreshBell);
})();
