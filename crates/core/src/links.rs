//! Link extraction from HTML bodies, for crawls.
//!
//! Every backend pays for it alike, so it is harness overhead inside the measured run and must be
//! cheap; and it decides which pages a crawl reaches, so it must read HTML as browsers do (quoting
//! styles, entities, comments, attributes in any order, `<script>` and `<style>` contents that
//! are not markup). Hence a real tokenizer, [`html5gum`], driven by an emitter of our own that
//! keeps only what a link needs: the name of each start tag and, on `<a>`, its `href`. Text,
//! comments and doctypes are dropped without being copied, so text runs go through the
//! tokenizer's word-at-a-time scan and nothing else; parse errors are not even detected; the few
//! buffers are reused from tag to tag, so no token allocates. What remains per link — resolving
//! the href and the URL it allocates — is the part a crawler cannot avoid.

use std::collections::HashMap;

use html5gum::{Emitter, Error, State, Tokenizer, naive_next_state};
use url::Url;

/// The `<a href>` targets of `body`, resolved against `base`, without fragments, http(s) only,
/// each once, in document order.
pub fn extract(base: &Url, body: &[u8]) -> Vec<Url> {
    let mut links = Links {
        base,
        found: Vec::new(),
        seen: HashMap::new(),
    };
    let mut tokenizer = Tokenizer::new_with_emitter(body, HrefEmitter::new(&mut links));
    // The emitter yields no tokens (and reading a slice cannot fail), so one call runs the
    // tokenizer to the end of the body.
    match tokenizer.next() {
        None => {}
        Some(Ok(never) | Err(never)) => match never {},
    }
    links.found
}

/// The links found so far, deduplicated without quadratic scans: `seen` maps the digest of a
/// link's text to its index in `found` (a digest, not a cloned URL, so each link allocates once).
struct Links<'a> {
    base: &'a Url,
    found: Vec<Url>,
    seen: HashMap<u64, usize>,
}

impl Links<'_> {
    fn add(&mut self, href: &[u8]) {
        let Ok(href) = std::str::from_utf8(href) else {
            return;
        };
        let Ok(mut url) = self.base.join(href.trim()) else {
            return;
        };
        if !matches!(url.scheme(), "http" | "https") {
            return;
        }
        url.set_fragment(None);
        let key = crate::fetch::digest(url.as_str().as_bytes());
        match self.seen.get(&key) {
            Some(&i) if self.found[i] == url => {}
            // Two different URLs with one 64-bit digest: astronomically rare, so a linear check.
            Some(_) if self.found.contains(&url) => {}
            Some(_) => self.found.push(url),
            None => {
                self.seen.insert(key, self.found.len());
                self.found.push(url);
            }
        }
    }
}

/// What the tokenizer is building right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Building {
    StartTag,
    EndTag,
    /// A comment or doctype: ignored.
    Other,
}

/// Where the current attribute stands, for `href` on `<a>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Attribute {
    /// Reading its name.
    Name,
    /// Reading the value of the tag's first `href` (a repeated attribute is ignored, as in
    /// browsers).
    Href,
    /// Reading a value nobody needs, or between attributes.
    Skip,
}

/// An [`Emitter`] that hands each `<a href>` to [`Links`] and ignores everything else.
struct HrefEmitter<'l, 'b> {
    links: &'l mut Links<'b>,
    building: Building,
    tag_name: Vec<u8>,
    /// The last start tag that switched the tokenizer into a raw-text state (`<script>`,
    /// `<style>`, `<title>` …): only its end tag leaves that state.
    last_raw_start_tag: Vec<u8>,
    attribute: Attribute,
    attribute_name: Vec<u8>,
    /// The current tag's first `href` has begun (its value, maybe empty, is in `href`).
    has_href: bool,
    href: Vec<u8>,
}

impl<'l, 'b> HrefEmitter<'l, 'b> {
    fn new(links: &'l mut Links<'b>) -> Self {
        Self {
            links,
            building: Building::Other,
            tag_name: Vec::new(),
            last_raw_start_tag: Vec::new(),
            attribute: Attribute::Skip,
            attribute_name: Vec::new(),
            has_href: false,
            href: Vec::new(),
        }
    }

    /// The current attribute's name is complete: is it the first `href` of an `<a>`?
    fn end_attribute_name(&mut self) {
        if self.attribute != Attribute::Name {
            return;
        }
        let first_href = self.building == Building::StartTag
            && !self.has_href
            && self.tag_name == b"a"
            && self.attribute_name == b"href";
        self.has_href |= first_href;
        self.attribute = if first_href {
            Attribute::Href
        } else {
            Attribute::Skip
        };
    }
}

impl Emitter for HrefEmitter<'_, '_> {
    type Token = std::convert::Infallible;

    fn should_emit_errors(&mut self) -> bool {
        false
    }
    fn emit_error(&mut self, _: Error) {}
    fn pop_token(&mut self) -> Option<Self::Token> {
        None
    }
    fn set_last_start_tag(&mut self, last_start_tag: Option<&[u8]>) {
        self.last_raw_start_tag.clear();
        self.last_raw_start_tag
            .extend_from_slice(last_start_tag.unwrap_or_default());
    }
    fn emit_eof(&mut self) {}
    fn emit_string(&mut self, _: &[u8]) {}

    fn init_start_tag(&mut self) {
        self.building = Building::StartTag;
        self.tag_name.clear();
        self.attribute = Attribute::Skip;
        self.has_href = false;
        self.href.clear();
    }
    fn init_end_tag(&mut self) {
        self.building = Building::EndTag;
        self.tag_name.clear();
        self.attribute = Attribute::Skip;
    }
    fn init_comment(&mut self) {
        self.building = Building::Other;
    }
    fn init_doctype(&mut self) {
        self.building = Building::Other;
    }
    fn push_tag_name(&mut self, s: &[u8]) {
        self.tag_name.extend_from_slice(s);
    }

    fn init_attribute(&mut self) {
        self.end_attribute_name();
        self.attribute = Attribute::Name;
        self.attribute_name.clear();
    }
    fn push_attribute_name(&mut self, s: &[u8]) {
        self.attribute_name.extend_from_slice(s);
    }
    fn push_attribute_value(&mut self, s: &[u8]) {
        self.end_attribute_name();
        if self.attribute == Attribute::Href {
            self.href.extend_from_slice(s);
        }
    }

    fn emit_current_tag(&mut self) -> Option<State> {
        self.end_attribute_name();
        self.attribute = Attribute::Skip;
        if self.building != Building::StartTag {
            return None;
        }
        if self.has_href {
            self.links.add(&self.href);
        }
        let next = naive_next_state(&self.tag_name);
        if next.is_some() {
            std::mem::swap(&mut self.last_raw_start_tag, &mut self.tag_name);
        }
        next
    }
    fn current_is_appropriate_end_tag_token(&mut self) -> bool {
        self.building == Building::EndTag
            && !self.last_raw_start_tag.is_empty()
            && self.tag_name == self.last_raw_start_tag
    }

    fn emit_current_comment(&mut self) {}
    fn emit_current_doctype(&mut self) {}
    fn set_self_closing(&mut self) {}
    fn set_force_quirks(&mut self) {}
    fn push_comment(&mut self, _: &[u8]) {}
    fn push_doctype_name(&mut self, _: &[u8]) {}
    fn set_doctype_public_identifier(&mut self, _: &[u8]) {}
    fn set_doctype_system_identifier(&mut self, _: &[u8]) {}
    fn push_doctype_public_identifier(&mut self, _: &[u8]) {}
    fn push_doctype_system_identifier(&mut self, _: &[u8]) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CrawlJob, FetchPolicy, RawResponse};

    fn strings(base: &Url, html: &[u8]) -> Vec<String> {
        extract(base, html).into_iter().map(String::from).collect()
    }

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
        assert_eq!(
            strings(&base, html),
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
        assert!(extract(&base, b"<a href=\"unterminated").is_empty());
    }

    #[test]
    fn script_style_and_title_contents_are_not_markup() {
        let base = Url::parse("http://127.0.0.1:8/d/").unwrap();
        let html = br#"<html><head><title>x <a href="t.html"></title>
            <style>a::after { content: '<a href="s.html">'; }</style>
            <script>document.write('<a href="j.html">'); if (a < b) {}</script>
            <SCRIPT type="module">let x = "</scrip>"; "<a href='k.html'>"</SCRIPT>
            </head><body><textarea><a href="ta.html"></textarea>
            <a href="real.html">real</a></body></html>"#;
        assert_eq!(strings(&base, html), ["http://127.0.0.1:8/d/real.html"]);
    }

    #[test]
    fn first_href_wins_and_other_attributes_and_tags_are_ignored() {
        let base = Url::parse("http://127.0.0.1:8/d/").unwrap();
        let html = br#"<a data-href="no.html" href="one.html" href="two.html">x</a>
            <area href="area.html"><div href="div.html"></div></a href="end.html">
            <a hreflang="en" href>self</a><a class=x href = " spaced.html ">y</a>"#;
        assert_eq!(
            strings(&base, html),
            [
                "http://127.0.0.1:8/d/one.html",
                "http://127.0.0.1:8/d/",
                "http://127.0.0.1:8/d/spaced.html",
            ]
        );
    }

    #[test]
    fn many_duplicates_keep_document_order() {
        let base = Url::parse("http://127.0.0.1:8/d/").unwrap();
        let mut html = String::new();
        for i in 0..3000 {
            html.push_str(&format!("<a href=\"{}.html#f{i}\">x</a>", i % 1000));
        }
        let got = extract(&base, html.as_bytes());
        assert_eq!(got.len(), 1000);
        assert!(
            got.iter()
                .enumerate()
                .all(|(i, u)| u.path() == format!("/d/{i}.html"))
        );
    }

    #[test]
    fn only_a_crawl_extracts_links() {
        let url = Url::parse("http://127.0.0.1:8/d/0.html").unwrap();
        let page = || {
            Ok(RawResponse {
                status: 200,
                location: None,
                content_type: Some("Text/HTML; charset=utf-8".into()),
                body: b"<a href=\"1.html\">one</a>".to_vec(),
            })
        };
        let list = CrawlJob::list(vec![url.clone()]).build().unwrap();
        let crawl = CrawlJob::crawl(vec![url.clone()], 10).build().unwrap();
        let listed = FetchPolicy::new(&list, url.clone()).record(page()).unwrap();
        assert!(listed.links.is_empty() && listed.extract_ns == 0);
        let crawled = FetchPolicy::new(&crawl, url.clone())
            .record(page())
            .unwrap();
        assert_eq!(crawled.links, [url.join("1.html").unwrap()]);
    }
}
