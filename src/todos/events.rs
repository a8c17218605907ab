//! `GET /todos/events`: the changes of `GET /todos/changes`, pushed as
//! Server-Sent Events while the connection stays open, for an app that is
//! on screen. Only where an answer can stream (a container, a laptop;
//! Lambda hands back whole answers), so the route exists only there.
//!
//! Each event carries the changes and, as its `id`, the sync token after
//! them: `EventSource` sends the last one back as `Last-Event-ID` when it
//! reconnects, so a dropped connection misses and repeats nothing. A
//! comment every 15 s keeps proxies (an ALB closes idle connections after
//! 60 s) from ending a quiet stream.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::TodosState;
use super::changes::{self, Mark, TodoChange};
use super::token::{Position, SyncToken};
use crate::http::auth::User;
use crate::http::error::ApiError;
use crate::http::extract::ApiQuery;
use crate::http::openapi::ProblemResponse;
use crate::store::Read;

/// How long one look for changes waits before looking again.
const LOOK_FOR: Duration = Duration::from_secs(25);

/// Changes per event, at most.
const PER_EVENT: usize = 100;

/// Query parameters of `GET /todos/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsParams {
    /// A sync token (`next` of `GET /todos/changes`, or an event's `id`);
    /// `Last-Event-ID` takes precedence. Without either, the stream starts
    /// at the present.
    since: Option<String>,
}

/// The data of one `changes` event.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangesEvent {
    pub changes: Vec<TodoChange>,
    /// As in `GET /todos/changes`.
    pub clients: BTreeMap<String, u64>,
}

/// Your todos' changes as they happen, as Server-Sent Events (`event:
/// changes`, `data`: a [`ChangesEvent`], `id`: the sync token after it).
/// Start from the token of your last sync; reconnect with `Last-Event-ID`.
/// Served by the container and local runtimes, not on Lambda.
#[utoipa::path(get, path = "/todos/events", tag = "todos", params(EventsParams),
    security(("bearer" = [])),
    responses(
        (status = 200, content_type = "text/event-stream", body = ChangesEvent),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 410, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    ))]
pub async fn todo_events(
    State(state): State<TodosState>,
    user: User,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<EventsParams>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let last_event = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok());
    let since = match last_event.or(params.since.as_deref()) {
        Some(text) => resume_at(&state, &user, text).await?,
        None => {
            let counter = state.journal.counter(user.id(), Read::Strong).await?;
            Mark {
                seq: counter.seq,
                log: counter.log,
            }
        }
    };
    let stream =
        futures_util::stream::unfold((state, user, since), |(state, user, since)| async move {
            let event = next_event(&state, &user, since).await?;
            Some((Ok(event.0), (state, user, event.1)))
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Where a token says to resume: only a delta token of the caller's,
/// younger than the retention.
async fn resume_at(state: &TodosState, user: &User, text: &str) -> Result<Mark, ApiError> {
    let token = changes::open_token(state, user, text).await?;
    match token.position {
        Position::Delta { since } => Ok(Mark {
            seq: since,
            log: token.log,
        }),
        Position::Snapshot { .. } => Err(ApiError::BadRequest(
            "finish the snapshot with GET /todos/changes first, then stream from its token".into(),
        )),
    }
}

/// The next event after change `since`, and the change it ends at; `None`
/// ends the stream (the store failed: the client reconnects and resumes).
async fn next_event(state: &TodosState, user: &User, since: Mark) -> Option<(Event, Mark)> {
    loop {
        let step = match changes::delta(state, user, since, PER_EVENT, LOOK_FOR).await {
            Ok(step) => step,
            Err(error) => {
                tracing::warn!(%error, "ending a change stream");
                return None;
            }
        };
        if step.changes.is_empty() {
            continue;
        }
        let Position::Delta { since: next } = step.next else {
            return None;
        };
        let next = Mark {
            seq: next,
            log: step.counter.log,
        };
        let key = state.token_key().await.ok()?;
        let token = key.seal(
            user.id(),
            &SyncToken {
                position: step.next.clone(),
                issued: step.issued,
                log: step.counter.log,
            },
        );
        let data = ChangesEvent {
            changes: step.changes,
            clients: step.counter.mutations(),
        };
        let event = Event::default()
            .event("changes")
            .id(token)
            .json_data(&data)
            .ok()?;
        return Some((event, next));
    }
}
