// Starts Swagger UI on the document this API serves. A file of its own,
// not an inline script: the page's CSP allows scripts of this origin only.
window.ui = SwaggerUIBundle({
  url: "/api/auth/v2/openapi.json",
  dom_id: "#reference",
  deepLinking: true,
  // The default asks validator.swagger.io about the document: another origin.
  validatorUrl: null,
  tryItOutEnabled: false,
  persistAuthorization: false,
});
