//! The OpenAPI document's frame: title, the `bearer` security scheme, and
//! the one response every route's errors refer to. The routes themselves
//! describe their own paths with `#[utoipa::path]`, each error status as
//! `(status = 404, response = ProblemResponse)`.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToResponse};

use super::error::{FieldError, Problem};

#[derive(OpenApi)]
#[openapi(
    info(title = "atrium", description = "To-dos, a blog and file uploads behind Cognito sign-in."),
    modifiers(&BearerAuth),
    components(schemas(Problem, FieldError), responses(ProblemResponse)),
)]
pub struct ApiDoc;

/// Every error answer: an RFC 9457 problem, `application/problem+json`.
#[derive(ToResponse)]
#[response(
    description = "A problem (RFC 9457): what went wrong, and for 422 each bad field",
    content_type = "application/problem+json"
)]
pub struct ProblemResponse(#[allow(dead_code)] Problem);

/// Declares the `bearer` security scheme the routes refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}
