//! FlowFile attributes as NiFi's ListenHTTPServlet keeps them (ListenHTTPServlet.java at
//! rel/nifi-1.28.1: `handleRequest` lines 341-413, `saveRequestDetailsAsAttributes` lines
//! 464-471, `addMatchingRequestHeaders` lines 502-511):
//!
//! - a header the *HTTP Headers to receive as Attributes* regex matches becomes an attribute
//!   named as the client spelled it (Jetty keeps the case; `getHeaderNames()`), with the
//!   header's first value (`request.getHeader(name)` returns the first);
//! - header bytes that are not ASCII are kept: UTF-8 when they are UTF-8, else ISO-8859-1
//!   (Jetty's reading of header bytes), never dropped;
//! - `restlistener.remote.source.host`, `restlistener.request.uri`,
//!   `restlistener.remote.user.dn` and `restlistener.remote.issuer.dn` (`"none"` without a
//!   client certificate: `DEFAULT_FOUND_SUBJECT`);
//! - a FlowFile in a package keeps its `uuid` as `source.uuid` and gets a fresh `uuid`.
//!
//! Two deliberate differences, so attributes a sender set are not lost: a `filename` inside
//! a FlowFile package wins over a `filename` request header (which names a raw body), and no
//! header ever overrides the fresh `uuid`. Credentials (`Authorization`, `Cookie`,
//! `Proxy-Authorization`) never become attributes.

use std::net::SocketAddr;

use axum::http::{HeaderMap, Uri};
use regex::Regex;

use crate::auth::ClientCert;
use crate::received::{Received, header_text, set_attr};

/// The request's header names as the client spelled them (HTTP/1 only; HTTP/2 names are
/// lowercase on the wire). The acceptor reads them off the connection and inserts this as a
/// request extension; without it, names are lowercase.
#[derive(Debug, Clone, Default)]
pub struct RawHeaderNames(Vec<String>);

impl RawHeaderNames {
    /// The names in the order they came, repeats included.
    pub fn new(names: Vec<String>) -> Self {
        RawHeaderNames(names)
    }

    /// The client's spelling of `lower` (the first, when it came more than once).
    fn spelling(&self, lower: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|n| n.eq_ignore_ascii_case(lower))
            .map(String::as_str)
    }
}

/// What the request itself says about every FlowFile in it.
pub(crate) struct RequestInfo<'a> {
    pub headers: &'a HeaderMap,
    pub raw_names: Option<&'a RawHeaderNames>,
    pub header_regex: Option<&'a Regex>,
    pub peer: SocketAddr,
    pub uri: &'a Uri,
    pub cert: Option<&'a ClientCert>,
    /// Header names (lowercase) never kept as attributes (`--header-deny-list`).
    pub deny: &'a [String],
}

/// What a request's body was, for [`RequestInfo::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind<'a> {
    /// One FlowFile's content, with the request's Content-Type.
    Raw { content_type: &'a str },
    /// A FlowFile package, whose FlowFiles carry their own attributes.
    Package,
    /// A `multipart/form-data` form, a FlowFile per part.
    Form,
}

impl RequestInfo<'_> {
    /// The attributes the request gives each FlowFile, in the order they are set.
    fn attributes(&self) -> Vec<(String, String)> {
        let mut attrs = Vec::new();
        if let Some(re) = self.header_regex {
            // `keys()` yields each name once; `get` its first value.
            for name in self.headers.keys() {
                let lower = name.as_str();
                // Credentials never land (Authorization whatever the list says), and the
                // FlowFile's uuid is always the fresh one.
                if lower == "authorization"
                    || lower == "uuid"
                    || self.deny.iter().any(|d| d.eq_ignore_ascii_case(lower))
                {
                    continue;
                }
                let spelled = self
                    .raw_names
                    .and_then(|r| r.spelling(lower))
                    .unwrap_or(lower);
                if re.is_match(spelled)
                    && let Some(value) = self.headers.get(name)
                {
                    attrs.push((spelled.to_owned(), header_text(value)));
                }
            }
        }
        let (subject, issuer) = match self.cert {
            Some(c) => (c.subject.clone(), c.issuer.clone()),
            None => ("none".to_owned(), "none".to_owned()),
        };
        attrs.push((
            "restlistener.remote.source.host".into(),
            self.peer.ip().to_string(),
        ));
        attrs.push((
            "restlistener.request.uri".into(),
            self.uri.path().to_owned(),
        ));
        attrs.push(("restlistener.remote.user.dn".into(), subject));
        attrs.push(("restlistener.remote.issuer.dn".into(), issuer));
        attrs
    }

    /// Sets every FlowFile's attributes: see [`Prepared::apply`].
    pub fn apply(&self, flowfiles: &mut [Received], body: BodyKind<'_>) {
        let mut prepared = self.prepare(body);
        let last = flowfiles.len().saturating_sub(1);
        for (n, ff) in flowfiles.iter_mut().enumerate() {
            prepared.apply(ff, n == last);
        }
    }

    /// What the request gives each of its FlowFiles, worked out once.
    pub fn prepare(&self, body: BodyKind<'_>) -> Prepared {
        let (packaged, content_type) = match body {
            BodyKind::Raw { content_type } => (false, Some(content_type.to_owned())),
            BodyKind::Package => (true, None),
            BodyKind::Form => (false, None),
        };
        Prepared {
            packaged,
            content_type: content_type.filter(|c| !c.is_empty()),
            filename: self
                .headers
                .get("filename")
                .filter(|_| body != BodyKind::Form)
                .map(header_text)
                .filter(|f| !f.trim().is_empty()),
            request_attrs: self.attributes(),
        }
    }
}

/// The attributes a request gives each of its FlowFiles ([`RequestInfo::prepare`]).
pub(crate) struct Prepared {
    packaged: bool,
    /// A raw body's Content-Type.
    content_type: Option<String>,
    /// The `filename` header (not on a form's parts: ListenHTTPServlet reads it in
    /// `handleRequest` only).
    filename: Option<String>,
    request_attrs: Vec<(String, String)>,
}

impl Prepared {
    /// Sets a FlowFile's attributes: the package's (or, for a raw body or a form's part,
    /// `path` and a `filename`), a fresh `uuid`, the `filename` header, `mime.type` of a raw
    /// body, then the request's. The `last` FlowFile of a request takes the request's
    /// attributes without copies (no later one may ask for them).
    pub fn apply(&mut self, ff: &mut Received, last: bool) {
        let packaged = self.packaged;
        let attrs = &mut ff.attributes;
        attrs.reserve(self.request_attrs.len() + 5);
        let has_filename = attrs.iter().any(|(k, _)| k == "filename");
        if !packaged {
            attrs.push(("path".into(), "./".into()));
            attrs.push(("filename".into(), now_nanos()));
        } else if let Some(i) = attrs.iter().position(|(k, _)| k == "uuid") {
            let sent = std::mem::take(&mut attrs[i].1);
            attrs.remove(i);
            attrs.push(("source.uuid".into(), sent));
        }
        ff.filename_made_here = !packaged;
        if let Some(f) = &self.filename
            && !(packaged && has_filename)
        {
            set_attr(attrs, "filename", f);
            ff.filename_made_here = false;
        }
        if let Some(content_type) = self.content_type.as_deref().filter(|_| !packaged) {
            set_attr(attrs, "mime.type", content_type);
        }
        if last {
            for (k, v) in std::mem::take(&mut self.request_attrs) {
                put_attr(attrs, k, v);
            }
        } else {
            for (k, v) in &self.request_attrs {
                set_attr(attrs, k, v);
            }
        }
        // Last, so nothing the request carried can replace it. A v4 uuid from the
        // thread-local generator (uuid's `fast-rng`), formatted without a temporary.
        let mut buf = uuid::Uuid::encode_buffer();
        let fresh = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
        set_attr(attrs, "uuid", fresh);
    }
}

/// [`set_attr`] with an owned name and value.
fn put_attr(attrs: &mut Vec<(String, String)>, key: String, value: String) {
    match attrs.iter_mut().find(|(k, _)| *k == key) {
        Some((_, v)) => *v = value,
        None => attrs.push((key, value)),
    }
}

fn now_nanos() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling_is_the_first_seen() {
        let raw = RawHeaderNames::new(vec!["X-Tenant".into(), "x-tenant".into()]);
        assert_eq!(raw.spelling("x-tenant"), Some("X-Tenant"));
        assert_eq!(raw.spelling("x-other"), None);
    }
}
