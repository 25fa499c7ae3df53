// Referkit dashboard: small progressive enhancements. Every flow works without this file.
"use strict";
(function () {
  // Times are rendered in UTC by the server; show them in the viewer's time zone.
  document.querySelectorAll("time[datetime]").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    if (!isNaN(when)) { el.textContent = when.toLocaleString(); el.title = el.getAttribute("datetime"); }
  });
  // Copy buttons: hidden until a clipboard is available.
  if (navigator.clipboard) {
    document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
          var label = button.textContent;
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = label; }, 1500);
        });
      });
    });
  }
  // Forms that warn first (regenerate a key, deny referrals, revoke…).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
  // "Select all" for bulk actions.
  document.querySelectorAll("input[data-select-all]").forEach(function (box) {
    box.addEventListener("change", function () {
      document.querySelectorAll("input[name='" + box.getAttribute("data-select-all") + "']").forEach(function (other) {
        other.checked = box.checked;
      });
    });
  });
})();
