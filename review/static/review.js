/* Reviewer pages: zoom on the scanned page, keyboard shortcuts, the registry's
 * candidates for a field (a button puts one in its field; in a name field keys 1-3 do),
 * the field's box on the page while it is edited, and Enter in a field to check: the
 * corrections are saved in the background and the findings, fields and plan are
 * replaced by the server's new page, then the next field to check gets the focus.
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

  // -- the field being looked at, shown on the page ----------------------------------------
  function rowOf(el) { return el && el.closest ? el.closest("[data-field]") : null; }

  function showBox(name, zoom) {
    document.querySelectorAll("svg.boxes rect.active, .check-row.active, tr.active")
      .forEach(function (el) { el.classList.remove("active"); });
    var row = byId("row-" + name);
    if (row) { row.classList.add("active"); }
    var rect = byId("box-" + name);
    if (!rect) { return; }
    rect.classList.add("active");
    var svg = rect.ownerSVGElement;
    var img = svg.parentNode.querySelector("img.page");
    if (zoom && img && img.classList.contains("fit")) { toggleZoom(img); }
    var scan = document.querySelector(".scan");
    if (!scan || !img) { return; }
    // viewBox is the A4 page in mm: the box's place in the picture as it is drawn now.
    var scale = img.clientWidth / 210;
    var x = Number(rect.getAttribute("x")) * scale, y = Number(rect.getAttribute("y")) * scale;
    var top = img.offsetTop + y - scan.clientHeight / 3;
    var left = img.offsetLeft + x - scan.clientWidth / 4;
    scan.scrollTo({ top: Math.max(0, top), left: Math.max(0, left) });
  }

  document.addEventListener("focusin", function (event) {
    var row = rowOf(event.target);
    if (row && row.closest("#fields-form")) { showBox(row.getAttribute("data-field"), false); }
  });

  function focusRow(row) {
    var el = row.querySelector("input[type=radio]:checked") ||
             row.querySelector("input:not([type=hidden]), textarea");
    if (!el) { return false; }
    el.focus();
    if (el.select && el.type === "text") { el.select(); }
    row.scrollIntoView({ block: "nearest" });
    return true;
  }

  function firstToCheck() {
    var row = document.querySelector("#check-list .check-row");
    return row ? focusRow(row) : false;
  }

  // -- Enter in a field to check: save, new findings, next field ----------------------------
  var saving = false;

  function saveAndNext(input) {
    var form = byId("fields-form");
    var row = rowOf(input);
    if (!form || !row || saving) { return; }
    var name = row.getAttribute("data-field");
    var order = Array.prototype.map.call(
      document.querySelectorAll("#check-list .check-row"),
      function (r) { return r.getAttribute("data-field"); });
    var data = new FormData(form);
    var changed = input.type === "radio" ? !input.defaultChecked : input.value !== input.defaultValue;
    if (!changed) { data.set("bekrafta", name); }
    saving = true;
    row.classList.add("saving");
    fetch(form.action, { method: "POST", body: new URLSearchParams(data), credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        // Read before the nodes move over: moving one takes it out of `doc`.
        var failed = doc.getElementById("error") !== null;
        var fresh = doc.getElementById("facts");
        var facts = byId("facts");
        if (!fresh || !facts) { form.submit(); return; }
        facts.replaceWith(fresh);
        ["error", "notice"].forEach(function (id) {
          var old = byId(id), now = doc.getElementById(id);
          if (old) { old.remove(); }
          if (now) { document.querySelector(".claim").before(now); }
        });
        var claim = doc.querySelector(".claim"), here = document.querySelector(".claim");
        if (claim && here) { here.replaceWith(claim); }
        var boxes = doc.querySelector("svg.boxes"), mine = document.querySelector("svg.boxes");
        if (boxes && mine) { mine.replaceWith(boxes); }
        if (failed) {  // refused (not a valid value): stay on the field, the message above
          var again = byId("row-" + name);
          if (again) { focusRow(again); }
          return;
        }
        // The next field after this one that still needs a look; after the last, the plan
        // (what approving would do), never round again to fields already answered.
        var after = order.slice(order.indexOf(name) + 1);
        for (var i = 0; i < after.length; i += 1) {
          var next = document.querySelector('#check-list .check-row[data-field="' + after[i] + '"]');
          if (next && focusRow(next)) { return; }
        }
        var plan = byId("plan-title");
        if (plan) { plan.focus(); plan.scrollIntoView({ block: "start" }); }
      })
      .catch(function () { form.submit(); })
      .finally(function () { saving = false; });
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
    if (event.key === "Enter" && event.target.tagName === "INPUT" &&
        event.target.closest("#check-list") && !event.target.readOnly) {
      event.preventDefault();
      saveAndNext(event.target);
      return;
    }
    // In the approval: 1-4 pick a reason for the override, then Enter approves.
    if (event.target.closest && event.target.closest("#override-presets") &&
        "123456789".indexOf(event.key) >= 0) {
      var preset = byId("preset-" + event.key);
      if (preset) {
        event.preventDefault();
        preset.checked = true;
        byId("approve").focus();
        return;
      }
    }

    if (typing(event.target)) { return; }
    var handled = true;
    switch (event.key) {
      case "j": case "n": follow("next-link"); break;
      case "k": case "p": follow("prev-link"); break;
      case "e": firstToCheck() || focusFirst("#fields-form input:not([type=hidden]):not([readonly])"); break;
      case "t": var take = byId("take"); if (take) { take.click(); } break;
      case "a": focusFirst("#override-presets input[type=radio]") || focusFirst("#approve"); break;
      case "r": focusFirst("#reason_code"); break;
      case "z":
        var active = document.querySelector("svg.boxes rect.active");
        var img = document.querySelector("a.zoom img");
        if (active && img && img.classList.contains("fit")) {
          showBox(active.id.slice(4), true);
        } else if (img) { toggleZoom(img); }
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
