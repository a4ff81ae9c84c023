//! Link extraction from HTML bodies, for crawls.
//!
//! What is followed is what `wget -r` follows to reach *pages* (not page requisites such as
//! stylesheets, icons, images or scripts):
//!
//! - `<a href>` and `<area href>`;
//! - `<frame src>` and `<iframe src>`;
//! - `<link href>` when its `rel` names a page relation: `next`, `prev`, `previous`,
//!   `alternate`, `index`, `contents`, `start`, `help` or `up` (space-separated tokens, any case);
//! - links inside `<noscript>`, which is read as markup (a crawler runs no scripts).
//!
//! The first `<base href>` sets the URL every later link resolves against; earlier links resolve
//! against the document's URL. The contents of `<script>`, `<style>`, `<textarea>`, `<title>`,
//! `<xmp>`, `<noembed>`, `<noframes>`, `<iframe>` and `<plaintext>` are text, never markup. A tag's
//! first occurrence of an attribute wins, as in browsers. Results are http(s) only, without
//! fragments, each once, in document order. Under [`LinkOptions::nofollow`], `<a>`, `<area>` and
//! `<link>` whose `rel` has the token `nofollow` are dropped, and a page with `<meta name=robots
//! content=...>` listing `nofollow` or `none` yields no links at all.
//!
//! Every backend pays for it alike, so it is harness overhead inside the measured run and must be
//! cheap; and it decides which pages a crawl reaches, so it must read HTML as browsers do (quoting
//! styles, entities, comments, attributes in any order, raw-text elements whose contents are not
//! markup). Hence a real tokenizer, [`html5gum`], driven by an emitter of our own that keeps only
//! what a link needs: the name of each start tag and, on the few tags above, the few attributes
//! that matter (`href`/`src`, `rel`, and `<meta>`'s `name` and `content`), decided when the tag
//! ends. Text, comments, doctypes, end tags and every other attribute are dropped without being
//! copied, so text runs go through the tokenizer's word-at-a-time scan and nothing else; parse
//! errors are not even detected; the few buffers are reused from tag to tag, so no token
//! allocates. What remains per link — resolving it and the URL it allocates, deduplicated by a
//! hash of its text — is the part a crawler cannot avoid.

use std::collections::HashMap;

use html5gum::{Emitter, Error, State, Tokenizer};
use url::Url;

/// What a page's links are filtered by.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinkOptions {
    /// Drop `rel=nofollow` links, and every link of a page with `<meta name=robots
    /// content=nofollow>`.
    pub nofollow: bool,
}

/// The links of `body` (see the [module docs](self) for which), resolved against `base` (or the
/// page's own `<base href>`), without fragments, http(s) only, each once, in document order,
/// filtered by `options`.
pub fn extract_with(base: &Url, body: &[u8], options: &LinkOptions) -> Vec<Url> {
    let mut links = Links {
        document: base,
        base: None,
        base_seen: false,
        found: Vec::new(),
        seen: HashMap::new(),
    };
    let stopped = {
        let emitter = LinkEmitter::new(&mut links, options.nofollow);
        let mut tokenizer = Tokenizer::new_with_emitter(body, emitter);
        // The emitter yields a token only to stop early, on a page that forbids following its
        // links, and reading a slice cannot fail; so one call runs the tokenizer to the end of
        // the body or to that stop.
        match tokenizer.next() {
            None => false,
            Some(Ok(ForbidsFollow)) => true,
            Some(Err(never)) => match never {},
        }
    };
    if stopped { Vec::new() } else { links.found }
}

/// [`extract_with`] under the default options (`rel=nofollow` and `<meta name=robots>` ignored).
pub fn extract(base: &Url, body: &[u8]) -> Vec<Url> {
    extract_with(base, body, &LinkOptions::default())
}

/// The `rel` tokens that make a `<link>` point at a page (rather than at a page requisite such as
/// a stylesheet or an icon).
const PAGE_RELATIONS: [&[u8]; 9] = [
    b"next",
    b"prev",
    b"previous",
    b"alternate",
    b"index",
    b"contents",
    b"start",
    b"help",
    b"up",
];

/// The space-separated tokens of an attribute such as `rel` (ASCII whitespace, as HTML splits).
fn tokens(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(u8::is_ascii_whitespace)
}

/// Whether the space-separated `list` has `token`, in any case.
fn has_token(list: &[u8], token: &[u8]) -> bool {
    tokens(list).any(|t| t.eq_ignore_ascii_case(token))
}

/// Whether a `<link>`'s `rel` makes it point at a page.
fn is_page_relation(rel: &[u8]) -> bool {
    tokens(rel).any(|t| PAGE_RELATIONS.iter().any(|r| t.eq_ignore_ascii_case(r)))
}

/// Whether a `<meta name=robots>`'s `content` (comma-separated, any case) forbids following.
fn robots_forbid_follow(content: &[u8]) -> bool {
    content
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .any(|t| t.eq_ignore_ascii_case(b"nofollow") || t.eq_ignore_ascii_case(b"none"))
}

/// The links found so far, deduplicated without quadratic scans: `seen` maps the digest of a
/// link's text to its index in `found` (a digest, not a cloned URL, so each link allocates once).
struct Links<'a> {
    /// The document's own URL.
    document: &'a Url,
    /// The URL set by the page's first `<base href>`, once it has been read.
    base: Option<Url>,
    /// A `<base href>` has been read (whether or not it resolved): later ones are ignored.
    base_seen: bool,
    found: Vec<Url>,
    seen: HashMap<u64, usize>,
}

impl Links<'_> {
    /// Reads a `<base href>`. Document order, simply: it applies to the links after it, those
    /// before it stay resolved against the document's URL (a browser, having the whole tree,
    /// would use it for every link; pages put it first in `<head>` anyway). One that is not
    /// UTF-8 or does not resolve leaves the document's URL in force.
    fn set_base(&mut self, href: &[u8]) {
        self.base_seen = true;
        if let Ok(href) = std::str::from_utf8(href) {
            self.base = self.document.join(href.trim()).ok();
        }
    }

    fn add(&mut self, href: &[u8]) {
        let Ok(href) = std::str::from_utf8(href) else {
            return;
        };
        let base = self.base.as_ref().unwrap_or(self.document);
        let Ok(mut url) = base.join(href.trim()) else {
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

/// The token the emitter yields: only to stop the tokenizer, when the page forbids following.
#[derive(Debug)]
struct ForbidsFollow;

/// What the tokenizer is building right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Building {
    StartTag,
    EndTag,
    /// A comment or doctype: ignored.
    Other,
}

/// What the current start tag is to us, known once its name is complete (at its first attribute
/// or its end), from one comparison of that name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    /// Its name is still being read.
    Pending,
    /// Nothing to follow, nothing to switch (also every end tag).
    Other,
    /// `<a>` or `<area>`: `href`, and `rel` under nofollow.
    Anchor,
    /// `<frame>`: `src`.
    Frame,
    /// `<iframe>`: `src`, and its contents are raw text.
    Iframe,
    /// `<link>`: `href` and `rel`.
    Link,
    /// The page's first `<base>` with an `href`, not yet seen: `href`.
    Base,
    /// `<meta>` under nofollow: `name` and `content`.
    Meta,
    /// An element whose contents the tokenizer reads in this state: text, not markup.
    Text(State),
}

impl Tag {
    /// Whether any of this tag's attributes matter.
    fn has_attributes(self) -> bool {
        matches!(
            self,
            Self::Anchor | Self::Frame | Self::Iframe | Self::Link | Self::Base | Self::Meta
        )
    }
}

/// Where the current attribute stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Attribute {
    /// Reading its name, on a tag with attributes that matter.
    Naming,
    /// Reading the tag's first `href` (or `src` of a frame).
    Href,
    /// Reading the tag's first `rel`.
    Rel,
    /// Reading a `<meta>`'s first `name`.
    MetaName,
    /// Reading a `<meta>`'s first `content`.
    Content,
    /// Reading a value nobody needs (or a repeated attribute, ignored as in browsers), or
    /// between attributes.
    Skip,
}

impl Attribute {
    /// This value's bit in [`LinkEmitter::has`] (0 for states that hold no value).
    fn bit(self) -> u8 {
        match self {
            Self::Href => 1,
            Self::Rel => 2,
            Self::MetaName => 4,
            Self::Content => 8,
            Self::Naming | Self::Skip => 0,
        }
    }
}

/// An [`Emitter`] that hands each link to [`Links`] and ignores everything else.
struct LinkEmitter<'l, 'b> {
    links: &'l mut Links<'b>,
    /// [`LinkOptions::nofollow`].
    nofollow: bool,
    /// The page forbids following (under nofollow): stop.
    forbids_follow: bool,
    building: Building,
    tag: Tag,
    tag_name: Vec<u8>,
    /// The last start tag that switched the tokenizer into a raw-text state (`<script>`,
    /// `<style>`, `<title>` …): only its end tag leaves that state.
    last_raw_start_tag: Vec<u8>,
    attribute: Attribute,
    attribute_name: Vec<u8>,
    /// The [`Attribute::bit`]s of the values the current tag has begun (each, maybe empty, in
    /// its buffer below; a buffer whose bit is unset holds a stale value).
    has: u8,
    href: Vec<u8>,
    rel: Vec<u8>,
    meta_name: Vec<u8>,
    content: Vec<u8>,
}

impl<'l, 'b> LinkEmitter<'l, 'b> {
    fn new(links: &'l mut Links<'b>, nofollow: bool) -> Self {
        Self {
            links,
            nofollow,
            forbids_follow: false,
            building: Building::Other,
            tag: Tag::Other,
            tag_name: Vec::new(),
            last_raw_start_tag: Vec::new(),
            attribute: Attribute::Skip,
            attribute_name: Vec::new(),
            has: 0,
            href: Vec::new(),
            rel: Vec::new(),
            meta_name: Vec::new(),
            content: Vec::new(),
        }
    }

    /// The current start tag's name is complete: what is it to us?
    fn classify(&mut self) {
        if self.tag != Tag::Pending {
            return;
        }
        self.tag = match self.tag_name.as_slice() {
            b"a" | b"area" => Tag::Anchor,
            b"frame" => Tag::Frame,
            b"iframe" => Tag::Iframe,
            b"link" => Tag::Link,
            b"base" if !self.links.base_seen => Tag::Base,
            b"meta" if self.nofollow => Tag::Meta,
            // What html5gum's `naive_next_state` does, but for two elements: `<noscript>` is
            // markup here (it makes it raw text, as a browser running scripts would), and
            // `<noframes>` is spelt right (it has `noframe`).
            b"script" => Tag::Text(State::ScriptData),
            b"style" | b"xmp" | b"noembed" | b"noframes" => Tag::Text(State::RawText),
            b"textarea" | b"title" => Tag::Text(State::RcData),
            b"plaintext" => Tag::Text(State::PlainText),
            _ => Tag::Other,
        };
    }

    /// The current attribute's name is complete: is it one this tag needs, for the first time?
    fn end_attribute_name(&mut self) {
        if self.attribute != Attribute::Naming {
            return;
        }
        let wanted = match (self.tag, self.attribute_name.as_slice()) {
            (Tag::Anchor | Tag::Link | Tag::Base, b"href") | (Tag::Frame | Tag::Iframe, b"src") => {
                Attribute::Href
            }
            (Tag::Link, b"rel") => Attribute::Rel,
            (Tag::Anchor, b"rel") if self.nofollow => Attribute::Rel,
            (Tag::Meta, b"name") => Attribute::MetaName,
            (Tag::Meta, b"content") => Attribute::Content,
            _ => Attribute::Skip,
        };
        let bit = wanted.bit();
        self.attribute = if self.has & bit == 0 {
            self.has |= bit;
            match wanted {
                Attribute::Href => self.href.clear(),
                Attribute::Rel => self.rel.clear(),
                Attribute::MetaName => self.meta_name.clear(),
                Attribute::Content => self.content.clear(),
                Attribute::Naming | Attribute::Skip => {}
            }
            wanted
        } else {
            Attribute::Skip
        };
    }

    /// Whether the current tag has begun this value.
    fn has(&self, value: Attribute) -> bool {
        self.has & value.bit() != 0
    }

    /// Whether the current `<a>`, `<area>` or `<link>` is `rel=nofollow` and that counts.
    fn rel_nofollow(&self) -> bool {
        self.nofollow && self.has(Attribute::Rel) && has_token(&self.rel, b"nofollow")
    }

    /// The current start tag is complete: follow what it links to.
    fn end_start_tag(&mut self) {
        match self.tag {
            Tag::Anchor if self.has(Attribute::Href) && !self.rel_nofollow() => {
                self.links.add(&self.href);
            }
            Tag::Frame | Tag::Iframe if self.has(Attribute::Href) => self.links.add(&self.href),
            Tag::Link
                if self.has(Attribute::Href)
                    && self.has(Attribute::Rel)
                    && is_page_relation(&self.rel)
                    && !self.rel_nofollow() =>
            {
                self.links.add(&self.href);
            }
            Tag::Base if self.has(Attribute::Href) => self.links.set_base(&self.href),
            Tag::Meta
                if self.has(Attribute::MetaName)
                    && self.has(Attribute::Content)
                    && self.meta_name.trim_ascii().eq_ignore_ascii_case(b"robots")
                    && robots_forbid_follow(&self.content) =>
            {
                self.forbids_follow = true;
            }
            _ => {}
        }
    }
}

impl Emitter for LinkEmitter<'_, '_> {
    type Token = ForbidsFollow;

    fn should_emit_errors(&mut self) -> bool {
        false
    }
    fn emit_error(&mut self, _: Error) {}
    fn pop_token(&mut self) -> Option<Self::Token> {
        self.forbids_follow.then_some(ForbidsFollow)
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
        self.tag = Tag::Pending;
        self.tag_name.clear();
        self.attribute = Attribute::Skip;
        self.has = 0;
    }
    fn init_end_tag(&mut self) {
        self.building = Building::EndTag;
        self.tag = Tag::Other;
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
        self.classify();
        self.attribute = if self.tag.has_attributes() {
            self.attribute_name.clear();
            Attribute::Naming
        } else {
            Attribute::Skip
        };
    }
    fn push_attribute_name(&mut self, s: &[u8]) {
        if self.attribute == Attribute::Naming {
            self.attribute_name.extend_from_slice(s);
        }
    }
    fn init_attribute_value(&mut self) {
        self.end_attribute_name();
    }
    fn push_attribute_value(&mut self, s: &[u8]) {
        // (`init_attribute_value` has ended the name already; this is for safety's sake.)
        self.end_attribute_name();
        let value = match self.attribute {
            Attribute::Href => &mut self.href,
            Attribute::Rel => &mut self.rel,
            Attribute::MetaName => &mut self.meta_name,
            Attribute::Content => &mut self.content,
            Attribute::Naming | Attribute::Skip => return,
        };
        value.extend_from_slice(s);
    }

    fn emit_current_tag(&mut self) -> Option<State> {
        self.end_attribute_name();
        self.attribute = Attribute::Skip;
        if self.building != Building::StartTag {
            return None;
        }
        self.classify();
        self.end_start_tag();
        let next = match self.tag {
            Tag::Iframe => Some(State::RawText),
            Tag::Text(state) => Some(state),
            _ => None,
        };
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

    const BASE: &str = "http://127.0.0.1:8/d/page.html";

    /// `(name, html, expected)`: what [`extract`] finds in `html` at [`BASE`]. An expected URL
    /// that starts with `/` is on `http://127.0.0.1:8`.
    const CASES: &[(&str, &[u8], &[&str])] = &[
        (
            "a href in every quoting style",
            br#"<a href="1.html">x</a> <a href='2.html'>x</a> <a href=3.html>x</a>
                <a class=x href = " 4.html ">x</a> <a title="x" href=/abs.html>x</a>"#,
            &[
                "/d/1.html",
                "/d/2.html",
                "/d/3.html",
                "/d/4.html",
                "/abs.html",
            ],
        ),
        (
            "area href",
            br#"<map name=m><area shape=rect coords="0,0,1,1" href="area.html"></map>"#,
            &["/d/area.html"],
        ),
        (
            "frame src",
            br#"<frameset cols="50%,50%"><frame src="left.html"><frame name=r src=right.html>
                </frameset>"#,
            &["/d/left.html", "/d/right.html"],
        ),
        (
            "iframe src is followed, its contents are not markup",
            br#"<iframe src="if.html"><a href="inside.html">x</a></iframe><a href=after.html>"#,
            &["/d/if.html", "/d/after.html"],
        ),
        (
            "link with a page relation, in any case and among other tokens",
            br#"<link rel=next href=next.html><link rel="prev" href=prev.html>
                <link rel=previous href=previous.html><link rel=alternate href=alt.html>
                <link rel=index href=index.html><link rel=contents href=contents.html>
                <link rel=start href=start.html><link rel=help href=help.html>
                <link rel=up href=up.html><link rel=" NEXT	Foo " href=upper.html>
                <link href=rel-after-href.html rel=Next>"#,
            &[
                "/d/next.html",
                "/d/prev.html",
                "/d/previous.html",
                "/d/alt.html",
                "/d/index.html",
                "/d/contents.html",
                "/d/start.html",
                "/d/help.html",
                "/d/up.html",
                "/d/upper.html",
                "/d/rel-after-href.html",
            ],
        ),
        (
            "link to a page requisite, or with no page relation, is not followed",
            br#"<link rel=stylesheet href=s.css><link rel=icon href=i.ico>
                <link rel="shortcut icon" href=si.ico><link rel=preload href=p.js>
                <link rel=canonical href=c.html><link href=norel.html>
                <link rel=nextpage href=substring.html><link rel=next-up href=dash.html>
                <link rel=next>"#,
            &[],
        ),
        (
            "first occurrence of an attribute wins",
            br#"<a data-href="no.html" href="one.html" href="two.html">x</a>
                <link rel=stylesheet rel=next href=sheet.css>
                <link rel=next href=first.html href=second.html>
                <iframe src=if1.html src=if2.html></iframe><frame src=f1.html src=f2.html>
                <area href=ar1.html href=ar2.html>"#,
            &[
                "/d/one.html",
                "/d/first.html",
                "/d/if1.html",
                "/d/f1.html",
                "/d/ar1.html",
            ],
        ),
        (
            "other tags and attributes are not followed",
            br#"<img src=i.png><script src=s.js></script><div href=div.html></div>
                <a name=anchor>x</a></a href="end.html"><form action=f.html></form>
                <embed src=e.swf><object data=o.html></object><source src=v.mp4>
                <body background=bg.png><blockquote cite=q.html></blockquote>
                <a hreflang=en xhref=x.html>x</a><frameset src=fs.html></frameset>"#,
            &[],
        ),
        (
            "uppercase tags and attributes",
            br#"<A HREF="A.html">x</A><AREA HREF=area.html><FRAME SRC=frame.html>
                <IFRAME SRC=iframe.html></IFRAME><LINK REL=NEXT HREF=link.html>"#,
            &[
                "/d/A.html",
                "/d/area.html",
                "/d/frame.html",
                "/d/iframe.html",
                "/d/link.html",
            ],
        ),
        (
            "base href applies to the links after it, the first one only",
            br#"<a href=before.html><base target=_blank><base href="../other/dir/">
                <a href=after.html><link rel=next href=next.html><iframe src=if.html></iframe>
                <frame src=frame.html><area href=area.html><base href="/ignored/">
                <a href=later.html><a href=/rooted.html>"#,
            &[
                "/d/before.html",
                "/other/dir/after.html",
                "/other/dir/next.html",
                "/other/dir/if.html",
                "/other/dir/frame.html",
                "/other/dir/area.html",
                "/other/dir/later.html",
                "/rooted.html",
            ],
        ),
        (
            "base href to another origin, and an empty href is the base",
            br#"<BASE HREF="HTTPS://Example.COM/b/index.html"><a href=x.html><a href>"#,
            &[
                "https://example.com/b/x.html",
                "https://example.com/b/index.html",
            ],
        ),
        (
            "base href that does not resolve leaves the document's URL",
            b"<base href=\"http://[bad/\"><a href=a.html><base href=/late/><a href=b.html>",
            &["/d/a.html", "/d/b.html"],
        ),
        (
            "noscript contents are markup",
            br#"<noscript><a href="ns.html">x</a><iframe src=ns-frame.html></iframe>
                <link rel=next href=ns-next.html></noscript><a href=after.html>"#,
            &[
                "/d/ns.html",
                "/d/ns-frame.html",
                "/d/ns-next.html",
                "/d/after.html",
            ],
        ),
        (
            "script, style, textarea, title, xmp, noembed, noframes contents are not markup",
            br#"<html><head><title>x <a href="t.html"></title>
                <style>a::after { content: '<a href="s.html">'; }</style>
                <script>document.write('<a href="j.html">'); if (a < b) {}</script>
                <SCRIPT type="module">let x = "</scrip>"; "<a href='k.html'>"</SCRIPT>
                <script><!-- <script> <a href=esc.html> </script> --></script>
                </head><body><textarea><a href="ta.html"></textarea>
                <xmp><a href="xmp.html"></xmp><noembed><a href="ne.html"></noembed>
                <noframes><frame src="nf.html"></noframes><TITLE><a href=t2.html></Title>
                <a href="real.html">real</a></body></html>"#,
            &["/d/real.html"],
        ),
        (
            "plaintext makes the rest of the document text",
            br#"<a href=before.html><plaintext><a href=after.html></plaintext><a href=x.html>"#,
            &["/d/before.html"],
        ),
        (
            "fragments are stripped and each URL is kept once, in document order",
            br##"<a href="#top">self</a><a href="b.html#one"><a href="a.html">
                <a href="b.html#two"><a href="page.html"><a href=a.html#x>
                <link rel=next href=a.html><iframe src=b.html></iframe>"##,
            &["/d/page.html", "/d/b.html", "/d/a.html"],
        ),
        (
            "only http and https",
            br#"<a href="mailto:x@y">m</a><a href="javascript:void(0)">j</a>
                <a href="  JavaScript:alert(1)">J</a><a href="data:text/html,<p>">d</a>
                <a href="ftp://127.0.0.1/f">f</a><a href="tel:123">t</a>
                <iframe src="about:blank"></iframe><a href="https://127.0.0.1:8/s.html">s</a>
                <a href="//other.example/p.html">scheme-relative</a>"#,
            &["https://127.0.0.1:8/s.html", "http://other.example/p.html"],
        ),
        (
            "two spellings of one URL dedupe to one (the url crate normalises)",
            br#"<a href="HTTP://EXAMPLE.com:80/a/./b/../c.html">x</a>
                <a href="http://example.com/a/c.html">x</a>
                <a href="https://Example.Com:443">x</a><a href="https://example.com/">x</a>
                <a href="x/../dots.html">x</a><a href="./dots.html">x</a>
                <a href="/d/sp ace.html">x</a><a href="sp%20ace.html">x</a>
                <a href="new&#10;li&#9;ne.html">x</a><a href="newline.html">x</a>
                <a href="/d/caf&#xe9;.html">x</a><a href="caf%C3%A9.html">x</a>
                <a href="http://127.0.0.1:0008/d/q?x=1">x</a><a href="q?x=1#f">x</a>"#,
            &[
                "http://example.com/a/c.html",
                "https://example.com/",
                "/d/dots.html",
                "/d/sp%20ace.html",
                "/d/newline.html",
                "/d/caf%C3%A9.html",
                "/d/q?x=1",
            ],
        ),
        (
            "entities in attribute values are decoded",
            br#"<a href="../up.html?a=1&amp;b=2">x</a><a href="&#47;slash&#x2F;e.html">x</a>
                <a href='q.html?x=&quot;y&quot;'>x</a><a href=u.html?a&AMP;b>x</a>
                <a href="legacy.html?a=1&copy=2">not decoded before =</a>
                <link rel="&#110;ext" href="ent-rel.html">"#,
            &[
                "/up.html?a=1&b=2",
                "/slash/e.html",
                "/d/q.html?x=%22y%22",
                "/d/u.html?a&b",
                "/d/legacy.html?a=1&copy=2",
                "/d/ent-rel.html",
            ],
        ),
        (
            "an empty or valueless href is the document itself",
            br#"<a hreflang="en" href>self</a><a href="">empty</a><a href=" ">blank</a>
                <a href=>eq</a>"#,
            &["/d/page.html"],
        ),
        (
            "comments and doctypes are not markup",
            br#"<!doctype html><!-- <a href="c1.html"> --><!--> <a href=ok1.html>
                <!---> <a href=ok2.html> --><? <a href=pi.html> ?><!x <a href=bogus.html>>
                <a href=ok3.html>"#,
            &["/d/ok1.html", "/d/ok2.html", "/d/ok3.html"],
        ),
        (
            "unterminated comment at EOF",
            b"<a href=ok.html><!-- <a href=c.html>",
            &["/d/ok.html"],
        ),
        (
            "unterminated attribute value at EOF",
            b"<a href=ok.html>x</a><a href=\"unterminated.html",
            &["/d/ok.html"],
        ),
        (
            "unquoted href at EOF",
            b"<a href=ok.html>x</a><a href=x",
            &["/d/ok.html"],
        ),
        (
            "unterminated tag at EOF",
            b"<a href=ok.html>x</a><a href=\"y.html\" ",
            &["/d/ok.html"],
        ),
        (
            "nested and stray quotes",
            br#"<a href="q"x.html">x</a><a href='it"s.html'>x</a><a href=it's.html>x</a>
                <a href="a.html"class=x>x</a><a =href=eq.html href=ok.html>x</a>"#,
            &[
                "/d/q",
                "/d/it%22s.html",
                "/d/it's.html",
                "/d/a.html",
                "/d/ok.html",
            ],
        ),
        (
            "stray angle brackets and slashes",
            br#"<<a href=double.html>x</a><a <a href=in.html>x</a><a href="sc.html"/>
                <a/href=slash.html>x</a></ a href=no.html><a href=ok.html<b>x</a>"#,
            &[
                "/d/double.html",
                "/d/in.html",
                "/d/sc.html",
                "/d/slash.html",
                "/d/ok.html%3Cb",
            ],
        ),
        (
            "NUL bytes",
            b"<a href=\"nu\0l.html\">x</a>\0<a\0 href=not-a.html>x</a><a h\0ref=x.html>\
              <a href=ok.html>",
            &["/d/nu%EF%BF%BDl.html", "/d/ok.html"],
        ),
        (
            "invalid UTF-8 in text and in values",
            b"\xff\xfe<a href=\"\xff\">x</a><a href=\"ok\xe9.html\">x</a>\xc3<p title=\"\xff\">\
              <a href=ok.html>\x80</a><a",
            &["/d/ok.html"],
        ),
        ("garbage", b"\xff\xfe<a", &[]),
        ("empty body", b"", &[]),
    ];

    fn strings(found: Vec<Url>) -> Vec<String> {
        found.into_iter().map(String::from).collect()
    }

    fn expected(urls: &[&str]) -> Vec<String> {
        urls.iter()
            .map(|u| match u.strip_prefix('/') {
                Some(path) => format!("http://127.0.0.1:8/{path}"),
                None => (*u).to_owned(),
            })
            .collect()
    }

    #[test]
    fn follows_what_wget_follows_for_pages() {
        let base = Url::parse(BASE).unwrap();
        let mut failures = Vec::new();
        for &(name, html, want) in CASES {
            // Under both options: these pages have no nofollow.
            for nofollow in [false, true] {
                let got = strings(extract_with(&base, html, &LinkOptions { nofollow }));
                if got != expected(want) {
                    failures.push(format!(
                        "{name} (nofollow {nofollow}):\n  got  {got:?}\n  want {:?}",
                        expected(want)
                    ));
                }
            }
            if strings(extract(&base, html)) != expected(want) {
                failures.push(format!("{name}: extract differs"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn rel_nofollow_is_dropped_only_under_nofollow() {
        let base = Url::parse(BASE).unwrap();
        let html = br#"<a rel=nofollow href=a.html>x</a><a rel="external NoFollow" href=b.html>
            <area rel=nofollow href=c.html><link rel="next nofollow" href=d.html>
            <a href=e.html rel="nofollower">x</a><iframe src=f.html rel=nofollow></iframe>
            <frame src=g.html rel=nofollow><a rel=next rel=nofollow href=h.html>x</a>
            <a href=i.html>x</a>"#;
        let all = [
            "/d/a.html",
            "/d/b.html",
            "/d/c.html",
            "/d/d.html",
            "/d/e.html",
            "/d/f.html",
            "/d/g.html",
            "/d/h.html",
            "/d/i.html",
        ];
        let off = extract_with(&base, html, &LinkOptions { nofollow: false });
        assert_eq!(strings(off), expected(&all));
        assert_eq!(strings(extract(&base, html)), expected(&all));
        let on = extract_with(&base, html, &LinkOptions { nofollow: true });
        assert_eq!(
            strings(on),
            expected(&[
                "/d/e.html",
                "/d/f.html",
                "/d/g.html",
                "/d/h.html",
                "/d/i.html"
            ])
        );
    }

    #[test]
    fn meta_robots_nofollow_drops_every_link_only_under_nofollow() {
        let base = Url::parse(BASE).unwrap();
        // `(meta, forbids following)`.
        let metas: &[(&str, bool)] = &[
            (r#"<meta name="robots" content="noindex, nofollow">"#, true),
            (r#"<META NAME=ROBOTS CONTENT=NONE>"#, true),
            (r#"<meta content=" NoFollow ,index" name=" Robots ">"#, true),
            (r#"<meta name=robots content="follow,nofollow">"#, true),
            (
                r#"<meta name=robots content=nofollow name=description>"#,
                true,
            ),
            (r#"<meta name="robots" content="index, follow">"#, false),
            (r#"<meta name="robots" content="noindex">"#, false),
            (
                r#"<meta name="robots" content="nofollowx, nonesuch">"#,
                false,
            ),
            (r#"<meta name="googlebot" content="nofollow">"#, false),
            (r#"<meta name="description" content="nofollow">"#, false),
            (
                r#"<meta name=description name=robots content="nofollow">"#,
                false,
            ),
            (
                r#"<meta name="robots" content="x" content="nofollow">"#,
                false,
            ),
            (r#"<meta name="robots">"#, false),
            (r#"<meta http-equiv=robots content="nofollow">"#, false),
            (
                r#"<script><meta name=robots content=nofollow></script>"#,
                false,
            ),
            (r#"<!-- <meta name=robots content=nofollow> -->"#, false),
            (r#"</meta name=robots content=nofollow>"#, false),
        ];
        for &(meta, forbids) in metas {
            let html = format!("<a href=before.html>x</a>{meta}<a href=after.html>x</a>");
            let all = expected(&["/d/before.html", "/d/after.html"]);
            let off = extract_with(&base, html.as_bytes(), &LinkOptions { nofollow: false });
            assert_eq!(strings(off), all, "{meta} without nofollow");
            let on = extract_with(&base, html.as_bytes(), &LinkOptions { nofollow: true });
            let want = if forbids { Vec::new() } else { all };
            assert_eq!(strings(on), want, "{meta} with nofollow");
        }
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
