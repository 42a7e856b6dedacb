// The incident queue: refresh the table every minute unless the user is selecting rows
// for a bulk action (a refresh would drop the ticks); count the ticked rows.
(function () {
  "use strict";
  function table() { return document.getElementById("incident-table"); }
  function ticked() { return document.querySelectorAll(".bulk-select:checked").length; }
  function busy() {
    const form = document.getElementById("bulk-form");
    return ticked() > 0 || (form && form.contains(document.activeElement));
  }
  const seconds = parseInt((table() && table().dataset.refreshSeconds) || "60", 10);
  window.setInterval(function () {
    if (table() && window.htmx && !busy()) {
      window.htmx.trigger(table(), "queue-refresh");
    }
  }, seconds * 1000);
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches(".bulk-select")) {
      const count = document.getElementById("bulk-count");
      const n = ticked();
      if (count) { count.textContent = n ? n + " ticked" : ""; }
    }
  });
})();
