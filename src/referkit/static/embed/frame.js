// Inside the dashboard's iframe: the copy button, and messages to the host page (its size,
// `ready`, `copied`). Messages go only to the host origin the server checked against the
// program's allowed origins (data-parent-origin); with none, nothing is posted.
(function () {
  "use strict";
  var parentOrigin = document.body.getAttribute("data-parent-origin") || "";

  function post(type, detail) {
    if (!parentOrigin || window.parent === window) return;
    var message = { source: "referkit", type: type, detail: detail || {} };
    window.parent.postMessage(message, parentOrigin);
  }

  function height() {
    return Math.ceil(document.documentElement.getBoundingClientRect().height);
  }

  function setStatus(text) {
    var status = document.getElementById("rk-copy-status");
    if (status) status.textContent = text;
  }

  function selectLink() {
    var input = document.getElementById("rk-link");
    if (!input) return false;
    input.focus();
    input.select();
    input.setSelectionRange(0, input.value.length);
    return true;
  }

  function copied(link) {
    setStatus("Link copied.");
    post("copied", { link: link });
  }

  function copy(event) {
    var link = event.currentTarget.getAttribute("data-copy");
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(link).then(function () { copied(link); }, function () {
        fallback(link);
      });
    } else {
      fallback(link);
    }
  }

  // No clipboard API (or no permission in this frame): select the link so the visitor can
  // copy it themselves, and try the legacy command once.
  function fallback(link) {
    selectLink();
    var done = false;
    try { done = document.execCommand("copy"); } catch (e) { done = false; }
    if (done) copied(link); else setStatus("Press Ctrl+C (or \u2318C) to copy the selected link.");
  }

  var button = document.getElementById("rk-copy");
  if (button) button.addEventListener("click", copy);
  var input = document.getElementById("rk-link");
  if (input) input.addEventListener("focus", selectLink);

  var last = 0;
  function resize() {
    var h = height();
    if (h !== last) { last = h; post("resize", { height: h }); }
  }
  if (window.ResizeObserver) new ResizeObserver(resize).observe(document.documentElement);
  window.addEventListener("load", resize);
  var unavailable = document.querySelector("[data-state]");
  post("ready", {
    height: height(),
    state: unavailable ? unavailable.getAttribute("data-state") : "ok"
  });
})();
