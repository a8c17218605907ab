//! One `TestApp` method per endpoint, so a test reads as what a client
//! does: the todos, the blog, its subscribers, uploads.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use super::TestApp;

/// Todos.
impl TestApp {
    pub async fn create_todo(&self, token: &str, body: Value) -> Response {
        self.request(Method::POST, "/todos", Some(token))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Creates a todo that must succeed; returns its JSON.
    pub async fn new_todo(&self, token: &str, title: &str) -> Value {
        let response = self.create_todo(token, json!({ "title": title })).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "creating {title}: {body}");
        body
    }

    /// Creates a todo that must succeed; returns its id.
    pub async fn new_todo_id(&self, token: &str, title: &str) -> String {
        self.new_todo(token, title).await["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// How many todos the user has (up to 100).
    pub async fn todo_count(&self, token: &str) -> usize {
        let page: Value = self
            .list_todos(token, "?limit=100")
            .await
            .json()
            .await
            .unwrap();
        page["items"].as_array().unwrap().len()
    }

    /// Sends a request with one extra header.
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        token: &str,
        header: (&str, &str),
    ) -> Response {
        self.request(method, path, Some(token))
            .header(header.0, header.1)
            .send()
            .await
            .unwrap()
    }

    /// `POST /todos` with an `Idempotency-Key`.
    pub async fn create_todo_once(&self, token: &str, key: &str, body: Value) -> Response {
        let builder = self
            .request(Method::POST, "/todos", Some(token))
            .header("idempotency-key", key);
        builder.json(&body).send().await.unwrap()
    }

    pub async fn list_todos(&self, token: &str, query: &str) -> Response {
        self.get(&format!("/todos{query}"), token).await
    }

    pub async fn get_todo(&self, token: &str, id: &str) -> Response {
        self.get(&format!("/todos/{id}"), token).await
    }

    pub async fn patch_todo(
        &self,
        token: &str,
        id: &str,
        body: Value,
        if_match: Option<&str>,
    ) -> Response {
        let mut builder = self
            .request(Method::PATCH, &format!("/todos/{id}"), Some(token))
            .json(&body);
        if let Some(tag) = if_match {
            builder = builder.header("if-match", tag);
        }
        builder.send().await.unwrap()
    }

    pub async fn delete_todo(&self, token: &str, id: &str) -> Response {
        self.request(Method::DELETE, &format!("/todos/{id}"), Some(token))
            .send()
            .await
            .unwrap()
    }

    /// `GET /todos/changes` with `since` (when given) and `extra` query
    /// parameters, e.g. `&limit=2`.
    pub async fn changes(&self, token: &str, since: Option<&str>, extra: &str) -> Response {
        let since = since.map(|s| format!("since={s}")).unwrap_or_default();
        self.get(&format!("/todos/changes?{since}{extra}"), token)
            .await
    }

    /// One successful `GET /todos/changes`: its changes, `next` and `more`.
    pub async fn sync_step(&self, token: &str, since: Option<&str>, extra: &str) -> SyncStep {
        let response = self.changes(token, since, extra).await;
        assert_eq!(response.status(), 200, "sync from {since:?}");
        let answer: Value = response.json().await.unwrap();
        SyncStep {
            changes: answer["changes"].as_array().unwrap().clone(),
            next: answer["next"].as_str().unwrap().to_string(),
            more: answer["more"].as_bool().unwrap(),
        }
    }
}

/// One answer of `GET /todos/changes`.
#[derive(Debug)]
pub struct SyncStep {
    pub changes: Vec<Value>,
    pub next: String,
    pub more: bool,
}

/// What a device holds: its todos by id, and where it stands.
#[derive(Debug, Default)]
pub struct Replica {
    pub todos: std::collections::BTreeMap<String, Value>,
    pub since: Option<String>,
}

impl Replica {
    /// Syncs until nothing more is ready; returns how many calls it took.
    pub async fn sync(&mut self, app: &TestApp, token: &str) -> usize {
        for calls in 1.. {
            let step = app.sync_step(token, self.since.as_deref(), "").await;
            self.apply(&step);
            if !step.more {
                return calls;
            }
        }
        unreachable!()
    }

    pub fn apply(&mut self, step: &SyncStep) {
        for change in &step.changes {
            let id = change["id"].as_str().unwrap().to_string();
            match change["deleted"].as_bool().unwrap() {
                true => self.todos.remove(&id),
                false => self.todos.insert(id, change["todo"].clone()),
            };
        }
        self.since = Some(step.next.clone());
    }
}

/// Blog posts.
impl TestApp {
    /// `POST /blog/posts` (anonymous with `None`).
    pub async fn create_post(&self, token: Option<&str>, body: Value) -> Response {
        let request = self.request(Method::POST, "/blog/posts", token);
        request.json(&body).send().await.unwrap()
    }

    /// Creates a post that must succeed; returns its JSON and ETag.
    pub async fn new_post(&self, author: &str, body: Value) -> (Value, String) {
        let response = self.create_post(Some(author), body).await;
        assert_eq!(response.status(), 201);
        let tag = response.headers()["etag"].to_str().unwrap().to_string();
        (response.json().await.unwrap(), tag)
    }

    /// `PUT` (replace) or `PATCH` (change) `/blog/posts/{slug}`.
    pub async fn edit_post(
        &self,
        method: Method,
        token: &str,
        slug: &str,
        body: Value,
        if_match: Option<&str>,
    ) -> Response {
        let path = format!("/blog/posts/{slug}");
        let mut request = self.request(method, &path, Some(token)).json(&body);
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        request.send().await.unwrap()
    }

    pub async fn delete_post(&self, token: &str, slug: &str) -> Response {
        let path = format!("/blog/posts/{slug}");
        self.request(Method::DELETE, &path, Some(token))
            .send()
            .await
            .unwrap()
    }

    /// A conditional GET, as a browser or CDN revalidates what it holds.
    pub async fn revalidate(&self, path: &str, etag: &str) -> Response {
        let request = self.request(Method::GET, path, None);
        request.header("if-none-match", etag).send().await.unwrap()
    }
}

/// Blog subscribers.
impl TestApp {
    /// `POST /blog/subscribers`.
    pub async fn subscribe(&self, email: &str) -> Response {
        self.subscribe_as(email, None).await
    }

    /// `POST /blog/subscribers` through a proxy that forwarded `client`.
    pub async fn subscribe_as(&self, email: &str, forwarded_for: Option<&str>) -> Response {
        let mut request = self.request(Method::POST, "/blog/subscribers", None);
        if let Some(client) = forwarded_for {
            request = request.header("x-forwarded-for", client);
        }
        request
            .json(&json!({ "email": email }))
            .send()
            .await
            .unwrap()
    }

    /// `DELETE` on an unsubscribe link (a path).
    pub async fn unsubscribe(&self, link: &str) -> Response {
        self.request(Method::DELETE, link, None)
            .send()
            .await
            .unwrap()
    }

    /// The one-click `POST` a mail client sends to an unsubscribe link.
    pub async fn unsubscribe_one_click(&self, link: &str) -> Response {
        let request = self.request(Method::POST, link, None);
        request
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap()
    }
}

/// Uploads.
impl TestApp {
    /// `POST /uploads` (anonymous with `None`).
    pub async fn create_upload(&self, token: Option<&str>, body: Value) -> Response {
        let request = self.request(Method::POST, "/uploads", token);
        request.json(&body).send().await.unwrap()
    }

    /// Asks for an upload URL that must be granted; returns the ticket.
    pub async fn upload_ticket(&self, token: &str, body: Value) -> Value {
        let response = self.create_upload(Some(token), body).await;
        assert_eq!(response.status(), 201, "asking for an upload URL");
        response.json().await.unwrap()
    }

    /// Sends `bytes` where an upload ticket says, with the headers it says.
    pub async fn send_upload(&self, ticket: &Value, bytes: Vec<u8>) -> Response {
        let mut request = self.client.put(ticket["url"].as_str().unwrap());
        for pair in ticket["headers"].as_array().unwrap() {
            let (name, value) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
            if name != "host" {
                request = request.header(name, value);
            }
        }
        request.body(bytes).send().await.unwrap()
    }

    pub async fn delete_upload(&self, token: &str, id: &str) -> Response {
        let path = format!("/uploads/{id}");
        self.request(Method::DELETE, &path, Some(token))
            .send()
            .await
            .unwrap()
    }

    /// The upload once its completion has run (it must not stay pending).
    pub async fn settled_upload(&self, token: &str, id: &str) -> Value {
        self.drain_reactions().await;
        let upload: Value = self
            .get(&format!("/uploads/{id}"), token)
            .await
            .json()
            .await
            .unwrap();
        assert_ne!(upload["status"], "pending", "upload {id} stayed pending");
        upload
    }
}
