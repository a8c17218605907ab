//! The OpenAPI document's frame: title, the `bearer` security scheme, the
//! one response every route's errors refer to, and [`complete`], which adds
//! to every operation the answers the shared layers give, so a route need
//! not repeat them. The routes themselves describe their own paths with
//! `#[utoipa::path]`, each error of their own as
//! `(status = 404, response = ProblemResponse)`.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{Object, Schema};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, Ref, RefOr};
use utoipa::{Modify, OpenApi, ToResponse};

use super::error::{FieldError, Problem};
use super::validate::TITLE_PATTERN;

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

/// Adds the answers of the shared layers to every operation of `document`:
/// 401 (a bad `Authorization` is refused on any route, public ones too) and
/// 503 (a timeout or an unavailable backend) everywhere; 429 (over the
/// caller's budget) everywhere but the probes and `/metrics`; with a body 400,
/// 408, 413, 415 and 422; with query parameters 400 and 422; with path
/// parameters 404.
pub fn complete(document: &mut Document) {
    for (path, item) in document.paths.paths.iter_mut() {
        let throttled = !super::throttle::EXEMPT.contains(&path.as_str());
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let mut statuses = shared_statuses(operation);
            if throttled {
                statuses.push(429);
            }
            for status in statuses {
                operation
                    .responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name("ProblemResponse")));
            }
        }
    }
}

fn shared_statuses(operation: &Operation) -> Vec<u16> {
    let mut statuses = vec![401, 503];
    if operation.request_body.is_some() {
        statuses.extend([400, 408, 413, 415, 422]);
    }
    let params = operation.parameters.iter().flatten();
    let places: Vec<&ParameterIn> = params.map(|p| &p.parameter_in).collect();
    if places.iter().any(|p| matches!(p, ParameterIn::Query)) {
        statuses.extend([400, 422]);
    }
    if places.iter().any(|p| matches!(p, ParameterIn::Path)) {
        statuses.push(404);
    }
    statuses
}

/// The object schema named `name` in `document`'s components.
pub fn schema_mut<'a>(document: &'a mut Document, name: &str) -> Option<&'a mut Object> {
    let components = document.components.as_mut()?;
    match components.schemas.get_mut(name)? {
        RefOr::T(Schema::Object(object)) => Some(object),
        _ => None,
    }
}

/// The schema of the property `field` of the object schema `name`.
pub fn property_mut<'a>(
    document: &'a mut Document,
    name: &str,
    field: &str,
) -> Option<&'a mut Object> {
    match schema_mut(document, name)?.properties.get_mut(field)? {
        RefOr::T(Schema::Object(object)) => Some(object),
        _ => None,
    }
}

/// States what derive attributes cannot: titles' pattern (a constant, and
/// the derive takes only literals) and "at least one field" on the PATCH
/// bodies (utoipa-gen 5.5 writes `min_properties` as `maxProperties`).
pub fn state_shared_rules(document: &mut Document) {
    let titles = [
        "CreateTodo",
        "UpdateTodo",
        "CreatePost",
        "ReplacePost",
        "UpdatePost",
    ];
    for schema in titles {
        if let Some(title) = property_mut(document, schema, "title") {
            title.pattern = Some(TITLE_PATTERN.into());
        }
    }
    for schema in ["UpdateTodo", "UpdatePost"] {
        if let Some(object) = schema_mut(document, schema) {
            object.min_properties = Some(1);
        }
    }
}
