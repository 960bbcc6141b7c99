// Small progressive enhancements for the qualification pages; every form works without them.
(function () {
  "use strict";

  function currentValue(form, name) {
    var controls = form.querySelectorAll('[name="' + name + '"]');
    for (var i = 0; i < controls.length; i++) {
      var c = controls[i];
      if (c.type === "radio" || c.type === "checkbox") {
        if (c.checked) return c.value;
      } else {
        return c.value;
      }
    }
    return "";
  }

  // <div data-depends-on="budget_status" data-depends-value="amount">: shown (and its inputs
  // enabled) only while that answer is chosen, so a stale hidden value is never submitted.
  // data-depends-mode="disable" keeps it visible and only disables the inputs.
  document.querySelectorAll("[data-depends-on]").forEach(function (el) {
    var form = el.closest("form");
    if (!form) return;
    var name = el.dataset.dependsOn;
    var wanted = el.dataset.dependsValue;
    function update() {
      var on = currentValue(form, name) === wanted;
      if (el.dataset.dependsMode !== "disable") el.hidden = !on;
      el.querySelectorAll("input, select, textarea").forEach(function (input) {
        input.disabled = !on;
      });
    }
    form.querySelectorAll('[name="' + name + '"]').forEach(function (control) {
      control.addEventListener("change", update);
    });
    update();
  });

  // <button data-copy-target="id_body">: copy a field's text to the clipboard.
  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    button.hidden = !navigator.clipboard;
    button.addEventListener("click", function () {
      var field = document.getElementById(button.dataset.copyTarget);
      if (!field || !navigator.clipboard) return;
      navigator.clipboard.writeText(field.value).then(function () {
        var label = button.textContent;
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = label; }, 1500);
      });
    });
  });
})();
