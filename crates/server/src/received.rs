//! A FlowFile as a front door received it ([`Received`]), and what every front door (HTTP
//! and S3) and every body reader (FlowFile packages, `multipart/form-data` forms) shares
//! about its attributes: how one is set ([`set_attr`]) and how a header value becomes one
//! ([`header_text`]).

use axum::http::HeaderValue;

/// One FlowFile as received: its attributes and content.
pub(crate) struct Received {
    pub attributes: Vec<(String, String)>,
    pub content: Vec<u8>,
    /// Whether its `filename` is one the front door made up (a timestamp, as ListenHTTP's),
    /// rather than one the sender gave: a retry of the same FlowFile gets another.
    pub filename_made_here: bool,
}

/// Sets attribute `key` to `value`, replacing its value if it is already there.
pub(crate) fn set_attr(attrs: &mut Vec<(String, String)>, key: &str, value: &str) {
    match attrs.iter_mut().find(|(k, _)| k == key) {
        Some((_, v)) => *v = value.to_owned(),
        None => attrs.push((key.to_owned(), value.to_owned())),
    }
}

/// A header value as text: UTF-8 if it is, else each byte as ISO-8859-1.
pub(crate) fn header_text(value: &HeaderValue) -> String {
    match std::str::from_utf8(value.as_bytes()) {
        Ok(s) => s.to_owned(),
        Err(_) => value.as_bytes().iter().map(|&b| char::from(b)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_and_utf8_values_are_kept() {
        let utf8 = HeaderValue::from_bytes("Zürich".as_bytes()).unwrap();
        assert_eq!(header_text(&utf8), "Zürich");
        let latin1 = HeaderValue::from_bytes(b"Z\xfcrich").unwrap();
        assert_eq!(header_text(&latin1), "Zürich");
    }
}
