//! Markdown to HTML that is safe to put on a page.
//!
//! pulldown-cmark renders CommonMark (with tables and strikethrough);
//! ammonia then keeps only an allow-list of tags and attributes, so raw HTML
//! in the Markdown cannot bring scripts, event handlers, styles or
//! `javascript:` / `data:` URLs with it. Links get `rel="noopener noreferrer
//! nofollow"`.

use std::collections::HashSet;

use pulldown_cmark::{Options, Parser, html};

/// The URL schemes a link or image may use.
const SCHEMES: [&str; 3] = ["http", "https", "mailto"];

pub fn markdown_to_safe_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut rendered = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut rendered, Parser::new_ext(markdown, options));
    ammonia::Builder::default()
        .url_schemes(HashSet::from(SCHEMES))
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(&rendered)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders() {
        let html =
            markdown_to_safe_html("# Title\n\nSome *emphasis* and [a link](https://example.com).");
        assert!(html.contains("<h1>Title</h1>"));
        assert!(html.contains("<em>emphasis</em>"));
        assert!(html.contains(
            r#"<a href="https://example.com" rel="noopener noreferrer nofollow">a link</a>"#
        ));
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
            let html = markdown_to_safe_html(markdown).to_lowercase();
            for bad in forbidden {
                assert!(!html.contains(bad), "{markdown:?} rendered {html:?}");
            }
        }
    }
}
