// The main menu on a narrow screen: one button folds the links away and back.
(() => {
  const button = document.querySelector(".nav-toggle");
  const links = button && document.getElementById(button.getAttribute("aria-controls"));
  if (!links) return;
  const setOpen = (open) => button.setAttribute("aria-expanded", String(open));
  button.hidden = false;
  button.addEventListener("click", () => setOpen(button.getAttribute("aria-expanded") !== "true"));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
      setOpen(false);
      button.focus();
    }
  });
  // A click outside the open menu closes it, as menus do.
  document.addEventListener("click", (event) => {
    if (!button.closest(".nav").contains(event.target)) setOpen(false);
  });
})();
