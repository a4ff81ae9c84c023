//! Link extraction from HTML bodies with a real HTML tokenizer ([`html5gum`]), not a regex:
//! entities, quoting styles, comments and attributes in any order are handled as browsers do.

use url::Url;

/// The `<a href>` targets of `body`, resolved against `base`, without fragments, http(s) only,
/// each once, in document order.
pub fn extract(base: &Url, body: &[u8]) -> Vec<Url> {
    let mut links: Vec<Url> = Vec::new();
    for token in html5gum::Tokenizer::new(body).flatten() {
        let html5gum::Token::StartTag(tag) = token else {
            continue;
        };
        if tag.name.as_slice() != b"a" {
            continue;
        }
        let Some(href) = tag.attributes.get(b"href".as_slice()) else {
            continue;
        };
        let Ok(href) = std::str::from_utf8(href.as_slice()) else {
            continue;
        };
        let Ok(mut url) = base.join(href.trim()) else {
            continue;
        };
        if !matches!(url.scheme(), "http" | "https") {
            continue;
        }
        url.set_fragment(None);
        if !links.contains(&url) {
            links.push(url);
        }
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_strips_fragments_and_skips_other_schemes() {
        let base = Url::parse("http://127.0.0.1:8/site/3.html").unwrap();
        let html = br#"<!doctype html><html><body>
            <a href="4.html">rel</a> <A HREF='/site/5.html#top'>abs path</A>
            <a title="x" href=http://127.0.0.1:8/site/6.html>abs</a>
            <a href="4.html#again">dup</a> <a href="mailto:x@y">mail</a>
            <a href="javascript:void(0)">js</a> <a name="anchor">no href</a>
            <!-- <a href="commented.html"> -->
            <a href="../up.html?a=1&amp;b=2">entity</a>
            <link href="style.css"><img src="i.png"></body></html>"#;
        let got: Vec<String> = extract(&base, html).into_iter().map(String::from).collect();
        assert_eq!(
            got,
            [
                "http://127.0.0.1:8/site/4.html",
                "http://127.0.0.1:8/site/5.html",
                "http://127.0.0.1:8/site/6.html",
                "http://127.0.0.1:8/up.html?a=1&b=2",
            ]
        );
    }

    #[test]
    fn non_utf8_and_garbage_do_not_panic() {
        let base = Url::parse("http://127.0.0.1:8/").unwrap();
        assert!(extract(&base, &[0xff, 0xfe, b'<', b'a']).is_empty());
        assert!(extract(&base, b"<a href=\"\xff\">x</a>").is_empty());
    }
}
