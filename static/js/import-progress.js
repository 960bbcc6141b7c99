/* Import progress: polls the job's status every second and updates the bar; reloads the page
   when the import has finished, to show the rejected rows. */
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box || box.getAttribute("data-finished") === "1") { return; }
  var url = box.getAttribute("data-status-url");
  var bar = box.querySelector("progress");
  function set(name, value) {
    var el = box.querySelector('[data-field="' + name + '"]');
    if (el) { el.textContent = value; }
  }
  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { setTimeout(poll, 3000); return; }
        bar.value = data.percent;
        set("percent", data.percent + "%");
        ["status_label", "processed", "total", "created", "attached", "flagged", "rejected"].forEach(function (k) {
          set(k, data[k]);
        });
        if (data.finished) { window.location.reload(); } else { setTimeout(poll, 1000); }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();
