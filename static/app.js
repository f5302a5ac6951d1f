// tokend's page behaviour on top of htmx. Everything here is an enhancement:
// without JavaScript the same steps work as plain links, forms and pages.
(function () {
  "use strict";

  // The element that opened the dialog, to give focus back when it closes.
  let opener = null;

  document.addEventListener("htmx:beforeRequest", function (e) {
    if (e.detail.target && e.detail.target.id === "dialog-slot") {
      opener = e.detail.elt;
    }
  });

  // A dialog that htmx puts on the page opens as a modal once htmx has
  // bound its form (htmx:load, when the swap settles). Opened earlier, at
  // htmx:afterSwap, a Yes, Revoke pressed in the moment between posted the
  // plain form and loaded a whole new page.
  document.addEventListener("htmx:load", function (e) {
    const dialog = e.detail.elt;
    if (dialog.tagName === "DIALOG" && !dialog.open) {
      dialog.addEventListener("close", function () {
        dialog.remove();
        restoreFocus();
      });
      dialog.showModal();
    }
  });

  // The revoke went through: close the dialog. Its row is gone, so the
  // status message takes focus instead. htmx fires htmx:afterRequest after
  // it has swapped in the new lists.
  document.addEventListener("htmx:afterRequest", function (e) {
    const dialog = e.detail.elt.closest && e.detail.elt.closest("dialog");
    if (dialog && e.detail.successful) {
      opener = null;
      dialog.close();
      const flash = document.querySelector("#token-lists [data-testid=flash]");
      if (flash) flash.focus();
    }
  });

  function restoreFocus() {
    if (opener && document.body.contains(opener)) opener.focus();
    opener = null;
  }

  document.addEventListener("click", function (e) {
    const close = e.target.closest("[data-close-dialog]");
    if (close) {
      close.closest("dialog").close();
      return;
    }
    const copy = e.target.closest("[data-copy]");
    if (copy) copyKey(copy);
  });

  // "Select all N matching" takes every token the filters match, not only
  // the rows shown: it ticks the list's rows too, to show so, and unticking
  // a row unticks it.
  document.addEventListener("change", function (e) {
    const box = e.target;
    if (box.matches("[data-select-all]")) {
      document.querySelectorAll('input[name=ids][form="' + box.dataset.selectAll + '"]').forEach(function (row) { row.checked = box.checked; });
    } else if (box.matches("input[name=ids][form]") && !box.checked) {
      const all = document.querySelector('[data-select-all="' + box.getAttribute("form") + '"]');
      if (all) all.checked = false;
    }
  });

  function copyKey(button) {
    const input = document.getElementById(button.dataset.copy);
    const status = document.querySelector("[data-testid=copy-status]");
    input.select();
    const done = function () { status.textContent = "Copied to the clipboard."; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        status.textContent = "Press Ctrl+C (⌘C on a Mac) to copy it.";
      });
    } else if (document.execCommand && document.execCommand("copy")) {
      done();
    } else {
      status.textContent = "Press Ctrl+C (⌘C on a Mac) to copy it.";
    }
  }

  function onReady() {
    // Copy buttons are hidden until there is script to make them work.
    document.querySelectorAll("[data-copy]").forEach(function (b) { b.hidden = false; });
    // The custom date shows only when "Custom date" is the choice.
    const expires = document.getElementById("expires");
    const date = document.getElementById("expires_on");
    if (expires && date) {
      const label = document.querySelector("label[for=expires_on]");
      const sync = function () {
        const custom = expires.value === "custom";
        date.hidden = label.hidden = !custom;
        date.required = custom;
      };
      expires.addEventListener("change", function () {
        sync();
        if (!date.hidden) date.focus();
      });
      sync();
    }
    // A click or Tab into the key selects all of it, ready to copy by hand.
    document.querySelectorAll("input.key").forEach(function (input) {
      input.addEventListener("focus", function () { input.select(); });
    });
    // The page that shows a new key answered a POST. Point the address bar
    // at the plain page, so a reload shows the lists, not a resubmitted form.
    const replace = document.querySelector("[data-replace-url]");
    if (replace) history.replaceState(null, "", replace.dataset.replaceUrl);
  }
  // Leaving the page takes the key (or invitation link) with it, even from
  // a browser that would keep the page to show again on Back.
  window.addEventListener("pagehide", function () {
    document.querySelectorAll("[data-testid=new-key], [data-testid=invitation-link]").forEach(function (box) { box.remove(); });
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", onReady);
  } else {
    onReady();
  }
})();
