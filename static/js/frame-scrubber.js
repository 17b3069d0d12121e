// "Animate a frame" on a video's page: the range input seeks the player to the frame it
// names, and follows the player when it is played or paused, so what is shown is what is sent.
(() => {
  for (const form of document.querySelectorAll("[data-frame-scrubber]")) {
    const input = form.querySelector("[data-frame-input]");
    const readout = form.querySelector("[data-frame-readout]");
    const video = document.querySelector("video.player");
    const fps = Number(form.dataset.fps) || 25;
    const count = Number(input.max) + 1;
    const say = () => { readout.textContent = `frame ${input.value} of ${count} · ${(Number(input.value) / fps).toFixed(2)} s`; };
    let scrubbing = false;
    input.addEventListener("input", () => {
      say();
      if (!video) return;
      scrubbing = true;
      video.pause();
      // The middle of the frame's time span: never the neighbour's by rounding.
      video.currentTime = (Number(input.value) + 0.5) / fps;
    });
    video?.addEventListener("seeked", () => { scrubbing = false; });
    video?.addEventListener("timeupdate", () => {
      if (scrubbing) return;
      input.value = String(Math.min(count - 1, Math.floor(video.currentTime * fps)));
      say();
    });
    say();
  }
})();
