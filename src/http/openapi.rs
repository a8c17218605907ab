//! The OpenAPI document's frame: title, the `bearer` security scheme, and
//! the shared schemas every route's problem answers refer to. The routes
//! themselves describe their own paths with `#[utoipa::path]`.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::{FieldError, Problem};

#[derive(OpenApi)]
#[openapi(
    info(title = "atrium", description = "To-dos, a blog and file uploads behind Cognito sign-in."),
    modifiers(&BearerAuth),
    components(schemas(Problem, FieldError)),
)]
pub struct ApiDoc;

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
