//! Which page links where, as data, and the HTML rendered from it.
//!
//! A page's links are decided first, as a list of [`Link`]s — the target (a page, an image, a
//! page number past the end, another directory, another host, an e-mail address, the document
//! itself) and how the href spells it. The HTML is rendered from that list; the ground truth
//! reads the same list. So the truth knows every page's links without parsing a byte of HTML,
//! and a crawler's link extraction is checked against what the page was *made* to contain.
//!
//! On a multi-host site a link's text also depends on the host the page is served from: a page
//! that lives on another host is named by an absolute URL with that host (keeping the fragment
//! its spelling has); everything else is spelled relative to the page's own host. The renderer
//! also notes where each anchor's start tag ends, so the truth knows which links a crawler
//! finds in the part of a body before a size cap (a start tag cut off by the cap is no tag).

use std::fmt::Write as _;

use bytes::Bytes;

use super::{SALT_LINK, Site, mix};

/// A file in the site's directory, `/site/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SiteFile {
    /// `/site/{n}.html`: a page when `n` is below the page count, otherwise a broken link (404).
    Page(u64),
    /// `/site/assets/{k}.png`: an image.
    Asset(u32),
}

/// How an href spells a [`SiteFile`]. From a page of the site every spelling names the same
/// URL; fragments are not part of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spelling {
    /// `12.html`
    Relative,
    /// `./12.html#part-3`, the fragment naming the link's position.
    DotSlashWithFragment(u32),
    /// `/site/12.html`
    RootRelative,
    /// `http://127.0.0.1:4000/site/12.html` (the page's own host)
    Absolute,
    /// `../site/12.html`
    ParentRelative,
    /// `12.html#top`
    RelativeWithFragment,
}

/// One `<a href>` of a generated page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// A file of the site, spelled one way or another.
    Site(SiteFile, Spelling),
    /// `/outside/{i}.html`: this origin, outside the crawl's directory.
    OutOfScope(u32),
    /// `http://outside.invalid/site/{i}.html`: another host.
    OtherHost(u32),
    /// `mailto:nobody@outside.invalid`: not a web page.
    Mail,
    /// `#top`: the document itself.
    Top,
}

impl Site {
    /// The `<a href>`s of page `i`, in document order.
    pub fn page_links(&self, i: u32) -> Vec<Link> {
        let pages = u64::from(self.spec.pages);
        let i64 = u64::from(i);
        let mut links = Vec::with_capacity(self.spec.links_per_page as usize + 6);
        for child in [2 * i64 + 1, 2 * i64 + 2] {
            if child < pages {
                links.push(Link::Site(SiteFile::Page(child), Spelling::Relative));
            }
        }
        for k in 0..self.spec.links_per_page {
            let r = mix(self.spec.seed ^ SALT_LINK ^ mix((i64 << 20) ^ u64::from(k)));
            let spelling = match (r >> 40) % 6 {
                0 => Spelling::Relative,
                1 => Spelling::DotSlashWithFragment(k),
                2 => Spelling::RootRelative,
                3 => Spelling::Absolute,
                4 => Spelling::ParentRelative,
                _ => Spelling::RelativeWithFragment,
            };
            links.push(Link::Site(SiteFile::Page(r % pages), spelling));
        }
        if i % 4 == 0 {
            let asset = SiteFile::Asset(i % self.assets());
            links.push(Link::Site(asset, Spelling::Relative));
        }
        links.push(match i % 3 {
            0 => Link::OutOfScope(i),
            1 => Link::OtherHost(i),
            _ => Link::Mail,
        });
        if i % 50 == 7 {
            links.push(Link::Site(SiteFile::Page(pages + i64), Spelling::Relative));
        }
        links.push(Link::Top);
        links
    }

    /// The links of the index page, `/` (on every host: page 0, on host 0).
    pub(super) fn index_links(&self) -> [Link; 1] {
        [Link::Site(SiteFile::Page(0), Spelling::RootRelative)]
    }

    /// The HTML of host `host`'s index page.
    pub(super) fn index_body(&self, host: u32) -> String {
        self.render_index(host).0
    }

    /// Host `host`'s index page, and where each link's start tag ends.
    pub(super) fn render_index(&self, host: u32) -> (String, Vec<usize>) {
        let mut s = String::from(
            "<!doctype html><title>crawlbench origin</title><p>Synthetic site: start at ",
        );
        let mut ends = Vec::new();
        for link in self.index_links() {
            ends.push(self.write_anchor(&mut s, host, link, "/site/0.html"));
        }
        s.push_str(".</p>");
        (s, ends)
    }

    /// Page `i` rendered from [`Site::page_links`]: a navigation list of the pages it links, a
    /// paragraph with the rest, and filler up to the spec's body size.
    pub(super) fn render_page(&self, i: u32) -> String {
        self.render_page_with_ends(i).0
    }

    /// Page `i`, and for each of its links (in [`Site::page_links`] order, which is document
    /// order) the byte offset just past its start tag's `>`.
    pub(super) fn render_page_with_ends(&self, i: u32) -> (String, Vec<usize>) {
        let pages = u64::from(self.spec.pages);
        let host = self.host_of_page(u64::from(i));
        let links = self.page_links(i);
        let mut ends = Vec::with_capacity(links.len());
        let mut s = String::with_capacity(self.spec.body_bytes as usize + 256);
        let _ = write!(
            s,
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Page {i}</title></head>\n\
             <body><h1 id=\"top\">Page {i}</h1>\n<nav><ul>\n"
        );
        let nav = links
            .iter()
            .take_while(|l| matches!(l, Link::Site(SiteFile::Page(n), _) if *n < pages))
            .count();
        for link in &links[..nav] {
            let Link::Site(SiteFile::Page(n), _) = link else {
                continue;
            };
            s.push_str("<li>");
            ends.push(self.write_anchor(&mut s, host, *link, &format!("page {n}")));
            s.push_str("</li>\n");
        }
        s.push_str("</ul></nav>\n<p>");
        for link in &links[nav..] {
            let label = match link {
                Link::Site(SiteFile::Asset(k), _) => {
                    format!("<img src=\"assets/{k}.png\" alt=\"\">")
                }
                Link::Site(SiteFile::Page(_), _) => "broken link".into(),
                Link::OutOfScope(_) => "out of scope".into(),
                Link::OtherHost(_) => "other host".into(),
                Link::Mail => "mail".into(),
                Link::Top => "top".into(),
            };
            ends.push(self.write_anchor(&mut s, host, *link, &label));
            s.push(' ');
        }
        s.push_str("</p>\n<article>\n");
        let mut n = 0u64;
        while s.len() + 30 < self.spec.body_bytes as usize {
            let _ = writeln!(
                s,
                "<p>Filler paragraph {n} &amp; more text for page {i}.</p>"
            );
            n += 1;
        }
        s.push_str("</article></body></html>\n");
        (s, ends)
    }

    /// `<a href=…>label</a>`: the plain spelling in double quotes, the others in single quotes
    /// with another attribute first, so extraction meets both quoting styles and attribute orders.
    /// Returns the offset just past the start tag's `>`.
    fn write_anchor(&self, s: &mut String, from: u32, link: Link, label: &str) -> usize {
        let plain = matches!(
            link,
            Link::Site(_, Spelling::Relative | Spelling::RootRelative)
        );
        s.push_str(if plain {
            "<a href=\""
        } else {
            "<a class=\"x\" href='"
        });
        self.write_href(s, from, link);
        s.push_str(if plain { "\">" } else { "'>" });
        let end = s.len();
        s.push_str(label);
        s.push_str("</a>");
        end
    }

    /// The href text of `link` on a page served by host `from`.
    fn write_href(&self, s: &mut String, from: u32, link: Link) {
        let (file, spelling) = match link {
            Link::Site(file, spelling) => (file, spelling),
            Link::OutOfScope(i) => {
                let _ = write!(s, "/outside/{i}.html");
                return;
            }
            Link::OtherHost(i) => {
                let _ = write!(s, "http://outside.invalid/site/{i}.html");
                return;
            }
            Link::Mail => return s.push_str("mailto:nobody@outside.invalid"),
            Link::Top => return s.push_str("#top"),
        };
        let elsewhere = match file {
            SiteFile::Page(n) if n < u64::from(self.spec.pages) => {
                Some(self.host_of_page(n)).filter(|h| *h != from)
            }
            _ => None,
        };
        match (elsewhere, spelling) {
            (Some(host), _) => {
                s.push_str(self.host_origin(host));
                s.push_str("/site/");
            }
            (None, Spelling::Relative | Spelling::RelativeWithFragment) => {}
            (None, Spelling::DotSlashWithFragment(_)) => s.push_str("./"),
            (None, Spelling::RootRelative) => s.push_str("/site/"),
            (None, Spelling::Absolute) => {
                s.push_str(self.host_origin(from));
                s.push_str("/site/");
            }
            (None, Spelling::ParentRelative) => s.push_str("../site/"),
        }
        let _ = match file {
            SiteFile::Page(n) => write!(s, "{n}.html"),
            SiteFile::Asset(k) => write!(s, "assets/{k}.png"),
        };
        match spelling {
            Spelling::DotSlashWithFragment(k) => {
                let _ = write!(s, "#part-{k}");
            }
            Spelling::RelativeWithFragment => s.push_str("#top"),
            _ => {}
        }
    }
}

/// The bytes of image `k`: a PNG signature and hash-derived noise.
pub(super) fn asset_body(k: u32) -> Bytes {
    let mut body = b"\x89PNG\r\n\x1a\n".to_vec();
    body.extend((0..504u32).map(|i| (mix(u64::from(k) << 16 | u64::from(i)) & 0xff) as u8));
    Bytes::from(body)
}

#[cfg(test)]
mod tests {
    use url::Url;

    use super::*;
    use crate::site::SiteSpec;

    fn site(spec: SiteSpec) -> Site {
        Site::new(spec, Url::parse("http://127.0.0.1:4000/").unwrap())
    }

    #[test]
    fn pages_are_deterministic_sized_html_with_links() {
        let spec = SiteSpec {
            pages: 100,
            body_bytes: 3000,
            ..Default::default()
        };
        let (a, b) = (site(spec.clone()), site(spec));
        assert_eq!(a.page_body(5), b.page_body(5));
        let body = a.page_body(5);
        assert!(body.len() >= 2970 && body.len() < 3300, "{}", body.len());
        let five = a.page_links(5);
        assert_eq!(
            five[..2],
            [11, 12].map(|n| Link::Site(SiteFile::Page(n), Spelling::Relative))
        );
        assert_eq!(five.len(), 2 + 8 + 2, "{five:?}");
        let four = a.page_links(4);
        assert!(four.contains(&Link::OtherHost(4)));
        assert!(four.contains(&Link::Site(SiteFile::Asset(4), Spelling::Relative)));
        assert_eq!(
            a.page_links(57).iter().rev().nth(1),
            Some(&Link::Site(SiteFile::Page(157), Spelling::Relative))
        );
    }

    #[test]
    fn the_html_holds_one_anchor_per_link_spelled_as_stated() {
        let s = site(SiteSpec {
            pages: 1000,
            links_per_page: 60,
            ..Default::default()
        });
        for i in [0, 7, 12, 999] {
            let html = String::from_utf8(s.page_body(i).to_vec()).unwrap();
            let links = s.page_links(i);
            assert_eq!(html.matches("<a ").count(), links.len(), "page {i}");
            let mut rest = html.as_str();
            for link in links {
                let mut href = String::new();
                s.write_href(&mut href, 0, link);
                let at = rest
                    .find(&href)
                    .unwrap_or_else(|| panic!("{href} on page {i}"));
                rest = &rest[at + href.len()..];
            }
        }
        let spellings: Vec<String> = [
            Spelling::Relative,
            Spelling::DotSlashWithFragment(3),
            Spelling::RootRelative,
            Spelling::Absolute,
            Spelling::ParentRelative,
            Spelling::RelativeWithFragment,
        ]
        .into_iter()
        .map(|sp| {
            let mut href = String::new();
            s.write_href(&mut href, 0, Link::Site(SiteFile::Page(12), sp));
            href
        })
        .collect();
        assert_eq!(
            spellings,
            [
                "12.html",
                "./12.html#part-3",
                "/site/12.html",
                "http://127.0.0.1:4000/site/12.html",
                "../site/12.html",
                "12.html#top",
            ]
        );
    }

    #[test]
    fn links_to_other_hosts_are_absolute_and_anchor_ends_are_exact() {
        let s = site(SiteSpec {
            pages: 300,
            hosts: 3,
            links_per_page: 30,
            ..Default::default()
        });
        let html = String::from_utf8(s.page_body(0).to_vec()).unwrap();
        // The tree children 1 and 2 live on hosts 1 and 2.
        assert!(html.contains("<a href=\"http://h1.crawl.test:4000/site/1.html\">"));
        assert!(html.contains("<a href=\"http://h2.crawl.test:4000/site/2.html\">"));
        for i in [0, 4, 5, 299] {
            let (html, ends) = s.render_page_with_ends(i);
            let links = s.page_links(i);
            assert_eq!(ends.len(), links.len());
            for (link, end) in links.iter().zip(&ends) {
                let tag = &html[html[..*end].rfind("<a ").unwrap()..*end];
                assert!(tag.ends_with('>'), "{tag}");
                let mut href = String::new();
                s.write_href(&mut href, s.host_of_page(u64::from(i)), *link);
                assert!(tag.contains(&href), "{tag} lacks {href}");
                // A page elsewhere is named with its host; an absolute link names the page's.
                if let Link::Site(SiteFile::Page(n), spelling) = link
                    && *n < 300
                {
                    let host = s.host_of_page(*n);
                    let elsewhere = u64::from(host) != u64::from(i) % 3;
                    let absolute = elsewhere || *spelling == Spelling::Absolute;
                    assert_eq!(href.starts_with("http://"), absolute, "{href} from {i}");
                    if absolute {
                        let origin = format!("http://h{host}.crawl.test:4000/site/{n}.html");
                        assert!(href.starts_with(&origin), "{href} from {i}");
                    }
                }
            }
        }
        // The index of host 1 names page 0 on host 0.
        let (index, ends) = s.render_index(1);
        assert!(index[..ends[0]].ends_with("href=\"http://h0.crawl.test:4000/site/0.html\">"));
    }
}
