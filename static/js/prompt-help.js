// Improve prompt (templates/generation/partials/prompt_suggestion.html): "Use this prompt"
// puts the suggestion, as the person left it, in the prompt and keeps what they had written in
// the form's hidden prompt_original (the recipe keeps both); "Dismiss" drops it. The original
// survives the form being swapped in again (after Generate, or a change of model) while the
// prompt is still the one it belongs to. Loaded with the form, so it guards against running
// twice.
(() => {
  if (window.framecraftPromptHelp) return;
  window.framecraftPromptHelp = true;
  const KEY = "framecraft.promptOriginal";
  let accepted = null; // the suggestion last put in the prompt

  const fields = (element) => {
    const form = element?.closest("form");
    return {
      prompt: form?.querySelector("textarea[name=prompt]"),
      original: form?.querySelector("input[name=prompt_original]"),
      button: form?.querySelector("[data-improve-prompt]"),
    };
  };

  const clear = (box) => {
    box.replaceChildren();
    box.className = "prompt-suggestion";
    box.removeAttribute("data-original");
  };

  document.addEventListener("click", (event) => {
    const accept = event.target.closest?.("[data-accept-suggestion]");
    const dismiss = event.target.closest?.("[data-dismiss-suggestion]");
    if (!accept && !dismiss) return;
    const box = event.target.closest("[data-prompt-suggestion]");
    const {prompt, original, button} = fields(box);
    if (accept && prompt) {
      const text = box.querySelector("[data-suggestion-text]")?.value.trim();
      if (!text) return;
      const sent = box.dataset.original || "";
      // Improving an accepted suggestion again: the first words stay the original.
      if (original && !(original.value && sent === accepted)) original.value = sent;
      prompt.value = text;
      accepted = text;
      clear(box);
      prompt.focus();
    } else {
      clear(box);
      button?.focus();
    }
  });

  // A recent prompt picked (studio.js sets it, an untrusted event) or the prompt emptied:
  // the original belongs to a prompt no longer there.
  document.addEventListener("input", (event) => {
    const target = event.target;
    if (target.name !== "prompt" || !target.closest?.("#generation-form")) return;
    const {original} = fields(target);
    if (original && (!event.isTrusted || !target.value.trim())) {
      original.value = "";
      accepted = null;
    }
  });

  document.addEventListener("htmx:beforeRequest", (event) => {
    const {prompt, original} = fields(event.detail.elt);
    if (!prompt || !event.detail.elt.closest("#generation-form")) return;
    if (original?.value) {
      sessionStorage.setItem(KEY, JSON.stringify(
        {prompt: prompt.value, original: original.value, accepted}));
    } else {
      sessionStorage.removeItem(KEY);
    }
  });

  const restore = () => {
    const form = document.getElementById("generation-form");
    const {prompt, original} = fields(form?.querySelector("textarea[name=prompt]"));
    let saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(KEY) || "null"); } catch { saved = null; }
    if (saved && prompt && original && !original.value && prompt.value === saved.prompt) {
      original.value = saved.original;
      accepted = saved.accepted;
    }
  };
  // A suggestion that just arrived is brought into view (clear of the sticky Generate bar:
  // prompt-help.css gives it a scroll margin), once.
  const reveal = () => {
    const box = document.querySelector("#prompt-suggestion.has-suggestion:not([data-shown])");
    if (!box) return;
    box.dataset.shown = "1";
    box.scrollIntoView({block: "nearest"});
  };
  document.addEventListener("htmx:afterSettle", restore);
  document.addEventListener("htmx:afterSettle", reveal);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", restore);
  else restore();
})();
