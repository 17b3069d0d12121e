// The edit studio's source player (templates/generation/edit.html): scrub to a frame, set the
// clip's start and end from it, and, for "Change an area", mark the area on the frame with a
// rectangle, a brush or an eraser. The marks live in a second, hidden canvas at the video's
// own size (white on black); after each stroke it becomes a PNG in the form's mask file input,
// which the server stores losslessly as the job's mask.
(() => {
  const editor = document.querySelector("[data-mask-editor]");
  if (!editor) return;
  const video = editor.querySelector("[data-mask-video]");
  const canvas = editor.querySelector("[data-mask-canvas]");
  const tools = editor.querySelector("[data-mask-tools]");
  const scrub = editor.querySelector("[data-mask-scrub]");
  const status = editor.querySelector("[data-mask-status]");
  const brushSize = editor.querySelector("[data-mask-brush-size]");
  const mask = document.createElement("canvas");
  const view = canvas.getContext("2d");
  const marks = mask.getContext("2d");
  let drawn = null; // the PNG of the marks, once there are any
  let stroke = null;

  const form = () => document.getElementById("generation-form");
  const masking = () => form()?.dataset.editTask === "edit";
  const tool = () => editor.querySelector("input[name=mask-tool]:checked")?.value || "rect";

  const size = () => {
    if (!video.videoWidth || canvas.width === video.videoWidth) return;
    for (const c of [canvas, mask]) {
      c.width = video.videoWidth;
      c.height = video.videoHeight;
    }
    clear();
  };

  const clear = () => {
    view.clearRect(0, 0, canvas.width, canvas.height);
    marks.fillStyle = "#000";
    marks.fillRect(0, 0, mask.width, mask.height);
    drawn = null;
    attach();
  };

  const point = (event) => {
    const box = canvas.getBoundingClientRect();
    return {
      x: ((event.clientX - box.left) / box.width) * canvas.width,
      y: ((event.clientY - box.top) / box.height) * canvas.height,
    };
  };

  const paint = (fn, erase) => {
    view.save();
    view.globalCompositeOperation = erase ? "destination-out" : "source-over";
    view.fillStyle = view.strokeStyle = "#ff2d55";
    fn(view);
    view.restore();
    marks.save();
    marks.fillStyle = marks.strokeStyle = erase ? "#000" : "#fff";
    fn(marks);
    marks.restore();
  };

  const rect = (a, b) => (ctx) => {
    ctx.fillRect(Math.min(a.x, b.x), Math.min(a.y, b.y), Math.abs(b.x - a.x), Math.abs(b.y - a.y));
  };

  const line = (a, b) => (ctx) => {
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.lineWidth = Number(brushSize.value) * (canvas.width / canvas.getBoundingClientRect().width);
    ctx.beginPath();
    ctx.moveTo(a.x, a.y);
    ctx.lineTo(b.x, b.y);
    ctx.stroke();
  };

  const attach = () => {
    const input = form()?.querySelector("input[name=mask_file]");
    if (!input) return;
    const files = new DataTransfer();
    if (drawn) files.items.add(drawn);
    input.files = files.files;
    if (status) status.textContent = drawn ? "Area marked." : "";
  };

  const save = () => {
    mask.toBlob((blob) => {
      drawn = new File([blob], "mask.png", { type: "image/png" });
      attach();
    }, "image/png");
  };

  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    const at = point(event);
    stroke = { start: at, last: at, snapshot: view.getImageData(0, 0, canvas.width, canvas.height) };
    if (tool() !== "rect") paint(line(at, at), tool() === "eraser");
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!stroke) return;
    const at = point(event);
    if (tool() === "rect") {
      // A rubber band: the rectangle is shown as it is dragged, committed on release.
      view.putImageData(stroke.snapshot, 0, 0);
      view.save();
      view.fillStyle = "#ff2d55";
      rect(stroke.start, at)(view);
      view.restore();
    } else {
      paint(line(stroke.last, at), tool() === "eraser");
    }
    stroke.last = at;
  });
  const finish = (event) => {
    if (!stroke) return;
    const at = point(event);
    if (tool() === "rect") {
      view.putImageData(stroke.snapshot, 0, 0);
      paint(rect(stroke.start, at), false);
    }
    stroke = null;
    save();
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  editor.querySelector("[data-mask-clear]")?.addEventListener("click", clear);

  // Scrubbing: the frame under the canvas, and the clip's start and end from it.
  video.addEventListener("loadedmetadata", () => {
    size();
    scrub.max = String(video.duration || 1);
  });
  if (video.readyState >= 1) {
    size();
    scrub.max = String(video.duration || 1);
  }
  scrub.addEventListener("input", () => {
    video.pause();
    video.currentTime = Number(scrub.value);
  });
  video.addEventListener("timeupdate", () => {
    scrub.value = String(video.currentTime);
  });
  editor.querySelectorAll("[data-trim]").forEach((button) => {
    button.addEventListener("click", () => {
      const input = form()?.querySelector(`input[name=${button.dataset.trim}]`);
      if (input) input.value = video.currentTime.toFixed(2);
    });
  });

  // The canvas and tools only for "Change an area"; the form is swapped on every task switch.
  const sync = () => {
    const on = masking();
    canvas.hidden = !on;
    tools.hidden = !on;
    if (on) {
      video.pause();
      attach();
    }
  };
  document.body.addEventListener("htmx:afterSettle", sync);
  sync();
})();
