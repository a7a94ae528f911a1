/* Reviewer pages: zoom on the scanned page, keyboard shortcuts, and the registry's
 * candidates for a field (a button puts one in its field; in a name field keys 1-3 do).
 *
 * A static file because the CSP is default-src 'self' (no inline script, no
 * on* attributes). Everything here is an extra: every action is a plain link
 * or form that works without JavaScript. Approving by keyboard takes two keys
 * on purpose ("a" moves to the approve button, Enter presses it), so a stray
 * key never changes the registry.
 */
(function () {
  "use strict";

  function byId(id) { return document.getElementById(id); }

  function typing(el) {
    if (!el) { return false; }
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  function follow(id) {
    var link = byId(id);
    if (link && link.href) { window.location.assign(link.href); }
  }

  function focusFirst(selector) {
    var el = document.querySelector(selector);
    if (el) {
      el.scrollIntoView({ block: "center" });
      el.focus();
      if (el.select && el.tagName === "INPUT") { el.select(); }
    }
    return el;
  }

  function toggleZoom(img) {
    img.classList.toggle("fit");
    img.classList.toggle("full");
  }

  function toggleHelp(show) {
    var help = byId("help");
    if (!help) { return; }
    help.hidden = show === undefined ? !help.hidden : !show;
    if (!help.hidden) { byId("help-close").focus(); }
  }

  // A registry candidate into its field: the reviewer still saves the corrections.
  function pickOffer(button) {
    var input = byId(button.getAttribute("data-field"));
    if (!input || input.readOnly) { return; }
    input.value = button.getAttribute("data-value");
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.focus();
  }

  function offerByKey(input, key) {
    if (!input.hasAttribute("data-offer-keys") || "123".indexOf(key) < 0) { return false; }
    var list = byId(input.getAttribute("aria-describedby"));
    var buttons = list ? list.querySelectorAll("button.offer") : [];
    var button = buttons[Number(key) - 1];
    if (!button) { return false; }
    pickOffer(button);
    return true;
  }

  document.addEventListener("click", function (event) {
    var offer = event.target.closest ? event.target.closest("button.offer") : null;
    if (offer) { pickOffer(offer); return; }
    var link = event.target.closest ? event.target.closest("a.zoom") : null;
    if (link) {
      var img = link.querySelector("img");
      if (img) {
        event.preventDefault();
        toggleZoom(img);
      }
    }
    if (event.target.id === "help-close") { toggleHelp(false); }
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (event.key === "Escape") {
      toggleHelp(false);
      if (typing(document.activeElement)) { document.activeElement.blur(); }
      return;
    }
    if (event.target.tagName === "INPUT" && offerByKey(event.target, event.key)) {
      event.preventDefault();
      return;
    }
    if (typing(event.target)) { return; }
    var handled = true;
    switch (event.key) {
      case "j": case "n": follow("next-link"); break;
      case "k": case "p": follow("prev-link"); break;
      case "e": focusFirst("#fields-form input[type=text]:not([readonly])"); break;
      case "a": focusFirst("#override_reason") || focusFirst("#approve"); break;
      case "r": focusFirst("#reason_code"); break;
      case "z":
        var img = document.querySelector("a.zoom img");
        if (img) { toggleZoom(img); }
        break;
      case "?": toggleHelp(); break;
      default: handled = false;
    }
    if (handled) { event.preventDefault(); }
  });

  // The keying page: choosing the kind of form shows its fields; an organisationsnummer
  // typed shows the registry's name for it (the server shows it too, after saving).
  document.querySelectorAll("input[data-submit-on-change]").forEach(function (radio) {
    radio.addEventListener("change", function () { radio.form.submit(); });
  });
  document.querySelectorAll("input[data-lookup]").forEach(function (input) {
    var out = document.getElementById(input.getAttribute("aria-describedby"));
    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var digits = input.value.replace(/\D/g, "");
        if (digits.length !== 10 && digits.length !== 12) { out.textContent = ""; return; }
        fetch(input.getAttribute("data-lookup") + "?orgnr=" + encodeURIComponent(input.value),
              {credentials: "same-origin"})
          .then(function (r) { return r.ok ? r.json() : {name: ""}; })
          .then(function (data) {
            out.textContent = data.name ? data.name : "Finns inte i registret";
          })
          .catch(function () { out.textContent = ""; });
      }, 250);
    });
  });
}());
