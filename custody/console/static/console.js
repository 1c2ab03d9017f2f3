// custody's console: the little it does in the browser, from custody's own origin (no inline script anywhere).
// Pages work without it; it adds the reveal's timer, copy and hide buttons, and the reason's length counter.
"use strict";

(function () {
  document.documentElement.classList.add("js");

  function hide(el, note) {
    if (!el || el.dataset.hidden === "yes") return;
    el.textContent = "(hidden)";
    el.dataset.hidden = "yes";
    el.classList.add("hidden-code");
    if (note) note.textContent = "The code is hidden; it is not shown again.";
    document.querySelectorAll("[data-copy], [data-hide]").forEach(function (b) { b.disabled = true; });
  }

  document.querySelectorAll("[data-hide-after]").forEach(function (el) {
    var seconds = parseInt(el.dataset.hideAfter, 10);
    var note = document.getElementById("code-note");
    if (seconds > 0) setTimeout(function () { hide(el, note); }, seconds * 1000);
    // Leaving the page (or the browser keeping it for "back") takes the code away too.
    window.addEventListener("pagehide", function () { hide(el, note); });
  });

  document.querySelectorAll("[data-hide]").forEach(function (button) {
    button.addEventListener("click", function () {
      hide(document.getElementById(button.dataset.hide), document.getElementById("code-note"));
    });
  });

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var el = document.getElementById(button.dataset.copy);
      if (!el || el.dataset.hidden === "yes" || !navigator.clipboard) return;
      navigator.clipboard.writeText(el.textContent.trim()).then(function () { button.textContent = "Copied"; });
    });
  });

  document.querySelectorAll("textarea[data-min]").forEach(function (area) {
    var min = parseInt(area.dataset.min, 10);
    var out = document.getElementById("reason-count");
    function count() {
      var n = area.value.trim().split(/\s+/).join(" ").length;
      if (out) out.textContent = n < min ? "(" + n + " of at least " + min + " characters)" : "(" + n + " characters)";
    }
    area.addEventListener("input", count);
    count();
  });
})();
