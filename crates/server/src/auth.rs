//! Who may write: the credentials NiFi's HTTP processors can send.
//!
//! - **Bearer** (`Authorization: Bearer TOKEN`): what InvokeHTTP sends from a sensitive
//!   `Authorization` dynamic property.
//! - **HTTP Basic**, challenged: PostHTTP (1.x) puts its *Username*/*Password* in a
//!   `BasicCredentialsProvider` handed to `HttpClientBuilder.setDefaultCredentialsProvider`
//!   (PostHTTP.java at rel/nifi-1.28.1, lines 460-467), so Apache HttpClient sends them only
//!   after a `401` carrying
//!   `WWW-Authenticate: Basic` (non-preemptive), and again on each request it must repeat.
//!   Its HEAD and DELETE carry no custom headers, so only the challenge gets them through.
//! - **A client certificate** verified at the TLS handshake (the acceptor puts its subject
//!   and issuer in the request as a [`ClientCert`]), authorized by the *Authorized Subject DN
//!   Pattern*, then its *Authorized Issuer DN Pattern*, as ListenHTTPServlet does
//!   (rel/nifi-1.28.1 lines 220-238: `authorizedPattern.matcher(foundSubject).matches()`,
//!   else `403 "not allowed based on subject dn"`; then
//!   `authorizedIssuerPattern.matcher(foundIssuer).matches()`, else
//!   `403 "not allowed based on issuer dn"`). The hold DELETE is checked the same way
//!   (ContentAcknowledgmentServlet.java checks the subject only; a certificate refused by
//!   issuer could not have made the hold).
//!
//! Any one accepted credential is enough. Every comparison of a secret is constant-time.

use axum::http::{HeaderMap, header};
use base64::Engine;
use regex::Regex;

use crate::error::{ApiError, Challenge};

/// The client certificate a TLS connection presented and the handshake verified: its
/// subject and issuer distinguished names (RFC 1779 form with spaces, most specific first,
/// as NiFi writes them: `CN=nifi, OU=ingest, O=Example`). The TLS acceptor inserts it as a request extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// Subject DN, e.g. `CN=nifi, OU=ingest, O=Example`.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
}

/// One HTTP Basic user and password.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicUser {
    /// User name (no `:`).
    pub user: String,
    /// Password (may contain `:`).
    pub password: String,
}

impl std::fmt::Debug for BasicUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BasicUser({:?}, <redacted>)", self.user)
    }
}

/// Parses a Basic credentials file: one `user:password` a line (split at the first `:`);
/// blank lines and lines starting with `#` are skipped.
pub fn parse_basic_users(text: &str) -> Result<Vec<BasicUser>, String> {
    let mut users = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let Some((user, password)) = line.split_once(':') else {
            return Err(format!("line {}: expected user:password", i + 1));
        };
        if user.is_empty() || password.is_empty() {
            return Err(format!("line {}: empty user or password", i + 1));
        }
        users.push(BasicUser {
            user: user.to_owned(),
            password: password.to_owned(),
        });
    }
    if users.is_empty() {
        return Err("no user:password line".into());
    }
    Ok(users)
}

/// The credentials accepted, from [`crate::ServerConfig`].
pub(crate) struct Guard<'a> {
    pub bearer: Option<&'a str>,
    pub basic: &'a [BasicUser],
    pub dn_pattern: Option<&'a Regex>,
    pub issuer_pattern: Option<&'a Regex>,
}

impl Guard<'_> {
    /// Ok when the request may write; 403 for a certificate a DN pattern refuses; 401 with
    /// the challenge for missing or wrong credentials.
    pub fn check(&self, headers: &HeaderMap, cert: Option<&ClientCert>) -> Result<(), ApiError> {
        if let Some(cert) = cert {
            let allowed = self.dn_pattern.is_none_or(|re| re.is_match(&cert.subject));
            if !allowed {
                tracing::warn!(subject = %cert.subject, issuer = %cert.issuer,
                    "client certificate not authorized by --authorized-dn-pattern");
                return Err(ApiError::Forbidden(
                    "not allowed based on subject dn".into(),
                ));
            }
            if !self
                .issuer_pattern
                .is_none_or(|re| re.is_match(&cert.issuer))
            {
                tracing::warn!(subject = %cert.subject, issuer = %cert.issuer,
                    "client certificate not authorized by --authorized-issuer-dn-pattern");
                return Err(ApiError::Forbidden("not allowed based on issuer dn".into()));
            }
            // A verified, authorized certificate is a credential by itself (ListenHTTP asks
            // for nothing else).
            return Ok(());
        }
        let challenge = match (self.bearer.is_some(), !self.basic.is_empty()) {
            (false, false) => return Ok(()),
            (true, false) => Challenge::Bearer,
            (false, true) => Challenge::Basic,
            (true, true) => Challenge::Both,
        };
        let Some((scheme, value)) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
        else {
            return Err(ApiError::Unauthorized(challenge));
        };
        let value = value.trim();
        // The auth scheme is case-insensitive (RFC 9110 §11.1); the credentials are not.
        let ok = if scheme.eq_ignore_ascii_case("bearer") {
            self.bearer
                .is_some_and(|t| constant_time_eq(value.as_bytes(), t.as_bytes()))
        } else if scheme.eq_ignore_ascii_case("basic") {
            self.basic_matches(value)
        } else {
            false
        };
        if ok {
            Ok(())
        } else {
            Err(ApiError::Unauthorized(challenge))
        }
    }

    /// Whether the base64 `user:password` is one of the users; every user is compared, each in
    /// constant time, so the time taken does not tell which part differed.
    fn basic_matches(&self, encoded: &str) -> bool {
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
            return false;
        };
        let mut any = false;
        for u in self.basic {
            let expected = format!("{}:{}", u.user, u.password);
            any |= constant_time_eq(&decoded, expected.as_bytes());
        }
        any
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn basic_file_lines() {
        let users = parse_basic_users("# NiFi\nnifi:pa:ss\n\nother:x\r\n").unwrap();
        assert_eq!(users.len(), 2);
        assert_eq!(users[0].user, "nifi");
        assert_eq!(users[0].password, "pa:ss");
        assert!(parse_basic_users("nopassword\n").is_err());
        assert!(parse_basic_users("# only a comment\n").is_err());
        assert!(!format!("{:?}", users[0]).contains("pa:ss"));
    }

    #[test]
    fn either_credential_is_enough_and_a_dn_mismatch_is_forbidden() {
        let users = parse_basic_users("nifi:secret").unwrap();
        let re = Regex::new("^(?:CN=nifi, .*)$").unwrap();
        let issuer = Regex::new("^(?:CN=ca)$").unwrap();
        let g = Guard {
            bearer: Some("tok"),
            basic: &users,
            dn_pattern: Some(&re),
            issuer_pattern: Some(&issuer),
        };
        let basic = base64::engine::general_purpose::STANDARD.encode("nifi:secret");
        assert!(g.check(&headers(&format!("Basic {basic}")), None).is_ok());
        assert!(g.check(&headers(&format!("basic {basic}")), None).is_ok());
        assert!(g.check(&headers("Bearer tok"), None).is_ok());
        let wrong = base64::engine::general_purpose::STANDARD.encode("nifi:secreT");
        assert!(matches!(
            g.check(&headers(&format!("Basic {wrong}")), None),
            Err(ApiError::Unauthorized(Challenge::Both))
        ));
        assert!(g.check(&headers("Basic !!!"), None).is_err());
        assert!(g.check(&HeaderMap::new(), None).is_err());
        let good = ClientCert {
            subject: "CN=nifi, O=Example".into(),
            issuer: "CN=ca".into(),
        };
        assert!(g.check(&HeaderMap::new(), Some(&good)).is_ok());
        let bad = ClientCert {
            subject: "CN=other, O=Example".into(),
            issuer: "CN=ca".into(),
        };
        assert!(matches!(
            g.check(&headers("Bearer tok"), Some(&bad)),
            Err(ApiError::Forbidden(m)) if m.contains("subject dn")
        ));
        // The subject matches, the issuer does not: refused, even with a good token.
        let other_issuer = ClientCert {
            subject: "CN=nifi, O=Example".into(),
            issuer: "CN=ca, O=Other".into(),
        };
        assert!(matches!(
            g.check(&headers("Bearer tok"), Some(&other_issuer)),
            Err(ApiError::Forbidden(m)) if m.contains("issuer dn")
        ));
    }
}
