// Management pages: "tick all" on a list, and a question before a bulk revoke (the CSP
// allows no inline handlers). Without JavaScript every form still works.
"use strict";
document.addEventListener("change", (event) => {
  const all = event.target.closest && event.target.closest("[data-tick-all]");
  if (!all) return;
  for (const box of all.form.querySelectorAll(`input[type=checkbox][name="${all.dataset.tickAll}"]`)) {
    box.checked = all.checked;
  }
});
document.addEventListener("submit", (event) => {
  const button = event.submitter;
  const question = button && button.dataset.confirmBulk;
  if (question && !window.confirm(question)) event.preventDefault();
});
