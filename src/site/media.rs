//! The public copies of the photos published posts show, under `media/`.
//!
//! A copy's name says what it is (upload, width, format) and an upload's
//! bytes never change once checked, so a copy that exists is never made
//! again: a build makes only the copies the store lacks, reading each
//! original from the private uploads once and resizing it with the
//! uploads' own pipeline ([`crate::uploads::inspect::derivatives`]). A copy
//! no published post shows is deleted with the rest of what the site no
//! longer wants.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use bytes::Bytes;

use super::ASSET_CACHE;
use crate::blog::Post;
use crate::blog::photos::Photo;
use crate::large_work;
use crate::objects::ObjectStore;
use crate::objects::site::SiteFile;
use crate::uploads::inspect;

/// Resizing one photo may take at most this long.
const TIME_LIMIT: Duration = Duration::from_secs(30);

/// The formats every copy is made in, with their content types.
const FORMATS: [(&str, &str); 2] = [("webp", "image/webp"), ("jpg", "image/jpeg")];

/// Every copy `posts` show, by site path.
pub fn wanted(posts: &[Post]) -> HashSet<String> {
    let photos = posts.iter().flat_map(|post| &post.photos);
    photos.flat_map(paths).collect()
}

fn paths(photo: &Photo) -> Vec<String> {
    let widths = photo.widths();
    let each = widths
        .iter()
        .flat_map(|&w| FORMATS.map(|(format, _)| photo.path(w, format)));
    each.collect()
}

/// The photos of `posts` with a copy missing from `stored`, each once.
pub fn missing<'a>(posts: &'a [Post], stored: &HashMap<String, String>) -> Vec<&'a Photo> {
    let mut lacking: BTreeMap<String, &Photo> = BTreeMap::new();
    for photo in posts.iter().flat_map(|post| &post.photos) {
        if paths(photo).iter().any(|path| !stored.contains_key(path)) {
            lacking.insert(photo.id.to_string(), photo);
        }
    }
    lacking.into_values().collect()
}

/// Every copy of `photo`, made from its original. `None` when the original
/// is gone (deleted by its owner after publishing) or no longer decodes:
/// the page then shows its alt text's space, and the build goes on.
pub async fn make(objects: &dyn ObjectStore, photo: &Photo) -> Option<Vec<SiteFile>> {
    let original = match objects.get(&photo.key).await {
        Ok(Some(object)) => object.body,
        Ok(None) => {
            tracing::warn!(upload = %photo.id, "a published photo's original is gone");
            return None;
        }
        Err(error) => {
            tracing::warn!(upload = %photo.id, %error, "a published photo's original is unreadable");
            return None;
        }
    };
    let sizes = photo.sizes();
    let work = large_work::run(move || inspect::derivatives(&original, &sizes));
    let failed = match tokio::time::timeout(TIME_LIMIT, work).await {
        Ok(Ok(Ok(made))) => return Some(files(photo, made)),
        Ok(Ok(Err(why))) => why,
        Ok(Err(panicked)) => panicked.to_string(),
        Err(_) => "took too long".into(),
    };
    tracing::warn!(upload = %photo.id, failed, "a published photo could not be resized");
    None
}

fn files(photo: &Photo, made: Vec<inspect::Derivative>) -> Vec<SiteFile> {
    let file = |path: String, body: Vec<u8>, content_type| SiteFile {
        path,
        body: Bytes::from(body),
        content_type,
        cache_control: ASSET_CACHE,
    };
    let mut files = Vec::with_capacity(made.len() * FORMATS.len());
    for copy in made {
        files.push(file(
            photo.path(copy.width, "webp"),
            copy.webp,
            FORMATS[0].1,
        ));
        files.push(file(photo.path(copy.width, "jpg"), copy.jpeg, FORMATS[1].1));
    }
    files
}
