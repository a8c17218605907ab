// Relative, so the page works under an API Gateway stage prefix too.
window.ui = SwaggerUIBundle({
  url: "../openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
});
