// The gallery's bulk delete (templates/gallery/gallery.html): the tiles' checkboxes belong to
// the #bulk-delete form; this counts them, offers "Select all shown", keeps "Delete selected"
// off while nothing is ticked and asks before the form is sent. Tiles come and go with htmx
// (filters, "load more"), so every count is taken afresh from the page.
(() => {
  "use strict";

  const form = document.querySelector("[data-bulk-form]");
  if (!form) return;
  const count = form.querySelector("[data-bulk-count]");
  const remove = form.querySelector("[data-bulk-delete]");
  const all = form.querySelector("[data-bulk-all]");
  const boxes = () => [...document.querySelectorAll("input[data-bulk-select]")];
  const ticked = () => boxes().filter((box) => box.checked);

  const update = () => {
    const n = ticked().length;
    count.textContent = n ? `${n} selected` : "";
    remove.disabled = n === 0;
    all.hidden = boxes().length === 0;
    all.textContent = n && n === boxes().length ? "Select none" : "Select all shown";
    for (const box of boxes()) box.closest(".tile")?.classList.toggle("selected", box.checked);
  };

  document.addEventListener("change", (event) => {
    if (event.target.matches?.("input[data-bulk-select]")) update();
  });
  all.addEventListener("click", () => {
    const on = ticked().length !== boxes().length;
    for (const box of boxes()) box.checked = on;
    update();
  });
  form.addEventListener("submit", (event) => {
    const n = ticked().length;
    if (!n || !window.confirm(`Delete ${n} video${n === 1 ? "" : "s"}? This cannot be undone.`)) {
      event.preventDefault();
    }
  });
  document.body.addEventListener("htmx:afterSettle", update);
  update();
})();
