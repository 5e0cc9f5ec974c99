//! Authorization server metadata (RFC 8414) and the JWKS (RFC 7517).

use actix_web::{HttpResponse, web};
use serde_json::json;
use token_core::clients::SUPPORTED_GRANT_TYPES;

use crate::state::AuthState;

const CLIENT_AUTH_METHODS: [&str; 2] = ["client_secret_basic", "client_secret_post"];

/// `GET /.well-known/openid-configuration`.
pub async fn metadata(state: web::Data<AuthState>) -> HttpResponse {
    let issuer = state.settings.issuer();
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/connect/token"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "revocation_endpoint": format!("{issuer}/connect/revocation"),
        "introspection_endpoint": format!("{issuer}/connect/introspect"),
        "end_session_endpoint": format!("{issuer}/connect/endsession"),
        "grant_types_supported": SUPPORTED_GRANT_TYPES,
        // No authorization endpoint, hence no response types.
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "access_token_signing_alg_values_supported": ["RS256"],
        // Not in RFC 8414: the access token format issued now,
        // "reference" or "jwt", from the UseReferenceTokens setting.
        "access_token_format": state.issuer.format().as_str(),
    }))
}

/// `GET /.well-known/jwks.json`.
pub async fn jwks(state: web::Data<AuthState>) -> HttpResponse {
    HttpResponse::Ok().json(state.keys.current().jwks())
}
