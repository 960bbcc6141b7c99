/* LeadFlow web-to-lead embed: fills each embedded form's token when the page loads.
   The token proves the form was shown before it was sent (bots that post at once are
   dropped) and makes a double click one lead. Without this script the post still arrives,
   and the visitor confirms it once on our page. */
(function () {
  "use strict";
  function fill(form) {
    var url = form.getAttribute("data-leadflow-token");
    var input = form.querySelector('input[name="lf_t"]');
    if (!url || !input || !window.fetch) { return; }
    fetch(url, { credentials: "omit", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data && data.token) { input.value = data.token; } })
      .catch(function () { /* the server-side fallback takes over */ });
  }
  function init() {
    var forms = document.querySelectorAll("form[data-leadflow-token]");
    for (var i = 0; i < forms.length; i++) { fill(forms[i]); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
