// Small glue around htmx; the pages work without it, it only makes them nicer.
document.addEventListener("htmx:wsClose", () => {
  document.body.classList.add("ws-offline");
});
document.addEventListener("htmx:wsOpen", () => {
  document.body.classList.remove("ws-offline");
});
