// The keyframe timeline of the image form (templates/generation/partials/keyframes.html): each
// keyframe's marker sits at its frame; dragging a marker or typing a frame snaps it to the
// frames the model allows; Remove drops a row. The server checks everything again.
(() => {
  const setup = (section) => {
    if (section.dataset.ready) return;
    section.dataset.ready = "1";
    const form = section.closest("form");
    const timeline = section.querySelector("[data-timeline]");
    const step = Number(section.dataset.step);
    const fps = Number(section.dataset.fps);
    const lengthInput = form.querySelector('[name="num_frames"]');
    const frames = () => Number(lengthInput?.value || section.dataset.frames);
    const last = () => Math.floor((frames() - 1) / step) * step;
    const snap = (frame) => Math.min(Math.max(Math.round(frame / step) * step, step), Math.max(step, last()));
    const marker = (row) => timeline.querySelector(`[data-marker="${row.dataset.keyframe}"]`);
    const rows = () => [...section.querySelectorAll("[data-keyframe]")];

    const place = (element, frame) => {
      if (element) element.style.left = `${(100 * frame) / Math.max(1, frames() - 1)}%`;
    };

    const show = (row) => {
      const input = row.querySelector("[data-keyframe-frame]");
      const frame = Number(input.value);
      input.max = String(frames() - 1);
      const time = row.querySelector("[data-keyframe-time]");
      if (time) time.textContent = Number.isFinite(frame) ? `${(frame / fps).toFixed(2)} s` : "";
      place(marker(row), frame);
    };

    const showAll = () => { place(timeline.querySelector('[data-marker="start"]'), 0); rows().forEach(show); };

    section.addEventListener("input", (event) => {
      const row = event.target.closest("[data-keyframe]");
      if (!row) return;
      if (event.target.matches("[data-keyframe-strength]")) {
        row.querySelector("[data-keyframe-strength-value]").textContent = event.target.value;
      } else if (event.target.matches("[data-keyframe-frame]")) {
        show(row);
      }
    });
    section.addEventListener("change", (event) => {
      if (!event.target.matches("[data-keyframe-frame]")) return;
      const value = Number(event.target.value);
      if (Number.isFinite(value) && value > 0) event.target.value = String(snap(value));
      show(event.target.closest("[data-keyframe]"));
    });
    section.addEventListener("click", (event) => {
      const button = event.target.closest("[data-keyframe-remove]");
      if (!button) return;
      const row = button.closest("[data-keyframe]");
      marker(row)?.remove();
      row.remove();
    });

    timeline.addEventListener("pointerdown", (event) => {
      const dragged = event.target.closest("[data-marker]");
      if (!dragged || dragged.dataset.marker === "start") return;
      const row = section.querySelector(`[data-keyframe="${dragged.dataset.marker}"]`);
      const input = row?.querySelector("[data-keyframe-frame]");
      if (!input) return;
      event.preventDefault();
      dragged.setPointerCapture(event.pointerId);
      const move = (e) => {
        const box = timeline.getBoundingClientRect();
        input.value = String(snap(((e.clientX - box.left) / box.width) * (frames() - 1)));
        show(row);
      };
      const stop = () => {
        dragged.removeEventListener("pointermove", move);
        dragged.removeEventListener("pointerup", stop);
        dragged.removeEventListener("pointercancel", stop);
      };
      dragged.addEventListener("pointermove", move);
      dragged.addEventListener("pointerup", stop);
      dragged.addEventListener("pointercancel", stop);
    });

    lengthInput?.addEventListener("change", showAll);
    showAll();
  };

  const init = (root) => {
    if (root.matches?.("[data-keyframes]")) setup(root);
    root.querySelectorAll?.("[data-keyframes]").forEach(setup);
  };
  document.addEventListener("htmx:load", (event) => init(event.target));
  init(document);
})();
