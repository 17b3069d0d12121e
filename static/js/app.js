// Small glue around htmx; the pages work without it, it only makes them nicer.
document.addEventListener("htmx:wsClose", () => {
  document.body.classList.add("ws-offline");
});
document.addEventListener("htmx:wsOpen", () => {
  document.body.classList.remove("ws-offline");
});
// Read-only fields meant for copying (the share link): one click selects all of it.
document.addEventListener("click", (event) => {
  const field = event.target.closest?.("input[data-select-on-click]");
  if (field) field.select();
});
// A choice made before htmx was listening (a quick click while the page loads, or the browser
// restoring the form on Back) changed the control but not the form that follows it: ask htmx
// for that form now, once, as if the choice were made again.
const differsFromPage = (control) => {
  if (control instanceof HTMLSelectElement) {
    const shipped = [...control.options].findIndex((option) => option.defaultSelected);
    return control.selectedIndex !== Math.max(shipped, 0);
  }
  return control.checked !== control.defaultChecked;
};
const catchUp = () => {
  const changed = [...document.querySelectorAll(
    "input[type=radio][hx-get][hx-trigger=change]:checked, select[hx-get][hx-trigger=change]",
  )].find(differsFromPage);
  if (changed && window.htmx) window.htmx.trigger(changed, "change");
};
document.addEventListener("DOMContentLoaded", catchUp);
window.addEventListener("pageshow", (event) => { if (event.persisted) catchUp(); });
