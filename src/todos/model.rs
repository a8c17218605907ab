//! What a todo is, what clients may send, and how it is stored.
//!
//! Input types validate on the way in (`into_todo`, `apply_to`), so the
//! handlers only ever see valid todos. In the table a todo lives in its
//! owner's partition ([`crate::keys::todo`]): a user's todos are listed in
//! creation order, and no key can reach another user's partition.

use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::http::error::{ApiError, FieldError};
use crate::http::validate::{self, non_null};
use crate::ids::{TodoId, UserId};
use crate::keys;
use crate::store::Item;

pub const TITLE_MAX_CHARS: usize = 200;
pub const NOTES_MAX_CHARS: usize = 10_000;

/// A to-do item.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Todo {
    /// A ULID: sortable by creation time.
    #[schema(value_type = String, example = "01JD6Z1Q5V3M7Z8R9X2K4N6P8T")]
    pub id: TodoId,
    pub title: String,
    pub notes: String,
    pub completed: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
    /// Increases by one on every change; the ETag is built from it.
    pub version: u64,
}

/// How the document describes a todo id a client sends: a ULID or a UUID
/// (see [`TodoId`]), so generated requests and clients know the shape.
pub struct TodoIdText;

/// A ULID (Crockford base 32, either case) or a UUID (hexadecimal in
/// `8-4-4-4-12`, either case).
const TODO_ID_PATTERN: &str = r"^([0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$";

impl utoipa::PartialSchema for TodoIdText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(TODO_ID_PATTERN))
            .description(Some("A ULID or a UUID"))
            .into()
    }
}

impl ToSchema for TodoIdText {}

/// `POST /todos`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTodo {
    /// Up to 200 characters, not blank, no control characters; stored
    /// trimmed.
    #[schema(min_length = 1, max_length = 200, example = "Buy milk")]
    pub title: String,
    /// Up to 10,000 characters.
    #[serde(default)]
    #[schema(max_length = 10000)]
    pub notes: String,
    #[serde(default)]
    pub completed: bool,
    /// RFC 3339, e.g. `2026-12-01T09:00:00Z`.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due: Option<OffsetDateTime>,
}

/// `PATCH /todos/{id}`: at least one field; only the fields present
/// change; `"due": null` clears the due date (the others cannot be `null`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"completed": true}))]
pub struct UpdateTodo {
    /// As for `POST /todos`.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false, min_length = 1, max_length = 200)]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false, max_length = 10000)]
    pub notes: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub completed: Option<bool>,
    #[serde(default, deserialize_with = "present_due")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due: Option<Option<OffsetDateTime>>,
}

impl CreateTodo {
    /// A new todo named `id` from valid input, or every field error at once.
    pub fn into_todo(self, id: TodoId) -> Result<Todo, ApiError> {
        let mut errors = Vec::new();
        let title = check_title(&self.title, &mut errors);
        check_notes(&self.notes, &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let now = OffsetDateTime::now_utc();
        Ok(Todo {
            id,
            title,
            notes: self.notes,
            completed: self.completed,
            due: self.due,
            created_at: now,
            updated_at: now,
            version: 1,
        })
    }
}

impl UpdateTodo {
    /// The todo with this change applied and its version moved on.
    pub fn apply_to(self, mut todo: Todo) -> Result<Todo, ApiError> {
        let mut errors = Vec::new();
        if self.title.is_none()
            && self.notes.is_none()
            && self.completed.is_none()
            && self.due.is_none()
        {
            errors.push(FieldError::new("body", "no fields to update"));
        }
        if let Some(title) = &self.title {
            todo.title = check_title(title, &mut errors);
        }
        if let Some(notes) = self.notes {
            check_notes(&notes, &mut errors);
            todo.notes = notes;
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        todo.completed = self.completed.unwrap_or(todo.completed);
        todo.due = self.due.unwrap_or(todo.due);
        todo.updated_at = OffsetDateTime::now_utc();
        todo.version += 1;
        Ok(todo)
    }
}

fn check_title(title: &str, errors: &mut Vec<FieldError>) -> String {
    validate::check_title("title", title, TITLE_MAX_CHARS, errors)
}

fn check_notes(notes: &str, errors: &mut Vec<FieldError>) {
    if notes.chars().count() > NOTES_MAX_CHARS {
        errors.push(FieldError::new(
            "notes",
            format!("must be at most {NOTES_MAX_CHARS} characters"),
        ));
    }
}

/// Tells `"due": null` (clear it) from no `due` at all (keep it).
fn present_due<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<OffsetDateTime>>, D::Error> {
    time::serde::rfc3339::option::deserialize(d).map(Some)
}

pub fn to_item(user: &UserId, todo: &Todo) -> Item {
    crate::store::encode(todo, &keys::todo(user, todo.id))
}

/// A 412 that carries `current`, so the client can merge with it.
pub fn superseded(detail: String, current: &Todo) -> ApiError {
    ApiError::Superseded {
        detail,
        current_version: Some(current.version),
        current: Some(Box::new(
            serde_json::to_value(current).expect("a todo serializes"),
        )),
    }
}

pub fn from_item(item: &Item) -> Result<Todo, ApiError> {
    crate::store::decode(item).map_err(|e| ApiError::Internal(format!("unreadable todo: {e}")))
}
