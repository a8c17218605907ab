//! Every key format of the single table and of the object store, in one
//! place, next to the table's definition in `migrations/`.
//!
//! | item | PK | SK | GSI1PK / GSI1SK |
//! |---|---|---|---|
//! | todo | `USER#{sub}` | `TODO#{ulid}` | |
//! | upload | `USER#{sub}` | `UPLOAD#{ulid}` | |
//! | todo sync counter | `USER#{sub}` | `SYNC` | |
//! | todo change (log entry) | `USER#{sub}` | `CHANGE#{seq, 20 digits}` | |
//! | answer to a client's batch | `USER#{sub}` | `MUTATION#{client}#{id, 20 digits}` | |
//! | idempotency record | `USER#{sub}` | `IDEM#{key}` | |
//! | pointer to a post the user wrote | `USER#{sub}` | `POST#{slug}` | |
//! | post | `POST#{slug}` | `POST` | `POSTS#PUBLISHED` / `{published_at ns, 20 digits}#{slug}`, published only |
//! | subscriber | `SUB#{email}` | `SUB` | |
//! | a service secret | `SECRET#{name}` | `SECRET` | |
//!
//! Objects: an upload's bytes at `users/{sub}/uploads/{ulid}/{file name}`,
//! its thumbnails at `thumbs/users/{sub}/uploads/{ulid}/{size}.jpg`.
//!
//! Everything the service holds about a user is in their partition, or
//! found from it (their posts, their uploads' objects), so that exporting
//! or erasing an account reads one partition.
//!
//! Keys are built only from validated ids ([`crate::ids`]), so no part can
//! hold the `#` or `/` that separates the next.

use crate::ids::{EmailAddress, Slug, TodoId, UploadId, UserId};
use crate::store::Key;

/// The partition holding all of one user's items (todos, uploads).
pub fn user_partition(user: &UserId) -> String {
    format!("USER#{user}")
}

/// The sort-key prefix of a user's todos.
pub const TODO_PREFIX: &str = "TODO#";
/// The sort-key prefix of a user's uploads.
pub const UPLOAD_PREFIX: &str = "UPLOAD#";

pub fn todo(user: &UserId, id: TodoId) -> Key {
    Key::new(user_partition(user), format!("{TODO_PREFIX}{id}"))
}

/// The sort-key prefix of a user's todo change log.
pub const CHANGE_PREFIX: &str = "CHANGE#";

/// The counter that numbers a user's todo changes.
pub fn sync_counter(user: &UserId) -> Key {
    Key::new(user_partition(user), "SYNC")
}

/// The log entry of a user's todo change number `seq`: zero-padded, so the
/// log reads in order.
pub fn change(user: &UserId, seq: u64) -> Key {
    Key::new(user_partition(user), format!("{CHANGE_PREFIX}{seq:020}"))
}

/// The answer to mutation `mutation_id` of a user's client `client_id`
/// (letters, digits, `-` and `_` only).
pub fn mutation(user: &UserId, client_id: &str, mutation_id: u64) -> Key {
    Key::new(
        user_partition(user),
        format!("MUTATION#{client_id}#{mutation_id:020}"),
    )
}

/// A secret the service keeps in its own table, shared by every instance.
pub fn secret(name: &str) -> Key {
    Key::new(format!("SECRET#{name}"), "SECRET")
}

pub fn upload(user: &UserId, id: UploadId) -> Key {
    Key::new(user_partition(user), format!("{UPLOAD_PREFIX}{id}"))
}

/// The sort key of post items.
const POST_SORT: &str = "POST";

pub fn post(slug: &Slug) -> Key {
    Key::new(format!("POST#{slug}"), POST_SORT)
}

/// True for the key of a post item (not an author's pointer to one).
pub fn is_post(key: &Key) -> bool {
    key.sk == POST_SORT && key.pk.starts_with("POST#")
}

/// The index partition that lists published posts.
pub const PUBLISHED_POSTS: &str = "POSTS#PUBLISHED";

/// A published post's index sort key: newest first when read descending.
pub fn published_post_sort(published_at_nanos: i128, slug: &Slug) -> String {
    format!("{published_at_nanos:020}#{slug}")
}

/// The sort key of subscriber items.
const SUBSCRIBER_SORT: &str = "SUB";

pub fn subscriber(email: &EmailAddress) -> Key {
    Key::new(format!("SUB#{email}"), SUBSCRIBER_SORT)
}

/// True for the key of a subscriber item.
pub fn is_subscriber(key: &Key) -> bool {
    key.sk == SUBSCRIBER_SORT && key.pk.starts_with("SUB#")
}

/// The record of one `Idempotency-Key` of one user.
pub fn idempotency(user: &UserId, key: &str) -> Key {
    Key::new(user_partition(user), format!("IDEM#{key}"))
}

/// The sort-key prefix of the pointers from a user to the posts they wrote.
pub const AUTHORED_PREFIX: &str = "POST#";

/// The pointer from `user` to the post they wrote at `slug`.
pub fn authored(user: &UserId, slug: &Slug) -> Key {
    Key::new(user_partition(user), format!("{AUTHORED_PREFIX}{slug}"))
}

/// The post a pointer's sort key names; `None` for any other sort key.
pub fn authored_slug(sort_key: &str) -> Option<Slug> {
    sort_key.strip_prefix(AUTHORED_PREFIX)?.parse().ok()
}

/// The objects prefixes holding a user's files and their thumbnails.
pub fn user_object_prefixes(user: &UserId) -> [String; 2] {
    let files = format!("users/{user}/");
    [format!("{THUMBS_PREFIX}{files}"), files]
}

/// Where thumbnails live; the upload completion ignores this prefix.
pub const THUMBS_PREFIX: &str = "thumbs/";

/// The object key of an upload's bytes. `file_name` is one safe segment.
pub fn upload_object(user: &UserId, id: UploadId, file_name: &str) -> String {
    format!("users/{user}/uploads/{id}/{file_name}")
}

/// The object key of one thumbnail of the upload stored at `upload_key`.
pub fn thumbnail_object(upload_key: &str, size: u32) -> String {
    let folder = upload_key
        .rsplit_once('/')
        .map_or(upload_key, |(dir, _)| dir);
    format!("{THUMBS_PREFIX}{folder}/{size}.jpg")
}

/// The owner and id of an upload object's key; `None` for any other key.
pub fn parse_upload_object(key: &str) -> Option<(UserId, UploadId)> {
    let rest = key.strip_prefix("users/")?;
    let (user, rest) = rest.split_once('/')?;
    let (id, _name) = rest.strip_prefix("uploads/")?.split_once('/')?;
    Some((user.parse().ok()?, id.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_objects_parse_back_and_thumbnails_live_apart() {
        let (user, id) = ("sub-1".parse().unwrap(), UploadId::new());
        let key = upload_object(&user, id, "a b.png");
        assert_eq!(parse_upload_object(&key), Some((user, id)));
        let thumb = thumbnail_object(&key, 256);
        assert!(thumb.starts_with(THUMBS_PREFIX));
        assert_eq!(
            parse_upload_object(&thumb),
            None,
            "thumbnails never complete"
        );
        assert_eq!(parse_upload_object("users/x/uploads/not-an-id/a"), None);
    }

    #[test]
    fn only_subscriber_keys_are_subscribers() {
        let email: EmailAddress = "a@example.com".parse().unwrap();
        assert!(is_subscriber(&subscriber(&email)));
        let user: UserId = "u".parse().unwrap();
        assert!(!is_subscriber(&todo(&user, TodoId::new())));
    }
}
