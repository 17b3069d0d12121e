// Mask tracking for the mask editor: send the clicks on a source video, wait while the models
// worker follows the subject with SAM 2, and get back the lossless mask video (an upload of
// the user's, ready for a masked edit).
//
//   const {mask_upload, mask_url} = await framecraft.trackMask({
//     source_video: "<video id>",            // or source_upload: "<upload id>"
//     clicks: [[0, 120, 80, true], [40, 60, 200, false]],  // [frame, x, y, positive], source pixels
//     start_s: 0, num_frames: 81, preset: "wan2.1-vace-1.3b",  // or fps: 16
//     onStatus: (state) => {},                // each poll's {status, message}
//   });
(() => {
  "use strict";

  const csrfToken = () => {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  };

  const wait = (ms, signal) => new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, {once: true});
  });

  async function answer(response) {
    let state = {};
    try {
      state = await response.json();
    } catch (error) {
      state = {};
    }
    if (!response.ok) {
      throw new Error(state.error || (response.status === 404
        ? "That video is not one of yours."
        : `Mask tracking was refused (${response.status}).`));
    }
    return state;
  }

  async function trackMask(options) {
    const {url = "/masks/track/", clicks, onStatus, signal, pollMs = 1000} = options;
    const body = new FormData();
    for (const name of ["source_video", "source_upload", "start_s", "num_frames", "fps", "preset"]) {
      if (options[name] !== undefined && options[name] !== null) body.append(name, options[name]);
    }
    body.append("clicks", JSON.stringify(clicks || []));
    let state = await answer(await fetch(url, {
      method: "POST", body, signal, credentials: "same-origin",
      headers: {"X-CSRFToken": csrfToken()},
    }));
    onStatus?.(state);
    while (state.status === "queued" || state.status === "running") {
      await wait(pollMs, signal);
      state = await answer(await fetch(state.status_url, {signal, credentials: "same-origin"}));
      onStatus?.(state);
    }
    if (state.status !== "succeeded") {
      throw new Error(state.message || "The mask could not be tracked.");
    }
    return state;
  }

  window.framecraft = Object.assign(window.framecraft || {}, {trackMask});
})();
