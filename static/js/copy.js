// Copy buttons, anywhere on the site (also in content htmx swaps in later):
//   <button type="button" data-copy="#share-url">Copy link</button>  copies that field's value
//   <button type="button" data-copy-text="1234">Copy seed</button>    copies the text itself
// The button says "Copied" for a moment, and a live region says it to screen readers. Where
// the clipboard API is missing (a plain-http address other than localhost is not a secure
// context), the field is selected and copied the old way, or left selected for Ctrl+C.
(() => {
  "use strict";

  let live = null;
  const announce = (text) => {
    if (!live) {
      live = document.createElement("span");
      live.className = "visually-hidden";
      live.setAttribute("role", "status");
      document.body.append(live);
    }
    live.textContent = text;
  };

  const say = (button, text) => {
    if (!button.dataset.copyLabel) button.dataset.copyLabel = button.textContent;
    button.textContent = text;
    announce(text);
    clearTimeout(Number(button.dataset.copyTimer));
    button.dataset.copyTimer = String(setTimeout(() => {
      button.textContent = button.dataset.copyLabel;
    }, 2000));
  };

  const selectAndCopy = (field) => {
    if (!field) return false;
    if (field.select) {
      field.focus();
      field.select();
    } else {  // text in an element (a key in a <code>): select its contents
      const range = document.createRange();
      range.selectNodeContents(field);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
    }
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  };

  document.addEventListener("click", async (event) => {
    const button = event.target.closest?.("[data-copy], [data-copy-text]");
    if (!button) return;
    let field = null;
    if (button.dataset.copy) {
      // Not a selector of an element here (some other script's data-copy): not ours to copy.
      try {
        field = document.querySelector(button.dataset.copy);
      } catch (error) {
        return;
      }
      if (!field) return;
    }
    const text = button.dataset.copyText ?? field?.value ?? field?.textContent ?? "";
    try {
      await navigator.clipboard.writeText(text);
      say(button, "Copied");
    } catch (error) {
      say(button, selectAndCopy(field) ? "Copied" : "Selected: press Ctrl+C");
    }
  });
})();
