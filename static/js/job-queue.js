// The studio's own queue: drag a waiting job by its handle to another place among yours
// (SortableJS: mouse and touch), or use its Move buttons from the keyboard. Either answer
// replaces the job list (and the websocket sends the same list again a moment later), so the
// focus goes back to the button that had it, and the new place is announced.
(() => {
  const wire = (root) => {
    const lists = root.matches?.("[data-sortable]") ? [root]
      : [...(root.querySelectorAll?.("[data-sortable]") || [])];
    lists.forEach((list) => {
      if (list.dataset.sortableReady || !window.Sortable) return;
      list.dataset.sortableReady = "1";
      window.Sortable.create(list, {
        handle: ".drag-handle", draggable: ".queue-item", animation: 150,
        // The order posted is the hidden inputs' order in the list (hx-include).
        onUpdate: (event) => {
          moved = event.item.dataset.job;
          htmx.trigger(list, "queue-reordered");
        },
      });
    });
  };

  let focusKey = null; // the focused control in the job list, kept while swaps replace it
  let moved = null; // the job whose new place is to be announced
  document.addEventListener("focusin", (event) => {
    const key = event.target.closest?.("#job-list [data-focus-key]")?.dataset.focusKey;
    focusKey = key || null;
  });
  document.addEventListener("focusout", (event) => {
    const left = event.target;
    // Still on the page: the person moved on. Gone: a swap took it, so it comes back.
    setTimeout(() => { if (left.isConnected && !left.contains(document.activeElement)) focusKey = null; });
  });
  document.addEventListener("submit", (event) => {
    const where = event.target.querySelector?.("input[name=where]");
    if (where) moved = event.target.closest(".queue-item")?.dataset.job || null;
  });

  const jobOf = (key) => key && key.replace(/^(top|up|down)-/, "");
  const restore = () => {
    const active = document.activeElement;
    if (focusKey && (!active || active === document.body || !active.isConnected)) {
      const job = jobOf(focusKey);
      const target = document.querySelector(`[data-focus-key="${focusKey}"]`)
        // At the top there is no Move up: the job's other Move button, else its card.
        || document.querySelector(`.queue-item[data-job="${job}"] [data-focus-key]`)
        || document.querySelector(`[data-focus-key="queue-toggle"]`);
      target?.focus();
    }
    if (moved) {
      const items = [...document.querySelectorAll("#my-queue .queue-item")];
      const place = items.findIndex((item) => item.dataset.job === moved) + 1;
      const announcer = document.getElementById("job-announcer");
      if (place && announcer) announcer.textContent = `Moved to number ${place} of your ${items.length} waiting jobs.`;
      moved = null;
    }
  };

  htmx.onLoad(wire);
  document.addEventListener("htmx:afterSettle", restore);
  document.addEventListener("htmx:oobAfterSwap", restore);
  document.addEventListener("htmx:wsAfterMessage", restore);
})();
