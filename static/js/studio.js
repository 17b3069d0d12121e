// The studio page: the tab title follows the running job, a hidden tab is told when a job
// finishes (only once the person allowed it, asked on a click), recent prompts fill the
// prompt, and the form column fits the screen. (Copy buttons are copy.js's.)
(() => {
  const baseTitle = document.title;
  const finished = new Set(["succeeded", "failed", "cancelled"]);
  const seen = new Map(); // job card id -> the status this page last showed

  const showTitle = () => {
    const running = document.querySelector(".job-card.status-running .progress-row");
    document.title = running ? `(${running.dataset.percent || 0}%) ${baseTitle}` : baseTitle;
  };

  const notify = (card) => {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    if (document.visibilityState !== "hidden") return;
    const prompt = card.querySelector(".prompt")?.textContent.trim() || "Your video";
    const status = card.dataset.status;
    const title = status === "succeeded" ? "Your video is ready" : `A job ${status === "failed" ? "failed" : "was cancelled"}`;
    const notice = new Notification(title, {body: prompt, tag: card.id});
    notice.onclick = () => { window.focus(); card.scrollIntoView({block: "center"}); notice.close(); };
  };

  const announce = (card) => {
    const announcer = document.getElementById("job-announcer");
    const prompt = card.querySelector(".prompt")?.textContent.trim() || "";
    const state = card.querySelector(".badge")?.textContent.trim() || card.dataset.status;
    if (announcer) announcer.textContent = `${state}: ${prompt}`;
  };

  const review = () => {
    document.querySelectorAll(".job-card").forEach((card) => {
      const before = seen.get(card.id);
      const now = card.dataset.status;
      if (before && !finished.has(before) && finished.has(now)) {
        notify(card);
        announce(card);
      }
      seen.set(card.id, now);
    });
    showTitle();
  };

  // Permission is asked only on a user gesture: the first Generate (a browser refuses a
  // prompt that no click started, and a prompt on page load is unwelcome).
  document.addEventListener("submit", (event) => {
    if (event.target.id !== "generation-form") return;
    if ("Notification" in window && Notification.permission === "default") {
      Notification.requestPermission().catch(() => {});
    }
  });

  // A running card's clock: the server's figures, counted on each second until the next
  // message replaces them (while a model loads, none comes). The same words as the server's
  // `duration` filter.
  const duration = (seconds) => {
    const total = Math.max(0, Math.round(seconds));
    if (total < 60) return `${total} s`;
    const minutes = Math.floor(total / 60);
    if (minutes < 60) return `${minutes} min ${String(total % 60).padStart(2, "0")} s`;
    return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
  };
  const tick = () => {
    const now = performance.now();
    document.querySelectorAll(".progress-row [data-elapsed], .progress-row [data-left]").forEach((el) => {
      if (!el.dataset.seen) el.dataset.seen = String(now);
      const since = (now - Number(el.dataset.seen)) / 1000;
      if (el.dataset.elapsed !== undefined) {
        el.textContent = duration(Number(el.dataset.elapsed) + since);
      } else {
        const left = Number(el.dataset.left) - since;
        // Past the estimate: no figure rather than a wrong one.
        el.textContent = left >= 0.5 ? `about ${duration(left)} left` : "estimating…";
      }
    });
  };
  setInterval(tick, 1000);

  // Prompt history: the chosen recent prompt replaces the prompt, to edit or run again.
  document.addEventListener("change", (event) => {
    const list = event.target.closest?.("select[data-recent-prompts]");
    if (!list || !list.value) return;
    const prompt = list.form?.querySelector("textarea[name=prompt]");
    if (prompt) {
      prompt.value = list.value;
      prompt.dispatchEvent(new Event("input", {bubbles: true}));
      prompt.focus();
    }
    list.value = "";
  });

  // The form column is as tall as the screen below its top (the nav and messages above it
  // scroll away), so that its Generate bar is on screen from the first scroll position on.
  const column = document.querySelector(".studio-form");
  const fit = () => {
    if (!column) return;
    const top = Math.max(16, column.getBoundingClientRect().top);
    column.style.setProperty("--form-top", `${Math.round(top)}px`);
  };
  window.addEventListener("scroll", fit, {passive: true});
  window.addEventListener("resize", fit);
  document.addEventListener("DOMContentLoaded", fit);

  // A card never goes back in time. The page hears of a job two ways that race: its socket,
  // and the answer to a request (the list that comes back after Generate). An answer made
  // before the worker started the job can land after the socket showed it running, and the
  // steps then had a waiting card to go to. Of two versions of a card, the newer stays: by
  // its state's sequence, then by its step.
  const sequence = (card) => Number(card.dataset.sequence || 0);
  const step = (card) => Number(card.querySelector(".progress-row")?.dataset.step || 0);
  const isNewer = (current, incoming) => sequence(current) !== sequence(incoming)
    ? sequence(current) > sequence(incoming) : step(current) > step(incoming);
  document.addEventListener("htmx:oobBeforeSwap", (event) => {
    const {target, fragment} = event.detail;
    if (target.matches?.(".job-card")) {
      const incoming = fragment.querySelector(".job-card");
      if (incoming && isNewer(target, incoming)) event.detail.shouldSwap = false;
      return;
    }
    fragment.querySelectorAll(".job-card[id]").forEach((incoming) => {
      const current = document.getElementById(incoming.id);
      if (current && isNewer(current, incoming)) incoming.replaceWith(current.cloneNode(true));
    });
  });

  document.addEventListener("htmx:afterSettle", review);
  document.addEventListener("htmx:oobAfterSwap", review);
  document.addEventListener("htmx:wsAfterMessage", review);
  document.addEventListener("DOMContentLoaded", review);
})();
