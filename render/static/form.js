// The public form page: after a failed submit, focus goes to the error summary, so a
// keyboard or screen-reader user starts where the page says what to fix. A link in the
// summary moves focus to its field and scrolls so that the field's label shows too.
"use strict";
(function () {
  var summary = document.getElementById("fel");
  if (!summary) {
    return;
  }
  summary.focus();
  summary.addEventListener("click", function (event) {
    var link = event.target.closest("a[href^='#']");
    if (!link) {
      return;
    }
    var input = document.getElementById(link.getAttribute("href").slice(1));
    if (!input) {
      return;
    }
    event.preventDefault();
    var field = input.closest(".field") || input;
    field.scrollIntoView({ block: "start" });
    input.focus({ preventScroll: true });
    history.replaceState(null, "", link.getAttribute("href"));
  });
})();
