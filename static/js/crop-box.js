// The crop box on the image form's start image (templates/generation/partials/crop_box.html):
// while the fit is "crop", a box of the chosen size's aspect ratio over the image's preview,
// moved by dragging or the arrow keys and sized by a slider; it fills the hidden crop fields
// in the image's own pixels, which the server checks again.
(() => {
  const clamp = (value, low, high) => Math.min(Math.max(value, low), high);

  const setup = (editor) => {
    if (editor.dataset.ready) return;
    editor.dataset.ready = "1";
    const form = editor.closest("form");
    const field = (name) => form.querySelector(`[name="${name}"]`);
    const fit = field("fit");
    const size = field("size");
    const names = ["crop_left", "crop_top", "crop_right", "crop_bottom"];
    const sourceW = Number(editor.dataset.sourceWidth);
    const sourceH = Number(editor.dataset.sourceHeight);
    const image = editor.querySelector("[data-crop-image]");
    const box = editor.querySelector("[data-crop-box]");
    const scale = editor.querySelector("[data-crop-scale]");
    const readout = editor.querySelector("[data-crop-readout]");
    let crop = null; // {left, top, width, height} in source pixels

    const aspect = () => {
      const [w, h] = (size?.value || "1x1").split("x").map(Number);
      return w > 0 && h > 0 ? w / h : 1;
    };
    // The largest region of the video's aspect ratio that the image holds.
    const largest = () => {
      const a = aspect();
      return sourceW / sourceH > a
        ? { width: Math.max(1, Math.round(sourceH * a)), height: sourceH }
        : { width: sourceW, height: Math.max(1, Math.round(sourceW / a)) };
    };

    const fromFields = () => {
      const [l, t, r, b] = names.map((name) => field(name)?.value).map((v) => (v === "" ? NaN : Number(v)));
      if (![l, t, r, b].every(Number.isInteger)) return null;
      if (!(0 <= l && l < r && r <= sourceW && 0 <= t && t < b && b <= sourceH)) return null;
      return { left: l, top: t, width: r - l, height: b - t };
    };

    const reshape = () => {
      const full = largest();
      const s = Number(scale.value) / 100;
      const width = Math.max(1, Math.round(full.width * s));
      const height = Math.max(1, Math.round(full.height * s));
      const cx = crop ? crop.left + crop.width / 2 : sourceW / 2;
      const cy = crop ? crop.top + crop.height / 2 : sourceH / 2;
      crop = {
        width, height,
        left: clamp(Math.round(cx - width / 2), 0, sourceW - width),
        top: clamp(Math.round(cy - height / 2), 0, sourceH - height),
      };
    };

    const draw = () => {
      if (!crop || !image.clientWidth) return;
      const k = image.clientWidth / sourceW;
      box.style.left = `${crop.left * k}px`;
      box.style.top = `${crop.top * k}px`;
      box.style.width = `${crop.width * k}px`;
      box.style.height = `${crop.height * k}px`;
    };

    const write = () => {
      const values = [crop.left, crop.top, crop.left + crop.width, crop.top + crop.height];
      names.forEach((name, i) => { const input = field(name); if (input) input.value = String(values[i]); });
      readout.textContent = `${crop.width} × ${crop.height} pixels from (${crop.left}, ${crop.top})`;
      draw();
    };

    const clear = () => names.forEach((name) => { const input = field(name); if (input) input.value = ""; });

    const sync = () => {
      const on = fit?.value === "crop";
      editor.hidden = !on;
      if (!on) { clear(); return; }
      if (!crop) {
        crop = fromFields();
        if (crop) scale.value = String(clamp(Math.round((100 * crop.width) / largest().width), 20, 100));
        else reshape();
      }
      write();
    };

    const moveTo = (left, top) => {
      crop.left = clamp(Math.round(left), 0, sourceW - crop.width);
      crop.top = clamp(Math.round(top), 0, sourceH - crop.height);
      write();
    };

    box.addEventListener("pointerdown", (event) => {
      if (!crop) return;
      event.preventDefault();
      box.setPointerCapture(event.pointerId);
      const start = { x: event.clientX, y: event.clientY, left: crop.left, top: crop.top };
      const k = image.clientWidth / sourceW;
      const move = (e) => moveTo(start.left + (e.clientX - start.x) / k, start.top + (e.clientY - start.y) / k);
      const stop = () => {
        box.removeEventListener("pointermove", move);
        box.removeEventListener("pointerup", stop);
        box.removeEventListener("pointercancel", stop);
      };
      box.addEventListener("pointermove", move);
      box.addEventListener("pointerup", stop);
      box.addEventListener("pointercancel", stop);
    });

    box.addEventListener("keydown", (event) => {
      const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
      const move = moves[event.key];
      if (!move || !crop) return;
      event.preventDefault();
      const stepPx = Math.max(1, Math.round(Math.max(sourceW, sourceH) * (event.shiftKey ? 0.1 : 0.01)));
      moveTo(crop.left + move[0] * stepPx, crop.top + move[1] * stepPx);
    });

    scale.addEventListener("input", () => { reshape(); write(); });
    fit?.addEventListener("change", sync);
    size?.addEventListener("change", () => { if (fit?.value === "crop") { reshape(); write(); } });
    image.addEventListener("load", draw);
    window.addEventListener("resize", draw);
    sync();
  };

  const init = (root) => {
    if (root.matches?.("[data-crop-editor]")) setup(root);
    root.querySelectorAll?.("[data-crop-editor]").forEach(setup);
  };
  document.addEventListener("htmx:load", (event) => init(event.target));
  init(document);
})();
