// Drop zones (templates/uploads/partials/dropzone.html): pick, drop or paste one image or
// video; it is uploaded at once and its card shown; its id goes into the zone's hidden input.
(() => {
  const csrfToken = () => {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch {
      return "";
    }
  };

  const part = (zone, name) => zone.querySelector(`[data-dropzone-${name}]`);

  const setStatus = (zone, html, isError) => {
    const status = part(zone, "status");
    status.replaceChildren();
    if (!html) return;
    if (isError) {
      const box = document.createElement("div");
      box.innerHTML = html;
      const message = box.querySelector("[data-upload-error]");
      const p = document.createElement("p");
      p.className = "message error";
      p.setAttribute("role", "alert");
      p.textContent = message ? message.textContent : html;
      status.append(p);
    } else {
      status.textContent = html;
    }
  };

  const cardFrom = (html) => {
    const box = document.createElement("ul");
    box.innerHTML = html.trim();
    return box.querySelector("[data-upload-id]");
  };

  const show = (zone, html) => {
    const card = cardFrom(html);
    if (!card) return;
    const value = part(zone, "value");
    value.value = card.dataset.uploadId;
    value.dispatchEvent(new Event("change", { bubbles: true }));
    const listSelector = zone.dataset.listTarget;
    const list = listSelector && document.querySelector(listSelector);
    if (!list && zone.parentElement?.closest("form")) {
      // Inside a job's (or a subject's) form the card's delete form would be a form within a
      // form: pressing the outer form's button would submit it and ask to delete the upload.
      // There, ✕ only takes the file out of the form; the upload stays in My uploads.
      for (const nested of card.querySelectorAll("form")) {
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "icon-button";
        remove.dataset.dropzoneClear = "";
        remove.title = "Remove from the form";
        remove.setAttribute("aria-label", "Remove this file from the form");
        remove.textContent = "✕";
        nested.replaceWith(remove);
      }
    }
    const preview = part(zone, "preview");
    preview.replaceChildren(card);
    if (window.htmx) window.htmx.process(card);
    if (list) {
      // On My uploads the new card belongs in the grid; the preview would repeat it.
      preview.replaceChildren();
      list.querySelector("[data-empty]")?.remove();
      list.prepend(card);
    }
  };

  const upload = (zone, file) => {
    if (!file || zone.classList.contains("busy")) return;
    const body = new FormData();
    body.append("file", file, file.name || "pasted");
    const request = new XMLHttpRequest();
    const progress = part(zone, "progress");
    request.open("POST", zone.dataset.uploadUrl);
    request.setRequestHeader("X-CSRFToken", csrfToken());
    request.setRequestHeader("HX-Request", "true");
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) progress.value = Math.round((100 * event.loaded) / event.total);
    });
    request.addEventListener("loadend", () => {
      zone.classList.remove("busy");
      progress.hidden = true;
      if (request.status === 200) {
        setStatus(zone, "");
        show(zone, request.responseText);
      } else if (request.status === 422) {
        setStatus(zone, request.responseText, true);
      } else if (request.status === 413) {
        setStatus(zone, request.responseText || "The file is too large.", true);
      } else {
        setStatus(zone, "The upload failed; check your connection and try again.", true);
      }
    });
    zone.classList.add("busy");
    progress.value = 0;
    progress.hidden = false;
    setStatus(zone, `Uploading ${file.name || "the pasted image"}…`);
    request.send(body);
  };

  const zoneOf = (node) => node?.closest?.("[data-dropzone]");

  document.addEventListener("change", (event) => {
    const input = event.target;
    if (!input.matches?.("[data-dropzone-input]")) return;
    const zone = zoneOf(input);
    if (zone && input.files?.length) {
      upload(zone, input.files[0]);
      input.value = "";
    }
  });

  for (const type of ["dragenter", "dragover"]) {
    document.addEventListener(type, (event) => {
      const zone = zoneOf(event.target);
      if (!zone || !event.dataTransfer?.types?.includes("Files")) return;
      event.preventDefault();
      zone.classList.add("dragging");
    });
  }
  document.addEventListener("dragleave", (event) => {
    const zone = zoneOf(event.target);
    if (zone && !zone.contains(event.relatedTarget)) zone.classList.remove("dragging");
  });
  document.addEventListener("drop", (event) => {
    const zone = zoneOf(event.target);
    if (!zone) return;
    event.preventDefault();
    zone.classList.remove("dragging");
    upload(zone, event.dataTransfer?.files?.[0]);
  });

  // Paste: into the zone that has focus, else the page's only zone. Text pastes pass through.
  document.addEventListener("paste", (event) => {
    const file = [...(event.clipboardData?.files || [])][0];
    if (!file) return;
    const zones = document.querySelectorAll("[data-dropzone]");
    const zone = zoneOf(document.activeElement) || (zones.length === 1 ? zones[0] : null);
    if (!zone) return;
    event.preventDefault();
    upload(zone, file);
  });

  // One of the user's earlier uploads, picked instead of a new file.
  document.addEventListener("click", (event) => {
    const button = event.target.closest?.("[data-pick-upload]");
    const zone = zoneOf(button);
    if (!button || !zone) return;
    const value = part(zone, "value");
    value.value = button.dataset.pickUpload;
    value.dispatchEvent(new Event("change", { bubbles: true }));
  });

  document.addEventListener("click", (event) => {
    const button = event.target.closest?.("[data-dropzone-clear]");
    const zone = zoneOf(button);
    if (!button || !zone) return;
    part(zone, "preview").replaceChildren();
    const value = part(zone, "value");
    value.value = "";
    value.dispatchEvent(new Event("change", { bubbles: true }));
  });

  // Deleting the chosen upload's card empties the zone's choice.
  document.addEventListener("htmx:afterRequest", (event) => {
    const zone = zoneOf(event.target);
    const card = event.target.closest?.("[data-upload-id]");
    if (!zone || !card || !event.detail.successful) return;
    const value = part(zone, "value");
    if (value.value === card.dataset.uploadId) {
      value.value = "";
      value.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });
})();
