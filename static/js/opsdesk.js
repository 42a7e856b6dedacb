// Small behaviours shared by the pages (no inline scripts: the Content-Security-Policy forbids them).
(function () {
  "use strict";
  // <button data-confirm="…">: ask before submitting its form.
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });
  // <select data-submit-on-change>: submit its form when the choice changes (no inline handler).
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("[data-submit-on-change]") && event.target.form) {
      event.target.form.submit();
    }
  });
  // <input data-select-on-focus>: select the whole value (a URL to copy).
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-select-on-focus]")) {
      event.target.select();
    }
  });
  // <select data-submit-on-change>: submit its form when the choice changes.
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("[data-submit-on-change]") && event.target.form) {
      event.target.form.submit();
    }
  });
})();
