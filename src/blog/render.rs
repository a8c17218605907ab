//! Markdown to HTML that is safe to put on a page, in time linear in the
//! input.
//!
//! pulldown-cmark renders CommonMark (with tables and strikethrough);
//! ammonia then keeps only an allow-list of tags and attributes, so no
//! script, event handler, style or `javascript:` / `data:` URL survives.
//! Links get `rel="noopener noreferrer nofollow"`. An image naming one of
//! the post's photos (`![alt](upload:ID)`, see [`super::photos`]) becomes
//! a responsive `<picture>` of its public copies; the tags and attributes
//! that needs are allowed because nothing an author writes can produce
//! them (raw HTML is text).
//!
//! Two bounds keep the cost linear. html5ever, under ammonia, checks the
//! stack of open elements for every element it meets, so its time grows
//! with size × depth: 50 KB of `>` (50,000 nested quotes) took 45 s. So
//! Markdown may nest at most [`MAX_NESTING`] containers (quotes, lists,
//! emphasis), counted on the parser's events before anything is cleaned
//! (pulldown-cmark itself is linear on every input we tried; see
//! `./scripts/bench-parsers`), and raw HTML in the Markdown is shown as
//! text, not parsed: unclosed `<div>`s nest without bound too, and authors
//! write Markdown. The render runs on a blocking thread under a deadline
//! ([`render`]), so a large post never holds an async worker.

use std::collections::HashSet;
use std::time::Duration;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, html};

use super::photos::{Loading, Photo, SCHEME};

/// The URL schemes a link or image may use.
const SCHEMES: [&str; 3] = ["http", "https", "mailto"];

/// How deep quotes, lists and inline markup may nest.
pub const MAX_NESTING: usize = 32;

/// How long a render may take before the write is refused (a bound, not a
/// budget: the largest post renders in milliseconds).
pub const RENDER_DEADLINE: Duration = Duration::from_secs(2);

/// Why a body was not rendered.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("nests more than {MAX_NESTING} levels deep")]
    TooDeep,
    #[error("took too long to render")]
    TooSlow,
}

/// [`markdown_to_safe_html`] on a blocking thread, given up after
/// [`RENDER_DEADLINE`].
pub async fn render(markdown: String, photos: Vec<Photo>) -> Result<String, RenderError> {
    let work = tokio::task::spawn_blocking(move || markdown_to_safe_html(&markdown, &photos));
    match tokio::time::timeout(RENDER_DEADLINE, work).await {
        Ok(Ok(rendered)) => rendered,
        // A panic in the renderer is a bug, but the author only learns the
        // body could not be rendered; the cause is in the log.
        Ok(Err(panicked)) => {
            tracing::error!(%panicked, "markdown render failed");
            Err(RenderError::TooSlow)
        }
        Err(_) => Err(RenderError::TooSlow),
    }
}

/// The words of `markdown` without its markup, on one line (for excerpts
/// and descriptions); reads no further than it needs for `max_chars`.
pub fn markdown_to_text(markdown: &str, max_chars: usize) -> String {
    let mut text = String::new();
    // Code blocks and tables read badly as running text: they are left out.
    let mut skipped = 0usize;
    for event in Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    ) {
        match event {
            Event::Start(Tag::CodeBlock(_) | Tag::Table(_)) => skipped += 1,
            Event::End(TagEnd::CodeBlock | TagEnd::Table) => skipped = skipped.saturating_sub(1),
            _ if skipped > 0 => {}
            Event::Text(words) | Event::Code(words) => text.push_str(&words),
            Event::SoftBreak | Event::HardBreak => text.push(' '),
            // Blocks end in a space; inline ends (emphasis, links) do not.
            Event::End(
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item | TagEnd::BlockQuote(_),
            ) => text.push(' '),
            _ => {}
        }
        if text.len() > max_chars * 4 + 64 {
            break;
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `markdown` as sanitized HTML, its `upload:` images shown from `photos`.
pub fn markdown_to_safe_html(markdown: &str, photos: &[Photo]) -> Result<String, RenderError> {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events: Vec<Event> = Parser::new_ext(markdown, options)
        .map(html_as_text)
        .collect();
    check_nesting(&events)?;
    let mut rendered = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut rendered, with_pictures(events, photos).into_iter());
    Ok(ammonia::Builder::default()
        .url_schemes(HashSet::from(SCHEMES))
        .link_rel(Some("noopener noreferrer nofollow"))
        .add_tags(["picture", "source"])
        .add_tag_attributes("source", ["type", "srcset", "sizes"])
        .add_tag_attributes("img", ["srcset", "sizes", "loading", "decoding"])
        .clean(&rendered)
        .to_string())
}

/// Each image naming one of `photos` as its `<picture>`; one naming an
/// upload the post doesn't show becomes its alt text.
fn with_pictures<'a>(events: Vec<Event<'a>>, photos: &[Photo]) -> Vec<Event<'a>> {
    let mut out = Vec::with_capacity(events.len());
    let mut alt: Option<(String, String)> = None; // (upload id, alt so far)
    for event in events {
        match (event, &mut alt) {
            (Event::Start(Tag::Image { dest_url, .. }), None) if dest_url.starts_with(SCHEME) => {
                alt = Some((dest_url[SCHEME.len()..].to_string(), String::new()));
            }
            (Event::Text(text) | Event::Code(text), Some((_, words))) => words.push_str(&text),
            (Event::End(TagEnd::Image), Some(_)) => {
                let (id, words) = alt.take().expect("inside an image");
                let id = id.parse::<crate::ids::UploadId>().ok();
                let shown = photos.iter().find(|p| Some(p.id) == id);
                out.push(match shown {
                    Some(photo) => {
                        Event::Html(photo.picture(&words, Loading::Lazy).into_string().into())
                    }
                    None => Event::Text(words.into()),
                });
            }
            (_, Some(_)) => {}
            (event, None) => out.push(event),
        }
    }
    out
}

/// Raw HTML, block or inline, becomes text (escaped when written out).
fn html_as_text(event: Event) -> Event {
    match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    }
}

fn check_nesting(events: &[Event]) -> Result<(), RenderError> {
    let mut depth = 0usize;
    for event in events {
        match event {
            Event::Start(_) => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(RenderError::TooDeep);
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_keeps_words_and_punctuation_together() {
        let text = markdown_to_text(
            "Some *emphasis*, a [link](https://x).\n\n## Next\n\n- one\n- two",
            200,
        );
        assert_eq!(text, "Some emphasis, a link. Next one two");
    }

    #[test]
    fn markdown_renders() {
        let html = markdown_to_safe_html(
            "# Title\n\nSome *emphasis* and [a link](https://example.com).",
            &[],
        )
        .unwrap();
        assert!(html.contains("<h1>Title</h1>"));
        assert!(html.contains("<em>emphasis</em>"));
        assert!(html.contains(
            r#"<a href="https://example.com" rel="noopener noreferrer nofollow">a link</a>"#
        ));
    }

    #[test]
    fn upload_images_become_pictures_of_public_copies() {
        let photo = Photo {
            id: "01J00000000000000000000000".parse().unwrap(),
            key: "users/x/uploads/01J00000000000000000000000/cat.jpg".into(),
            width: 800,
            height: 600,
        };
        let markdown = "![a <b>cat</b> *here*](upload:01J00000000000000000000000)\n\n\
                        ![gone](upload:01J00000000000000000000001)";
        let html = markdown_to_safe_html(markdown, &[photo]).unwrap();
        assert!(
            html.contains("<picture><source type=\"image/webp\""),
            "{html}"
        );
        assert!(html.contains("srcset=\"/media/01J00000000000000000000000/480.jpg 480w, "));
        assert!(
            html.contains(r#"alt="a &lt;b&gt;cat&lt;/b&gt; here""#),
            "{html}"
        );
        assert!(html.contains(r#"width="800" height="600""#));
        assert!(html.contains("<p>gone</p>"), "{html}");
        assert!(!html.contains("users/") && !html.contains("upload:"));
    }

    /// The tags in `html` (escaped text such as `&lt;b&gt;` is no tag).
    fn tags(html: &str) -> impl Iterator<Item = &str> {
        html.split('<')
            .skip(1)
            .map(|rest| rest.split('>').next().unwrap_or(rest))
    }

    #[test]
    fn raw_html_is_shown_as_text() {
        let html = markdown_to_safe_html("Say <b>hi</b>\n\n<div>block</div>", &[]).unwrap();
        assert_eq!(
            html,
            "<p>Say &lt;b&gt;hi&lt;/b&gt;</p>\n&lt;div&gt;block&lt;/div&gt;"
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let deep_quotes = ">".repeat(MAX_NESTING + 1);
        assert_eq!(
            markdown_to_safe_html(&deep_quotes, &[]),
            Err(RenderError::TooDeep)
        );
        let deep_lists = "- ".repeat(MAX_NESTING + 1) + "x";
        assert_eq!(
            markdown_to_safe_html(&deep_lists, &[]),
            Err(RenderError::TooDeep)
        );
        let deep_enough = ">".repeat(MAX_NESTING - 1) + " x";
        assert!(markdown_to_safe_html(&deep_enough, &[]).is_ok());
    }

    /// Hostile Markdown: whatever comes in, nothing that runs comes out.
    #[test]
    fn hostile_markdown_renders_harmless() {
        let hostile = [
            "<script>alert(1)</script>",
            "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
            "<img src=x onerror=alert(1)>",
            "<a href=\"javascript:alert(1)\">click</a>",
            "[click](javascript:alert(1))",
            "[click](JaVaScRiPt:alert(1))",
            "[click](  javascript:alert(1))",
            "![x](javascript:alert(1))",
            "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
            "<iframe src=https://evil.example></iframe>",
            "<svg onload=alert(1)>",
            "<div style=\"background:url(javascript:alert(1))\">x</div>",
            "<p onclick=alert(1)>x</p>",
            "<object data=evil.swf></object><embed src=evil.swf>",
            "<form action=https://evil.example><input name=p></form>",
            "<meta http-equiv=refresh content=0;url=https://evil.example>",
            "<style>body{display:none}</style>",
            "<a href=\"&#106;avascript:alert(1)\">x</a>",
            "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
            "<<script>script>alert(1)<</script>/script>",
        ];
        let forbidden = [
            "<script",
            "onerror",
            "onload",
            "onclick",
            "javascript:",
            "data:text",
            "<iframe",
            "<svg",
            "style=",
            "<object",
            "<embed",
            "<form",
            "<input",
            "<meta",
            "<style",
            "xlink",
        ];
        for markdown in hostile {
            let html = markdown_to_safe_html(markdown, &[]).unwrap().to_lowercase();
            for tag in tags(&html) {
                for bad in forbidden {
                    assert!(!tag.contains(bad), "{markdown:?} rendered {html:?}");
                }
            }
        }
    }
}
