// Gallery tiles: a poster until hovered (or tapped), then the video plays, muted, in place.
(() => {
  const start = (video) => {
    if (!video.src) video.src = video.dataset.src;
    video.play().catch(() => {});
  };
  const stop = (video) => video.pause();
  document.addEventListener("mouseover", (event) => {
    const video = event.target.closest?.("video.hover-play");
    if (video) start(video);
  });
  document.addEventListener("mouseout", (event) => {
    const video = event.target.closest?.("video.hover-play");
    if (video && !video.contains(event.relatedTarget)) stop(video);
  });
  // On touch screens the first tap plays, a second tap opens the video.
  document.addEventListener("touchstart", (event) => {
    const video = event.target.closest?.("video.hover-play");
    if (video && video.paused) {
      event.preventDefault();
      document.querySelectorAll("video.hover-play").forEach((other) => other !== video && stop(other));
      start(video);
    }
  }, {passive: false});
})();
