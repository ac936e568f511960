//! Who may write and read, resolved from the listener's settings: the bearer tokens (ingest
//! and metrics), the Basic users, and client certificates (`--client-authentication`
//! against `--tls-client-ca`, the subject and issuer DN patterns).

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::config::args::Listener;

/// The token `GET /metrics` requires: read from `--metrics-token-file`, or the ingest token
/// with `--metrics-auth`, or none.
pub(super) fn metrics_token(listener: &Listener) -> Result<Option<String>> {
    match (&listener.metrics_token_file, listener.metrics_auth) {
        (Some(_), true) => bail!("give --metrics-auth or --metrics-token-file, not both"),
        (Some(path), false) => token_file(path, "metrics-token-file").map(Some),
        (None, true) => {
            let token = auth_token(listener)?;
            anyhow::ensure!(
                token.is_some(),
                "--metrics-auth needs --auth-token or --auth-token-file"
            );
            Ok(token)
        }
        (None, false) => Ok(None),
    }
}

/// The bearer token, given directly or in a file (its first line).
pub(super) fn auth_token(listener: &Listener) -> Result<Option<String>> {
    let token = match (&listener.auth_token, &listener.auth_token_file) {
        (Some(_), Some(_)) => bail!("give --auth-token or --auth-token-file, not both"),
        (Some(token), None) => Some(token.clone()),
        (None, None) => None,
        (None, Some(path)) => Some(token_file(path, "auth-token-file")?),
    };
    if let Some(t) = &token {
        not_a_placeholder(t, "--auth-token")?;
    }
    Ok(token)
}

/// Refuses a secret still holding the placeholder `.env.example` ships (`CHANGE-ME-…`): a
/// stack started from the example as is must not accept anyone who read the example.
pub(crate) fn not_a_placeholder(secret: &str, what: &str) -> Result<()> {
    if secret.to_ascii_uppercase().contains("CHANGE-ME") {
        bail!(
            "{what} still holds a CHANGE-ME placeholder from .env.example; set a secret of your \
             own (e.g. `openssl rand -hex 24`)"
        );
    }
    Ok(())
}

/// The token in the file of `--{flag}`: its first line, trimmed, which must not be empty.
fn token_file(path: &Path, flag: &str) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading --{flag} {}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim();
    anyhow::ensure!(!token.is_empty(), "--{flag} {} is empty", path.display());
    Ok(token.to_owned())
}

/// The Basic users of `--basic-auth-file`.
pub(super) fn basic_auth(listener: &Listener) -> Result<Vec<server::BasicUser>> {
    let Some(path) = &listener.basic_auth_file else {
        return Ok(Vec::new());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading --basic-auth-file {}", path.display()))?;
    let users = server::parse_basic_users(&text)
        .map_err(|e| anyhow::anyhow!("--basic-auth-file {}: {e}", path.display()))?;
    for u in &users {
        not_a_placeholder(
            &u.password,
            &format!("the password of {:?} in --basic-auth-file", u.user),
        )?;
    }
    Ok(users)
}

/// `--client-authentication` against `--tls-client-ca`: REQUIRED and WANT verify against the
/// bundle, NONE asks for no certificate, so a bundle beside it would be ignored silently.
pub(super) fn client_authentication(listener: &Listener) -> Result<()> {
    use crate::config::value::ClientAuth;
    match (listener.client_authentication, &listener.tls_client_ca) {
        (ClientAuth::Required | ClientAuth::Want, None) => bail!(
            "--client-authentication REQUIRED or WANT needs --tls-client-ca, the CA bundle client certificates are verified against"
        ),
        (ClientAuth::None, Some(_)) => bail!(
            "--client-authentication NONE asks for no client certificate: drop --tls-client-ca (and the DN patterns), or use AUTO, REQUIRED or WANT"
        ),
        _ => Ok(()),
    }
}

/// A DN pattern (`--{name}`, subject or issuer), anchored (a whole match, as Java's
/// `Matcher.matches`), when client certificates are asked for.
pub(super) fn authorized_dn(
    listener: &Listener,
    name: &str,
    p: &str,
) -> Result<Option<regex::Regex>> {
    if listener.tls_client_ca.is_none() {
        if p != ".*" {
            bail!("--{name} applies to client certificates: set --tls-client-ca too");
        }
        return Ok(None);
    }
    if listener.tls_cert.is_none() {
        bail!("--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is over HTTPS)");
    }
    regex::Regex::new(&format!("^(?:{p})$"))
        .map(Some)
        .with_context(|| format!("bad --{name} {p:?}"))
}
