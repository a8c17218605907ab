//! A batch evaluated before anything is written: every named todo read
//! once, the operations applied in order in memory, and the outcome turned
//! into one conditional write per changed todo (see [`super`]).

use std::collections::HashMap;

use super::{Operation, Outcome};
use crate::http::error::ApiError;
use crate::ids::{TodoId, UserId};
use crate::keys;
use crate::store::{Condition, Read, Write};
use crate::todos::TodosState;
use crate::todos::journal::Change;
use crate::todos::model::{self, Todo};

/// A batch evaluated: the writes that apply it, their log entries, and
/// each operation's outcome.
pub(super) struct Plan {
    pub writes: Vec<Write>,
    pub changes: Vec<Change>,
    pub outcomes: Vec<Outcome>,
}

/// Reads every todo the batch names (strongly, once each), applies the
/// operations in order in memory, and turns the result into one
/// conditional write per changed todo.
pub(super) async fn evaluate(
    state: &TodosState,
    user: &UserId,
    operations: &[Operation],
) -> Result<Plan, ApiError> {
    let mut named: Vec<TodoId> = operations.iter().filter_map(Operation::named).collect();
    named.sort();
    named.dedup();
    let reads = named.iter().map(|&id| async move {
        let item = state.table.get(&keys::todo(user, id), Read::Strong).await?;
        let todo = item.as_deref().map(model::from_item).transpose()?;
        Ok::<_, ApiError>((id, todo))
    });
    let before: HashMap<TodoId, Option<Todo>> = futures_util::future::try_join_all(reads)
        .await?
        .into_iter()
        .collect();
    let mut after = before.clone();
    let mut touched = Vec::new();
    let mut outcomes = Vec::with_capacity(operations.len());
    for (index, operation) in operations.iter().enumerate() {
        let outcome = operation
            .apply(&mut after)
            .map_err(|error| at_index(index, operation, error))?;
        let id = outcome.id();
        if !touched.contains(&id) {
            touched.push(id);
        }
        outcomes.push(outcome);
    }
    let mut plan = Plan {
        writes: Vec::new(),
        changes: Vec::new(),
        outcomes,
    };
    for id in touched {
        let old = before.get(&id).cloned().flatten();
        let new = after.get(&id).cloned().flatten();
        plan.add(user, id, old, new);
    }
    Ok(plan)
}

impl Plan {
    /// The write (and log entry) taking todo `id` from `old` to `new`.
    fn add(&mut self, user: &UserId, id: TodoId, old: Option<Todo>, new: Option<Todo>) {
        let condition = match &old {
            None => Condition::NotExists,
            Some(old) => Condition::version_is(old.version),
        };
        match new {
            Some(todo) => {
                self.writes.push(Write::Put {
                    item: model::to_item(user, &todo),
                    condition,
                });
                self.changes.push(Change::Saved(todo));
            }
            // Made and deleted within the batch: nothing to write.
            None if old.is_none() => {}
            None => {
                self.writes.push(Write::Delete {
                    key: keys::todo(user, id),
                    condition,
                });
                self.changes.push(Change::Deleted(id));
            }
        }
    }
}

impl Operation {
    /// The todo this operation names, if it names one.
    fn named(&self) -> Option<TodoId> {
        match self {
            Operation::Create { id, .. } => *id,
            Operation::Update { id, .. } | Operation::Delete { id, .. } => Some(*id),
        }
    }

    /// Applies this operation to `todos` (the batch's view so far).
    fn apply(&self, todos: &mut HashMap<TodoId, Option<Todo>>) -> Result<Outcome, ApiError> {
        match self {
            Operation::Create { id, todo } => {
                let id = id.unwrap_or_else(TodoId::new);
                if let Some(Some(current)) = todos.get(&id) {
                    let detail = format!("you already have a todo {id}");
                    return Err(model::superseded(detail, current));
                }
                let todo = todo.clone().into_todo(id)?;
                todos.insert(id, Some(todo.clone()));
                Ok(Outcome::Create { todo })
            }
            Operation::Update {
                id,
                if_version,
                changes,
            } => {
                let current = current(todos, *id, *if_version)?;
                let todo = changes.clone().apply_to(current)?;
                todos.insert(*id, Some(todo.clone()));
                Ok(Outcome::Update { todo })
            }
            Operation::Delete { id, if_version } => {
                current(todos, *id, *if_version)?;
                todos.insert(*id, None);
                Ok(Outcome::Delete { id: *id })
            }
        }
    }

    /// Where this operation's own fields sit in the request.
    fn part(&self) -> &'static str {
        match self {
            Operation::Create { .. } => "todo",
            Operation::Update { .. } => "changes",
            Operation::Delete { .. } => "",
        }
    }
}

impl Outcome {
    fn id(&self) -> TodoId {
        match self {
            Outcome::Create { todo } | Outcome::Update { todo } => todo.id,
            Outcome::Delete { id } => *id,
        }
    }
}

/// The todo `id` as the batch now sees it, if it exists and is at
/// `if_version` (when given).
fn current(
    todos: &HashMap<TodoId, Option<Todo>>,
    id: TodoId,
    if_version: Option<u64>,
) -> Result<Todo, ApiError> {
    let Some(Some(todo)) = todos.get(&id) else {
        return Err(ApiError::Missing(format!("you have no todo {id}")));
    };
    match if_version {
        Some(wanted) if wanted != todo.version => Err(model::superseded(
            format!("todo {id} is at version {}, not {wanted}", todo.version),
            todo,
        )),
        _ => Ok(todo.clone()),
    }
}

/// `error` of operation `index`, saying which operation it was.
fn at_index(index: usize, operation: &Operation, error: ApiError) -> ApiError {
    let prefix = format!("operations[{index}]");
    match error {
        ApiError::Validation(mut errors) => {
            let part = operation.part();
            for error in &mut errors {
                error.field = match error.field.as_str() {
                    "body" => format!("{prefix}.{part}"),
                    field => format!("{prefix}.{part}.{field}"),
                };
            }
            ApiError::Validation(errors)
        }
        ApiError::Missing(detail) => ApiError::Missing(format!("{prefix}: {detail}")),
        ApiError::Superseded {
            detail,
            current_version,
            current,
        } => ApiError::Superseded {
            detail: format!("{prefix}: {detail}"),
            current_version,
            current,
        },
        other => other,
    }
}
