// The petition form: choosing a claim opens its amount and period fields, and
// unchoosing it folds them away. Without JavaScript the fields open by clicking the
// claim's row, and the server ignores amounts of claims that are not chosen.
"use strict";
for (const box of document.querySelectorAll("details.claim > summary input[type=checkbox]")) {
  const details = box.closest("details");
  box.addEventListener("change", () => {
    details.open = box.checked;
    if (box.checked) {
      const first = details.querySelector("input:not([type=checkbox]), textarea");
      if (first) first.focus();
    }
  });
}
