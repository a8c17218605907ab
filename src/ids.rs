//! The identifiers of the product, parsed once where they enter and valid
//! forever after: a handler that holds a [`TodoId`] never checks it again,
//! and a key built from a [`UserId`] cannot reach another user's partition
//! or folder.
//!
//! Each type parses from text with `FromStr` and from JSON with serde (a bad
//! value is a serde error naming what is wanted, so a request body answers
//! 422 with the field), and shows as its text with `Display`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value that is not a valid identifier of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidId(&'static str);

/// Serde for a type that is its text: serialized with `Display`,
/// deserialized with `FromStr`.
macro_rules! text_serde {
    ($type:ty) => {
        impl Serialize for $type {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A signed-in user: the Cognito `sub`. Every per-user key and folder is
/// built from it, so it may hold only letters, digits, `-`, `_` and `.`
/// (a Cognito `sub` is a UUID), at most 128 of them: never a `#` or `/`
/// that could reach into another key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserId(Arc<str>);

impl UserId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for UserId {
    type Err = InvalidId;

    fn from_str(text: &str) -> Result<Self, InvalidId> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if text.is_empty() || text.len() > 128 || !text.chars().all(allowed) || text == ".." {
            return Err(InvalidId("must be a user id"));
        }
        Ok(Self(text.into()))
    }
}

/// A ULID-keyed id: sortable by creation time, 26 Crockford base-32 letters.
macro_rules! ulid_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(ulid::Ulid);

        impl $name {
            /// A fresh id, later than every id made before it here.
            pub fn new() -> Self {
                Self(ulid::Ulid::new())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(text: &str) -> Result<Self, InvalidId> {
                ulid::Ulid::from_string(text)
                    .map(Self)
                    .map_err(|_| InvalidId($what))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        text_serde!($name);
    };
}

/// One todo: a ULID the service made, or a ULID or UUID a client made
/// offline (`PUT /todos/{id}`). Shown in each one's canonical form (a ULID
/// in upper case, a UUID in lower case with hyphens), which is what their
/// libraries produce, so such an id comes back exactly as it was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TodoId {
    Ulid(ulid::Ulid),
    Uuid(u128),
}

impl TodoId {
    /// A fresh id, later than every id made before it here.
    pub fn new() -> Self {
        Self::Ulid(ulid::Ulid::new())
    }
}

impl Default for TodoId {
    fn default() -> Self {
        Self::new()
    }
}

impl FromStr for TodoId {
    type Err = InvalidId;

    fn from_str(text: &str) -> Result<Self, InvalidId> {
        let invalid = InvalidId("must be a todo id: a ULID or a UUID");
        match text.len() {
            36 => parse_uuid(text).map(Self::Uuid).ok_or(invalid),
            _ => ulid::Ulid::from_string(text)
                .map(Self::Ulid)
                .map_err(|_| invalid),
        }
    }
}

/// `8-4-4-4-12` hexadecimal digits, either case.
fn parse_uuid(text: &str) -> Option<u128> {
    let bytes = text.as_bytes();
    let dashes_in_place = [8, 13, 18, 23].iter().all(|&at| bytes[at] == b'-');
    let digits: String = text.chars().filter(|&c| c != '-').collect();
    let all_hex = digits.len() == 32 && digits.bytes().all(|b| b.is_ascii_hexdigit());
    (dashes_in_place && all_hex)
        .then(|| u128::from_str_radix(&digits, 16).ok())
        .flatten()
}

impl fmt::Display for TodoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ulid(ulid) => ulid.fmt(f),
            Self::Uuid(n) => {
                let hex = format!("{n:032x}");
                let parts = [
                    &hex[..8],
                    &hex[8..12],
                    &hex[12..16],
                    &hex[16..20],
                    &hex[20..],
                ];
                f.write_str(&parts.join("-"))
            }
        }
    }
}

text_serde!(TodoId);

ulid_id!(
    /// One upload.
    UploadId,
    "must be an upload id"
);

/// The longest slug, in characters.
pub const SLUG_MAX_CHARS: usize = 100;

/// A post's address: lower-case ASCII letters and digits in words joined by
/// single dashes, at most [`SLUG_MAX_CHARS`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `"Hello, World! (2026)"` → `hello-world-2026`. Letters outside ASCII
    /// are dropped; a title with no usable character gets a unique slug.
    pub fn from_title(title: &str) -> Self {
        let mut slug = String::new();
        for c in title.chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
            if slug.len() >= SLUG_MAX_CHARS {
                break;
            }
        }
        let slug = slug.trim_end_matches('-');
        match slug.is_empty() {
            true => Self(ulid::Ulid::new().to_string().to_lowercase()),
            false => Self(slug.to_string()),
        }
    }
}

impl FromStr for Slug {
    type Err = InvalidId;

    fn from_str(text: &str) -> Result<Self, InvalidId> {
        let word = |w: &str| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        if text.is_empty() || text.len() > SLUG_MAX_CHARS || !text.split('-').all(word) {
            return Err(InvalidId(
                "must be 1 to 100 lower-case letters, digits and single dashes",
            ));
        }
        Ok(Self(text.to_string()))
    }
}

/// A mail address a mail service could deliver to, lower-cased: one `@`, a
/// dot inside the domain, no spaces, control characters or the specials of
/// RFC 5322, at most 254 bytes. Surrounding spaces are trimmed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for EmailAddress {
    type Err = InvalidId;

    fn from_str(text: &str) -> Result<Self, InvalidId> {
        let address = text.trim().to_lowercase();
        let clean = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| !c.is_control() && !c.is_whitespace() && !"<>()[],;:\"\\@".contains(c))
        };
        let valid = address.split_once('@').is_some_and(|(local, domain)| {
            clean(local)
                && clean(domain)
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
        match valid && address.len() <= 254 {
            true => Ok(Self(address)),
            false => Err(InvalidId("must be a mail address")),
        }
    }
}

/// `Display` and serde for the types that hold their text.
macro_rules! text_id {
    ($($name:ty),*) => {$(
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        text_serde!($name);
    )*};
}

text_id!(UserId, Slug, EmailAddress);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_cannot_reach_into_other_keys() {
        for good in ["0f1e2d3c-aaaa-bbbb-cccc-000011112222", "alice", "a.b_c-1"] {
            assert!(good.parse::<UserId>().is_ok(), "{good}");
        }
        let long = "a".repeat(129);
        for bad in ["", "a#b", "a/b", "..", "a b", "é", &long] {
            assert!(bad.parse::<UserId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn slugs_come_from_titles_and_refuse_anything_else() {
        assert_eq!(
            Slug::from_title("Hello, World! (2026)").as_str(),
            "hello-world-2026"
        );
        assert_eq!(Slug::from_title("  --Rust & AWS--  ").as_str(), "rust-aws");
        assert!(Slug::from_title("日本語").as_str().parse::<Slug>().is_ok());
        assert!(Slug::from_title(&"a".repeat(500)).as_str().len() <= SLUG_MAX_CHARS);
        for bad in ["", "-a", "a-", "a--b", "A", "a_b", "a/b", "../x"] {
            assert!(bad.parse::<Slug>().is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses_are_trimmed_lower_cased_and_checked() {
        let address: EmailAddress = "  Reader@Example.COM ".parse().unwrap();
        assert_eq!(address.as_str(), "reader@example.com");
        let long = format!("{}@example.com", "a".repeat(250));
        let injected = "a@example.com\r\nBcc: x@evil.com";
        for bad in [
            "", "a", "a@b", "a@.b", "a@b.", "a b@c.d", "<a@b.c>", "a@b@c.d", injected, &long,
        ] {
            assert!(bad.parse::<EmailAddress>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ids_read_back_what_they_write() {
        let id = TodoId::new();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<TodoId>(&json).unwrap(), id);
        for canonical in [
            "01JD6Z1Q5V3M7Z8R9X2K4N6P8T",
            "0190f4b2-7c3e-7d4a-9b1e-3f5a6c7d8e9f",
        ] {
            let id: TodoId = canonical.parse().unwrap();
            assert_eq!(id.to_string(), canonical, "comes back as sent");
        }
        let upper: TodoId = "0190F4B2-7C3E-7D4A-9B1E-3F5A6C7D8E9F".parse().unwrap();
        assert_eq!(upper.to_string(), "0190f4b2-7c3e-7d4a-9b1e-3f5a6c7d8e9f");
        for bad in [
            "",
            "x",
            "0190f4b2-7c3e-7d4a-9b1e-3f5a6c7d8e9g",
            "0190f4b27c3e-7d4a-9b1e-3f5a6c7d8e9f-",
            "+190f4b2-7c3e-7d4a-9b1e-3f5a6c7d8e9f",
            "01JD6Z1Q5V3M7Z8R9X2K4N6P8",
            "01JD6Z1Q5V3M7Z8R9X2K4N6P8U",
        ] {
            assert!(bad.parse::<TodoId>().is_err(), "{bad}");
        }
        let wrong = serde_json::from_str::<UploadId>("\"not-an-id\"").unwrap_err();
        assert!(wrong.to_string().contains("must be an upload id"));
    }
}
