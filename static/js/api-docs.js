// The API reference: Swagger UI on the studio's own OpenAPI document (no inline script).
document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    deepLinking: true,
    persistAuthorization: false,
  });
});
