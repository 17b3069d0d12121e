// The edit studio's source player (templates/generation/edit.html): scrub to a frame, set the
// clip's start and end from it, and, for "Change an area", mark the area on the frame with a
// rectangle, a brush or an eraser. The marks live in a second, hidden canvas at the video's
// own size (white on black); after each stroke it becomes a PNG in the form's mask file input,
// which the server stores losslessly as the job's mask.
// The canvas only shows the marks: the pointer goes to a hit area over the frame that stops
// short of the player's control bar, so Play, the timeline and the volume stay the player's
// (a stroke started above the bar may still run over it, to mark the frame's foot).
// "Follow a subject" instead takes clicks on paused frames (shift or alt, or the box, for a
// spot that is not the subject) and has the models worker track the subject over the job's
// clip (framecraft.trackMask, static/js/mask-tracking.js); the tracked mask video becomes the
// form's mask. Drawn marks and tracking clicks replace one another: a mask is one or the other.
(() => {
  const editor = document.querySelector("[data-mask-editor]");
  if (!editor) return;
  const video = editor.querySelector("[data-mask-video]");
  const canvas = editor.querySelector("[data-mask-canvas]");
  const tools = editor.querySelector("[data-mask-tools]");
  const scrub = editor.querySelector("[data-mask-scrub]");
  const status = editor.querySelector("[data-mask-status]");
  const brushSize = editor.querySelector("[data-mask-brush-size]");
  const trackTools = editor.querySelector("[data-track-tools]");
  const trackButton = editor.querySelector("[data-track-start]");
  const negative = editor.querySelector("[data-track-negative]");
  const clickCount = editor.querySelector("[data-track-count]");
  const preview = editor.querySelector("[data-track-preview]");
  const trackRadio = editor.querySelector("input[name=mask-tool][value=track]");
  const hit = document.createElement("div");
  hit.className = "mask-hit";
  hit.dataset.maskHit = "";
  hit.hidden = true;
  canvas.after(hit);
  // Why "Follow a subject" is off, beside the tool itself (the form's note is copied here).
  const trackNote = document.createElement("p");
  trackNote.className = "muted small tracking-missing";
  trackNote.id = "tracking-missing-note";
  trackNote.hidden = true;
  tools.querySelector("fieldset").after(trackNote);
  const mask = document.createElement("canvas");
  const view = canvas.getContext("2d");
  const marks = mask.getContext("2d");
  let drawn = null; // the PNG of the marks, once there are any
  let stroke = null;
  let clicks = []; // {time, x, y, positive}: where the subject is (or is not), in video pixels
  let tracked = null; // {upload, url} of the tracked mask, once there is one

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

  const clearMarks = () => {
    marks.fillStyle = "#000";
    marks.fillRect(0, 0, mask.width, mask.height);
    drawn = null;
  };

  const clearClicks = () => {
    clicks = [];
    tracked = null;
    preview.hidden = true;
    preview.removeAttribute("src");
    const id = form()?.querySelector("input[name=mask]");
    if (id) id.value = "";
  };

  const clear = () => {
    view.clearRect(0, 0, canvas.width, canvas.height);
    clearMarks();
    clearClicks();
    attach();
    showClicks();
  };

  const fps = () => Number(form()?.dataset.fps) || 16;

  // The view shows the marks for the drawing tools, and the clicks on this frame for tracking.
  const showMarks = () => {
    const pixels = marks.getImageData(0, 0, mask.width, mask.height);
    const shown = view.createImageData(canvas.width, canvas.height);
    for (let i = 0; i < pixels.data.length; i += 4) {
      if (pixels.data[i] > 127) shown.data.set([255, 45, 85, 255], i);
    }
    view.putImageData(shown, 0, 0);
  };

  const showClicks = () => {
    const positives = clicks.filter((c) => c.positive).length;
    trackButton.disabled = positives === 0;
    clickCount.textContent = clicks.length
      ? `${positives} on the subject, ${clicks.length - positives} off it` : "";
    if (tool() !== "track") return;
    view.clearRect(0, 0, canvas.width, canvas.height);
    const radius = 6 * (canvas.width / (canvas.getBoundingClientRect().width || canvas.width));
    for (const c of clicks) {
      if (Math.abs(c.time - video.currentTime) > 0.5 / fps()) continue;
      view.beginPath();
      view.arc(c.x, c.y, radius, 0, 2 * Math.PI);
      view.fillStyle = c.positive ? "#34c759" : "#ff2d55";
      view.fill();
      view.lineWidth = radius / 3;
      view.strokeStyle = "#fff";
      view.stroke();
    }
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
    const id = form().querySelector("input[name=mask]");
    if (id && tracked) id.value = tracked.upload;
    if (status) {
      status.textContent = tracked ? "Mask tracked: it follows the subject through the clip."
        : drawn ? "Area marked." : "";
    }
  };

  const say = (message) => {
    if (status) status.textContent = message;
  };

  // The clicks go to the worker as [frame, x, y, positive], frames counted in the job's clip:
  // from its start, at the model's frame rate, as many as the job takes.
  const track = async () => {
    const f = form();
    const start = Number(f.querySelector("input[name=trim_start]")?.value || 0);
    const count = Number(f.querySelector("[name=num_frames]")?.value);
    const rate = fps();
    if (!(count >= 1)) {
      say("Choose the model and the number of frames (under Settings) before tracking.");
      return;
    }
    const prompts = clicks.map((c) => [Math.round((c.time - start) * rate), c.x, c.y, c.positive]);
    if (prompts.some(([frame]) => frame < 0 || frame >= count)) {
      say(`Click on frames of the clip: ${count} frames from ${start} s ` +
          `(to ${(start + (count - 1) / rate).toFixed(2)} s).`);
      return;
    }
    trackButton.disabled = true;
    try {
      const state = await window.framecraft.trackMask({
        source_video: f.querySelector("input[name=source_video]")?.value || undefined,
        source_upload: f.querySelector("input[name=source_upload]")?.value || undefined,
        preset: f.querySelector("[name=preset]")?.value, start_s: start, num_frames: count,
        clicks: prompts,
        onStatus: (s) => say(s.status === "queued" ? "Waiting for the models worker…"
          : s.status === "running" ? `Following the subject over ${count} frames…` : ""),
      });
      tracked = {upload: state.mask_upload, url: state.mask_url};
      preview.src = state.mask_url;
      preview.hidden = false;
      preview.play().catch(() => {});
      attach();
    } catch (error) {
      say(error.message);
    } finally {
      trackButton.disabled = !clicks.some((c) => c.positive);
    }
  };

  const save = () => {
    mask.toBlob((blob) => {
      drawn = new File([blob], "mask.png", { type: "image/png" });
      attach();
    }, "image/png");
  };

  hit.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    const at = point(event);
    if (tool() === "track") {
      video.pause();
      if (drawn) {
        clearMarks();
        attach();
      }
      const positive = !(event.shiftKey || event.altKey || negative.checked);
      clicks.push({time: video.currentTime, x: Math.round(at.x * 10) / 10,
                   y: Math.round(at.y * 10) / 10, positive});
      showClicks();
      return;
    }
    if (clicks.length || tracked) {
      clearClicks();
      showMarks();
      attach();
    }
    hit.setPointerCapture(event.pointerId);
    stroke = { start: at, last: at, snapshot: view.getImageData(0, 0, canvas.width, canvas.height) };
    if (tool() !== "rect") paint(line(at, at), tool() === "eraser");
  });
  hit.addEventListener("pointermove", (event) => {
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
  hit.addEventListener("pointerup", finish);
  hit.addEventListener("pointercancel", finish);
  editor.querySelector("[data-mask-clear]")?.addEventListener("click", clear);
  trackButton.addEventListener("click", track);
  editor.querySelectorAll("input[name=mask-tool]").forEach((radio) => {
    radio.addEventListener("change", () => {
      trackTools.hidden = tool() !== "track";
      if (tool() === "track") showClicks();
      else showMarks();
    });
  });
  video.addEventListener("seeked", showClicks);

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

  // "Follow a subject" needs the SAM 2 helper on the models worker; without it the form says
  // so (data-tracking-missing) and the tool is off, rather than failing after the clicks.
  const offerTracking = () => {
    const missing = form()?.querySelector("[data-tracking-missing]");
    trackRadio.disabled = Boolean(missing);
    trackNote.hidden = !missing;
    if (missing) {
      trackNote.replaceChildren(...missing.cloneNode(true).childNodes);
      missing.hidden = true;
      trackRadio.setAttribute("aria-describedby", trackNote.id);
      if (trackRadio.checked) {
        editor.querySelector("input[name=mask-tool][value=rect]").checked = true;
        trackTools.hidden = true;
        clearClicks();
        showMarks();
      }
    } else {
      trackRadio.removeAttribute("aria-describedby");
    }
  };

  // The canvas and tools only for "Change an area"; the form is swapped on every task switch.
  const sync = () => {
    const on = masking();
    canvas.hidden = !on;
    hit.hidden = !on;
    tools.hidden = !on;
    offerTracking();
    if (on) {
      video.pause();
      attach();
    }
  };
  document.body.addEventListener("htmx:afterSettle", sync);
  sync();
})();
