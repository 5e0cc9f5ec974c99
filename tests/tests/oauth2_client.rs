//! A real OAuth client library, the `oauth2` crate, against the Auth server.

use integration_tests::stack::{ALICE, APP, READER};
use integration_tests::{Backend, Stack, StackOptions, on_both_backends};
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthType, ClientId, ClientSecret, RequestTokenError, ResourceOwnerPassword,
    ResourceOwnerUsername, Scope, TokenResponse, TokenUrl,
};
use reqwest::StatusCode;

on_both_backends!(
    fetches_and_refreshes_tokens,
    client_credentials_with_form_authentication,
    wrong_secret_is_invalid_client,
);

fn http() -> reqwest::Client {
    integration_tests::stack::http_client()
}

async fn fetches_and_refreshes_tokens(backend: Backend) {
    for options in [StackOptions::reference(), StackOptions::jwt()] {
        let stack = Stack::start(backend.clone(), options).await;
        let client = BasicClient::new(ClientId::new(APP.0.into()))
            .set_client_secret(ClientSecret::new(APP.1.into()))
            .set_token_uri(TokenUrl::new(format!("{}/connect/token", stack.auth.url)).unwrap());

        let token = client
            .exchange_password(
                &ResourceOwnerUsername::new(ALICE.0.into()),
                &ResourceOwnerPassword::new(ALICE.1.into()),
            )
            .add_scope(Scope::new("read:tickets".into()))
            .request_async(&http())
            .await
            .expect("password grant through the oauth2 crate");
        let scopes = token.scopes().expect("scope is returned");
        assert_eq!(scopes[0].as_str(), "read:tickets");
        let access = token.access_token().secret();
        assert_eq!(stack.me(0, access).await.0, StatusCode::OK);

        let refresh = token.refresh_token().expect("a refresh token");
        let refreshed = client
            .exchange_refresh_token(refresh)
            .request_async(&http())
            .await
            .expect("refresh through the oauth2 crate");
        assert_ne!(refreshed.access_token().secret(), access);
        assert_eq!(
            stack.me(1, refreshed.access_token().secret()).await.0,
            StatusCode::OK
        );
        assert!(refreshed.expires_in().is_some());
    }
}

async fn client_credentials_with_form_authentication(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let client = BasicClient::new(ClientId::new(READER.0.into()))
        .set_client_secret(ClientSecret::new(READER.1.into()))
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri(TokenUrl::new(format!("{}/connect/token", stack.auth.url)).unwrap());
    let token = client
        .exchange_client_credentials()
        .request_async(&http())
        .await
        .expect("client_credentials through the oauth2 crate");
    assert!(token.refresh_token().is_none());
    assert_eq!(
        stack.me(0, token.access_token().secret()).await.0,
        StatusCode::OK
    );
}

async fn wrong_secret_is_invalid_client(backend: Backend) {
    let stack = Stack::start(backend, StackOptions::reference()).await;
    let client = BasicClient::new(ClientId::new(READER.0.into()))
        .set_client_secret(ClientSecret::new("wrong-secret-0123456789".into()))
        .set_token_uri(TokenUrl::new(format!("{}/connect/token", stack.auth.url)).unwrap());
    let error = client
        .exchange_client_credentials()
        .request_async(&http())
        .await
        .expect_err("a wrong secret must fail");
    match error {
        RequestTokenError::ServerResponse(response) => {
            assert_eq!(*response.error(), BasicErrorResponseType::InvalidClient);
        }
        other => panic!("expected an OAuth error response, got {other:?}"),
    }
}
