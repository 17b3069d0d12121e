// The API reference: Swagger UI on the studio's own OpenAPI document (no inline script).
document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    // Deep links put an <a> inside each operation's toggle button: nested controls a screen reader
    // cannot reach (axe: nested-interactive).
    deepLinking: false,
    persistAuthorization: false,
  });
  // Swagger UI's dark theme hangs on a class of <html>: follow the system's choice, as the site does.
  const dark = window.matchMedia("(prefers-color-scheme: dark)");
  const follow = () => document.documentElement.classList.toggle("dark-mode", dark.matches);
  follow();
  dark.addEventListener("change", follow);
});
