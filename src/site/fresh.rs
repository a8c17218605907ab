//! Building from a view of the posts that is new enough.
//!
//! Two things can make a build write an old view. On DynamoDB the index of
//! published posts is eventually consistent, so a build started by a
//! change's stream record can read the index before the change reaches it:
//! [`published_showing`] reads again, briefly, until the view shows the
//! change. And on Lambda two instances can build at once (post changes on
//! different stream shards); the one that read the older view may finish
//! last. So after writing, a build reads the index again and, if it moved,
//! builds again ([`settle`]): whichever build finishes last has written
//! the latest view. Within one process a lock already keeps builds apart.

use std::time::Duration;

use super::{BuildError, Built, SiteState, published, write};
use crate::blog::{Post, model};
use crate::store::{ChangeRecord, Item, attr};

/// Reads of the index while it does not yet show a change.
const READS: u32 = 20;
/// The wait between them (DynamoDB's indexes usually follow within a second).
const PAUSE: Duration = Duration::from_millis(150);
/// Builds in one settle: more means posts change faster than a build runs,
/// and the next change's build will catch up.
const MAX_BUILDS: usize = 3;

/// Which version of which post a view holds: `(slug, created, version)`.
type Stamp = (String, i128, u64);

fn stamp(post: &Post) -> Stamp {
    let created = post.created_at.unix_timestamp_nanos();
    (post.slug.to_string(), created, post.version)
}

fn stamps(posts: &[Post]) -> Vec<Stamp> {
    posts.iter().map(stamp).collect()
}

/// The published posts, read until they show `change` (or until the
/// reads run out: the build then goes on with what it has).
pub async fn published_showing(
    state: &SiteState,
    change: &ChangeRecord,
) -> Result<Vec<Post>, BuildError> {
    let mut posts = published(state.table.as_ref()).await?;
    for _ in 1..READS {
        if shows(&posts, change) {
            return Ok(posts);
        }
        tokio::time::sleep(PAUSE).await;
        posts = published(state.table.as_ref()).await?;
    }
    tracing::warn!(post = %change.key.pk, "the index did not show the change in time");
    Ok(posts)
}

/// Writes the site for `posts`, then again for the index as it is now,
/// until a build's view is still the latest when it ends.
pub async fn settle(state: &SiteState, mut posts: Vec<Post>) -> Result<Built, BuildError> {
    let mut total = Built::default();
    for _ in 0..MAX_BUILDS {
        let built = write(state, &posts).await?;
        total.written += built.written;
        total.deleted += built.deleted;
        total.unchanged = built.unchanged;
        let now = published(state.table.as_ref()).await?;
        if stamps(&now) == stamps(&posts) {
            break;
        }
        posts = now;
    }
    Ok(total)
}

/// Whether `posts` (a view of the index) reflects `change`: a post it
/// published is there at that version or later, and one it took down is
/// not there at that version or earlier.
pub fn shows(posts: &[Post], change: &ChangeRecord) -> bool {
    let decoded = |image: Option<&Item>| {
        let published = image.filter(|item| item.contains_key(attr::GSI1PK));
        published.and_then(|item| model::from_item(item).ok())
    };
    let listed = |slug: &str| {
        posts
            .iter()
            .find(|post| post.slug.as_str() == slug)
            .map(stamp)
    };
    if let Some(new) = decoded(change.new_image.as_ref()) {
        let new = stamp(&new);
        return listed(&new.0).is_some_and(|seen| (seen.1, seen.2) >= (new.1, new.2));
    }
    match decoded(change.old_image.as_ref()) {
        Some(old) => {
            let old = stamp(&old);
            listed(&old.0).is_none_or(|seen| (seen.1, seen.2) > (old.1, old.2))
        }
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blog::model::{CreatePost, UpdatePost};
    use crate::blog::{Status, model::to_item};
    use crate::store::ChangeKind;

    fn post(title: &str) -> Post {
        let draft = CreatePost {
            title: title.into(),
            body: "b".into(),
            slug: None,
            status: Some(Status::Published),
            cover_upload_id: None,
        };
        draft.into_post(&"sub".parse().unwrap(), None).unwrap()
    }

    fn change(old: Option<&Post>, new: Option<&Post>) -> ChangeRecord {
        let any = new.or(old).unwrap();
        ChangeRecord {
            kind: ChangeKind::Modify,
            key: crate::keys::post(&any.slug),
            new_image: new.map(to_item),
            old_image: old.map(to_item),
        }
    }

    fn edited(post: &Post, status: Status) -> Post {
        let edit = UpdatePost {
            status: Some(status),
            ..Default::default()
        };
        edit.apply_to(post.clone()).unwrap()
    }

    #[test]
    fn a_view_shows_a_change_once_the_index_has_it() {
        let first = post("Alpha");
        let second = edited(&first, Status::Published);
        let published = change(Some(&first), Some(&second));
        assert!(!shows(&[], &published), "not listed yet");
        assert!(
            !shows(std::slice::from_ref(&first), &published),
            "the old version"
        );
        assert!(shows(std::slice::from_ref(&second), &published));

        let draft = edited(&second, Status::Draft);
        let unpublished = change(Some(&second), Some(&draft));
        assert!(
            !shows(std::slice::from_ref(&second), &unpublished),
            "still listed"
        );
        assert!(shows(&[], &unpublished));
        let deleted = change(Some(&second), None);
        assert!(!shows(std::slice::from_ref(&second), &deleted));
        assert!(
            shows(&[edited(&second, Status::Published)], &deleted),
            "written again since"
        );

        let drafts_only = change(Some(&draft), Some(&edited(&draft, Status::Draft)));
        assert!(shows(&[], &drafts_only), "a draft's change shows nowhere");
    }
}
