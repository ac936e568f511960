//! Which requests the REST pipe serves: a bearer key-pair JWT that the configured
//! [`snowpipe::Verifier`] accepts (else Snowflake's `401` with code `390144`), for the served
//! pipe name (else `404`).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{PipeService, RequestQuery, error};

/// A query-only request the pipe admitted: its pipe name and query are extracted (in that
/// order, a malformed one refused as axum refuses it), then [`admit`] checks the token.
pub(super) struct Admitted {
    pub(super) svc: Arc<PipeService>,
    pub(super) pipe: String,
    pub(super) q: RequestQuery,
}

impl FromRequestParts<Arc<PipeService>> for Admitted {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        svc: &Arc<PipeService>,
    ) -> Result<Self, Response> {
        let Path(pipe) = Path::<String>::from_request_parts(parts, svc)
            .await
            .map_err(IntoResponse::into_response)?;
        let Query(q) = Query::<RequestQuery>::from_request_parts(parts, svc)
            .await
            .map_err(IntoResponse::into_response)?;
        admit(svc, &parts.headers, &pipe).map_err(|r| *r)?;
        Ok(Admitted {
            svc: svc.clone(),
            pipe,
            q,
        })
    }
}

/// Checks the token and the pipe name; the error response when refused.
pub(super) fn admit(
    svc: &PipeService,
    headers: &HeaderMap,
    pipe: &str,
) -> Result<(), Box<Response>> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    let token_type = headers
        .get("x-snowflake-authorization-token-type")
        .and_then(|v| v.to_str().ok());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let verdict = match (token, token_type) {
        (None, _) => Err("no Authorization: Bearer header".to_owned()),
        (Some(_), Some(t)) if !t.eq_ignore_ascii_case("KEYPAIR_JWT") => {
            Err(format!("token type {t:?} is not KEYPAIR_JWT"))
        }
        (Some(t), _) => svc.verifier.verify(t, now).map_err(|e| e.to_string()),
    };
    if let Err(why) = verdict {
        let id = uuid::Uuid::new_v4();
        tracing::warn!(%pipe, reason = %why, %id, "refused a Snowpipe REST request: JWT token is invalid");
        return Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "390144",
            format!("JWT token is invalid. [{id}]"),
        )));
    }
    if let Some(p) = &svc.pipe
        && p != pipe
    {
        return Err(Box::new(error(
            StatusCode::NOT_FOUND,
            "404",
            format!(
                "Specified pipe {pipe:?} does not exist or not authorized (this server serves {p:?})."
            ),
        )));
    }
    Ok(())
}
