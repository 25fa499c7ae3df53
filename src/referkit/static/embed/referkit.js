// Referkit embed loader: <script src="https://referkit.example/embed/referkit.js"></script>
// then Referkit.mount(element, {token: "rke1…", theme: "auto"}).
// It frames the referrer dashboard, sizes the frame to its content and re-emits the frame's
// `ready` and `copied` events on the element (as `referkit:ready`, `referkit:copied`) and to
// the `onReady` / `onCopied` callbacks. Only messages from this script's own origin, sent by
// the frame it created, are read.
(function () {
  "use strict";
  var script = document.currentScript;
  var base = script ? new URL(script.src).origin : "";
  var STYLE_KEYS = ["accent", "background", "radius", "font"];

  function mount(element, options) {
    if (typeof element === "string") element = document.querySelector(element);
    if (!element) throw new Error("Referkit.mount: no such element");
    options = options || {};
    if (!options.token) throw new Error("Referkit.mount: a token is required");
    var url = new URL("/embed/referrer", options.baseUrl || base);
    url.searchParams.set("token", options.token);
    url.searchParams.set("origin", window.location.origin);
    if (options.theme) url.searchParams.set("theme", options.theme);
    STYLE_KEYS.forEach(function (key) {
      if (options[key] !== undefined && options[key] !== null) {
        url.searchParams.set(key, String(options[key]));
      }
    });
    var frameOrigin = url.origin;
    var iframe = document.createElement("iframe");
    iframe.src = url.toString();
    iframe.title = options.title || "Your referral dashboard";
    iframe.allow = "clipboard-write";
    iframe.referrerPolicy = "origin";
    iframe.style.width = "100%";
    iframe.style.border = "0";
    iframe.style.display = "block";
    iframe.style.height = (options.height || 560) + "px";

    var callbacks = { ready: options.onReady, copied: options.onCopied };
    function onMessage(event) {
      if (event.origin !== frameOrigin || event.source !== iframe.contentWindow) return;
      var data = event.data;
      if (!data || data.source !== "referkit" || typeof data.type !== "string") return;
      var detail = data.detail || {};
      if (typeof detail.height === "number" && detail.height > 0) {
        iframe.style.height = Math.ceil(detail.height) + "px";
      }
      if (data.type === "ready" || data.type === "copied") {
        element.dispatchEvent(new CustomEvent("referkit:" + data.type, { detail: detail }));
        if (typeof callbacks[data.type] === "function") callbacks[data.type](detail);
      }
    }
    window.addEventListener("message", onMessage);
    element.appendChild(iframe);
    return {
      iframe: iframe,
      destroy: function () {
        window.removeEventListener("message", onMessage);
        if (iframe.parentNode) iframe.parentNode.removeChild(iframe);
      }
    };
  }

  window.Referkit = { mount: mount, version: "1" };
})();
