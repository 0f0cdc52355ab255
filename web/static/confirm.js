// Forms with data-confirm ask before they post (the CSP allows no inline onsubmit handlers).
"use strict";
document.addEventListener("submit", (event) => {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
