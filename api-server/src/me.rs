use actix_web::HttpResponse;
use serde_json::json;

use crate::auth::Authenticated;

/// `GET /api/me`: who the access token belongs to.
pub async fn me(auth: Authenticated) -> HttpResponse {
    let grant = auth.0;
    HttpResponse::Ok().json(json!({
        "sub": grant.subject,
        "client_id": grant.client_id,
        "scope": grant.scope,
        "sid": grant.session_id,
        "token_format": grant.format.as_str(),
        "exp": grant.expires,
    }))
}
