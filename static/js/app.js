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
