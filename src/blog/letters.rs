//! The blog's mail and its small pages, rendered with maud: escaped by
//! default and checked at compile time, like the site's pages.

use maud::{DOCTYPE, Markup, html};

const BODY_STYLE: &str = "font-family: sans-serif; max-width: 36em; margin: 2em auto;";

fn page(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
            }
            body style=(BODY_STYLE) { (body) }
        }
    }
    .into_string()
}

/// The welcome email's HTML part.
pub fn welcome_html(blog: &str, unsubscribe_url: &str) -> String {
    page(
        &format!("Welcome to {blog}"),
        html! {
            h1 { "Welcome to " (blog) "!" }
            p { "Thanks for subscribing. You will hear from us when something new is published." }
            p style="color: #666; font-size: smaller;" {
                "If you did not ask for this, or want no more mail, "
                a href=(unsubscribe_url) { "unsubscribe" } "."
            }
        },
    )
}

/// The welcome email's text part.
pub fn welcome_text(blog: &str, unsubscribe_url: &str) -> String {
    format!(
        "Welcome to {blog}!\n\n\
         Thanks for subscribing. You will hear from us when something new is published.\n\n\
         If you did not ask for this, or want no more mail, unsubscribe here:\n\
         {unsubscribe_url}\n"
    )
}

/// The page behind the email's link: it asks first, since mail scanners
/// follow links.
pub fn unsubscribe_page(blog: &str, action: &str) -> String {
    page(
        &format!("Unsubscribe from {blog}"),
        html! {
            h1 { "Unsubscribe from " (blog) "?" }
            p { "You will get no more mail from us." }
            form method="post" action=(action) { button type="submit" { "Unsubscribe" } }
        },
    )
}

pub fn unsubscribed_page(blog: &str) -> String {
    page(
        "Unsubscribed",
        html! { h1 { "You are unsubscribed from " (blog) "." } },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_links_are_escaped() {
        let html = welcome_html("<b>Blog</b>", "https://x/?a=1&b=\"2\"");
        assert!(
            html.contains("Welcome to &lt;b&gt;Blog&lt;/b&gt;!"),
            "{html}"
        );
        assert!(
            html.contains(r#"href="https://x/?a=1&amp;b=&quot;2&quot;""#),
            "{html}"
        );
        assert!(unsubscribe_page("a\"b", "/x").contains("a&quot;b"));
    }
}
