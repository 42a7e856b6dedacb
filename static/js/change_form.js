// The change form: picking a standard template fills the plans that are still empty (nothing is overwritten).
(function () {
  "use strict";
  const data = document.getElementById("template-plans");
  const select = document.getElementById("id_template");
  if (!data || !select) return;
  const plans = JSON.parse(data.textContent);
  select.addEventListener("change", function () {
    const plan = plans[select.value];
    if (!plan) return;
    for (const [name, value] of Object.entries(plan)) {
      const input = document.getElementById("id_" + name);
      if (input && !input.value.trim() && value) input.value = value;
    }
    const type = document.getElementById("id_change_type");
    if (type && type.value !== "standard") type.value = "standard";
  });
})();
