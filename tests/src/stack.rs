//! An Auth server and API servers sharing one fresh database.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;

use crate::binaries::binaries;
use crate::database::{Backend, TestDatabase};
use crate::proxy::TcpProxy;
use crate::server::Server;

/// A confidential client allowed every grant and every scope.
pub const APP: (&str, &str) = ("app", "app-secret-0123456789");
/// A client allowed only `client_credentials` and `read:tickets`.
pub const READER: (&str, &str) = ("reader", "reader-secret-0123456789");
/// A second full client, to test what one client may do to another's
/// tokens.
pub const OTHER: (&str, &str) = ("other", "other-secret-0123456789");
/// A client for operators: `client_credentials` with the `admin` scope.
pub const ADMIN: (&str, &str) = ("admin-tool", "admin-secret-0123456789");
pub const ALICE: (&str, &str) = ("alice", "alice password");
pub const BOB: (&str, &str) = ("bob", "bob password");

/// The issuer in the settings; tokens carry it, nothing connects to it.
pub const ISSUER: &str = "http://issuer.test";

/// How to start a stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    pub use_reference_tokens: bool,
    pub access_token_lifetime_seconds: u64,
    pub api_instances: usize,
    /// Auth instances besides the first, all on the same database.
    pub auth_replicas: usize,
    /// Extra environment for every server, such as `Cleanup__IntervalSeconds`.
    pub env: Vec<(String, String)>,
    /// Connect the services to PostgreSQL through a [`TcpProxy`] that the
    /// test can cut. Ignored on SQLite.
    pub via_proxy: bool,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            use_reference_tokens: false,
            access_token_lifetime_seconds: 3600,
            api_instances: 2,
            auth_replicas: 0,
            env: Vec::new(),
            via_proxy: false,
        }
    }
}

impl StackOptions {
    pub fn reference() -> Self {
        StackOptions {
            use_reference_tokens: true,
            ..Self::default()
        }
    }

    pub fn jwt() -> Self {
        Self::default()
    }
}

/// Running servers plus the database and files they use. Servers are
/// declared first so that they stop before the database is dropped.
pub struct Stack {
    /// The proxy between the services and PostgreSQL, with `via_proxy`.
    pub proxy: Option<TcpProxy>,
    pub auth: Server,
    pub auth_replicas: Vec<Server>,
    pub apis: Vec<Server>,
    pub database: TestDatabase,
    pub settings_path: PathBuf,
    pub http: reqwest::Client,
    /// Every token the stack's helpers received, checked against the logs
    /// when the stack is dropped.
    issued_secrets: std::sync::Mutex<Vec<String>>,
    dir: TempDir,
}

impl Drop for Stack {
    /// Fails the test if a token, client secret or password reached a log
    /// line, at the `debug` level the servers run with here.
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let logs = self.logs();
        let mut secrets: Vec<String> = [APP.1, READER.1, OTHER.1, ADMIN.1, ALICE.1, BOB.1]
            .iter()
            .map(|secret| (*secret).to_owned())
            .collect();
        if let Ok(issued) = self.issued_secrets.lock() {
            secrets.extend(issued.iter().cloned());
        }
        for secret in &secrets {
            assert!(
                !logs.contains(secret.as_str()),
                "a token, secret or password appears in the server logs in {}",
                self.dir.path().display()
            );
        }
    }
}

/// A reqwest client that ignores proxy variables, so that every request
/// stays on loopback.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("reqwest client")
}

impl Stack {
    /// Creates the database, registers the standard clients and users with
    /// the admin commands, and starts Auth and the API instances.
    pub async fn start(backend: Backend, options: StackOptions) -> Stack {
        let dir = tempfile::tempdir().expect("temporary directory");
        let database = TestDatabase::create(&backend, dir.path());
        let mut proxy = None;
        let mut service_url = database.url.clone();
        if options.via_proxy && database.is_postgres() {
            let mut url = url::Url::parse(&database.url).expect("database URL");
            let target = format!(
                "{}:{}",
                url.host_str().unwrap_or("127.0.0.1"),
                url.port().unwrap_or(5432)
            );
            let target = tokio::net::lookup_host(&target)
                .await
                .ok()
                .and_then(|mut addresses| addresses.next())
                .expect("PostgreSQL address");
            let started = TcpProxy::start(target).await;
            url.set_host(Some("127.0.0.1")).expect("host");
            url.set_port(Some(started.address.port())).expect("port");
            service_url = url.to_string();
            proxy = Some(started);
        }
        let settings_path = write_settings(dir.path(), &service_url, &options);

        let dir_path = dir.path().to_path_buf();
        let admin = Admin {
            settings_path: settings_path.clone(),
        };
        admin
            .run(&[
                "clients",
                "add",
                APP.0,
                "--secret",
                APP.1,
                "--grant-types",
                "client_credentials,password,refresh_token",
                "--scopes",
                "all read:tickets edit:tickets",
            ])
            .await;
        admin
            .run(&[
                "clients",
                "add",
                READER.0,
                "--secret",
                READER.1,
                "--grant-types",
                "client_credentials",
                "--scopes",
                "read:tickets",
            ])
            .await;
        admin
            .run(&[
                "clients",
                "add",
                OTHER.0,
                "--secret",
                OTHER.1,
                "--grant-types",
                "client_credentials,password,refresh_token",
                "--scopes",
                "read:tickets",
            ])
            .await;
        admin
            .run(&[
                "clients",
                "add",
                ADMIN.0,
                "--secret",
                ADMIN.1,
                "--grant-types",
                "client_credentials",
                "--scopes",
                "admin",
            ])
            .await;
        for (username, password) in [ALICE, BOB] {
            admin
                .run_with_stdin(&["users", "add", username, "--password-stdin"], password)
                .await;
        }

        let env = &options.env;
        let auth = Server::start(
            "auth",
            &binaries().auth_server,
            &settings_path,
            env,
            &dir_path,
        )
        .await;
        let mut auth_replicas = Vec::new();
        for index in 0..options.auth_replicas {
            let name = format!("auth-replica{index}");
            auth_replicas.push(
                Server::start(
                    &name,
                    &binaries().auth_server,
                    &settings_path,
                    env,
                    &dir_path,
                )
                .await,
            );
        }
        let mut apis = Vec::new();
        for index in 0..options.api_instances {
            let name = format!("api{index}");
            apis.push(
                Server::start(
                    &name,
                    &binaries().api_server,
                    &settings_path,
                    env,
                    &dir_path,
                )
                .await,
            );
        }
        Stack {
            proxy,
            auth,
            auth_replicas,
            apis,
            database,
            settings_path,
            http: http_client(),
            issued_secrets: std::sync::Mutex::new(Vec::new()),
            dir,
        }
    }

    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Replaces the Auth server with one started with extra environment
    /// variables, such as `UseReferenceTokens=true`.
    pub async fn restart_auth(&mut self, env: &[(&str, &str)]) {
        self.restart_auth_instance(0, env).await;
    }

    /// Replaces every API instance with ones started with extra
    /// environment variables.
    pub async fn restart_apis(&mut self, env: &[(&str, &str)]) {
        for index in 0..self.apis.len() {
            self.restart_api_instance(index, env).await;
        }
    }

    /// Replaces Auth instance `index` (0 is `auth`, then the replicas) with
    /// one started with extra environment variables.
    pub async fn restart_auth_instance(&mut self, index: usize, env: &[(&str, &str)]) {
        let env = owned(env);
        let replacement = Server::start(
            &format!("auth{index}-restarted"),
            &binaries().auth_server,
            &self.settings_path,
            &env,
            self.dir.path(),
        )
        .await;
        let old = if index == 0 {
            std::mem::replace(&mut self.auth, replacement)
        } else {
            std::mem::replace(&mut self.auth_replicas[index - 1], replacement)
        };
        old.stop().await;
    }

    /// Replaces API instance `index` with one started with extra environment
    /// variables.
    pub async fn restart_api_instance(&mut self, index: usize, env: &[(&str, &str)]) {
        let env = owned(env);
        let replacement = Server::start(
            &format!("api{index}-restarted"),
            &binaries().api_server,
            &self.settings_path,
            &env,
            self.dir.path(),
        )
        .await;
        let old = std::mem::replace(&mut self.apis[index], replacement);
        old.stop().await;
    }

    /// The URL of Auth instance `index` (0 is `auth`, then the replicas).
    pub fn auth_url(&self, index: usize) -> &str {
        if index == 0 {
            &self.auth.url
        } else {
            &self.auth_replicas[index - 1].url
        }
    }

    /// Runs an admin command of the auth-server binary against this stack.
    pub async fn admin(&self, args: &[&str]) -> std::process::Output {
        Admin {
            settings_path: self.settings_path.clone(),
        }
        .output(args, None)
        .await
    }

    /// `POST /connect/token` with HTTP Basic client authentication.
    pub async fn token(&self, client: (&str, &str), form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/connect/token", self.auth.url))
            .basic_auth(client.0, Some(client.1))
            .form(form)
            .send()
            .await
            .expect("token request");
        let (status, body) = json_of(response).await;
        if let Ok(mut issued) = self.issued_secrets.lock() {
            for field in ["access_token", "refresh_token"] {
                if let Some(token) = body[field].as_str() {
                    issued.push(token.to_owned());
                }
            }
        }
        (status, body)
    }

    /// Logs ALICE in through the APP client; returns the token response.
    pub async fn login(&self) -> Value {
        self.login_as(APP, ALICE).await
    }

    /// Logs a user in through a client; returns the token response.
    pub async fn login_as(&self, client: (&str, &str), user: (&str, &str)) -> Value {
        let (status, body) = self
            .token(
                client,
                &[
                    ("grant_type", "password"),
                    ("username", user.0),
                    ("password", user.1),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "password grant failed: {body}");
        body
    }

    /// An access token of the ADMIN client.
    pub async fn admin_token(&self) -> String {
        let (status, body) = self
            .token(ADMIN, &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(status, StatusCode::OK, "admin token: {body}");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// Sends a request with a Bearer token to the Auth server.
    pub async fn auth_request(
        &self,
        method: reqwest::Method,
        path: &str,
        access_token: &str,
    ) -> (StatusCode, Value) {
        let response = self
            .http
            .request(method, format!("{}{path}", self.auth.url))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("Auth request");
        json_of(response).await
    }

    /// `GET /api/me` at API instance `index`.
    pub async fn me(&self, index: usize, access_token: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!("{}/api/me", self.apis[index].url))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("/api/me request");
        json_of(response).await
    }

    /// `POST /connect/revocation` as `client`.
    pub async fn revoke(&self, client: (&str, &str), token: &str) -> (StatusCode, Value) {
        self.post_token_param("/connect/revocation", client, token)
            .await
    }

    /// `POST /connect/introspect` as `client`.
    pub async fn introspect(&self, client: (&str, &str), token: &str) -> (StatusCode, Value) {
        self.post_token_param("/connect/introspect", client, token)
            .await
    }

    /// Posts `token=TOKEN` to an Auth endpoint with HTTP Basic credentials.
    async fn post_token_param(
        &self,
        path: &str,
        client: (&str, &str),
        token: &str,
    ) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.auth.url))
            .basic_auth(client.0, Some(client.1))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap_or_else(|error| panic!("POST {path} failed: {error}"));
        json_of(response).await
    }

    /// `POST /connect/endsession` with a Bearer access token.
    pub async fn end_session(&self, access_token: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/connect/endsession", self.auth.url))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("end-session request");
        json_of(response).await
    }

    /// Every log line the servers wrote so far.
    pub fn logs(&self) -> String {
        let mut logs = self.auth.log();
        for auth in &self.auth_replicas {
            logs.push_str(&auth.log());
        }
        for api in &self.apis {
            logs.push_str(&api.log());
        }
        logs
    }
}

/// Writes an `appsettings.json` for a test stack into `dir`. Both servers
/// listen on port 0, so that parallel tests never collide.
pub fn write_settings(dir: &Path, database_url: &str, options: &StackOptions) -> PathBuf {
    let settings_path = dir.join("appsettings.json");
    let settings = json!({
        "UseReferenceTokens": options.use_reference_tokens,
        "ConnectionStrings": { "Default": database_url },
        "Auth": { "Urls": "http://127.0.0.1:0", "Issuer": ISSUER },
        "Api": { "Urls": "http://127.0.0.1:0", "Audience": "api" },
        "Tokens": {
            "AccessTokenLifetimeSeconds": options.access_token_lifetime_seconds,
            "RefreshTokenLifetimeSeconds": 86400
        }
    });
    std::fs::write(&settings_path, settings.to_string()).expect("write settings");
    settings_path
}

/// Runs a server binary to completion (a command, or a start that fails)
/// with only the given environment; gives up after `timeout`.
pub async fn run_binary(
    binary: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    timeout: std::time::Duration,
) -> std::process::Output {
    let mut command = tokio::process::Command::new(binary);
    command
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().expect("start the binary");
    tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{} {args:?} did not exit within {timeout:?}",
                binary.display()
            )
        })
        .expect("binary output")
}

/// Status and JSON body; a body that is not JSON becomes `Value::Null`.
pub async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

fn owned(env: &[(&str, &str)]) -> Vec<(String, String)> {
    env.iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

/// Runs admin commands of the auth-server binary.
struct Admin {
    settings_path: PathBuf,
}

impl Admin {
    async fn run(&self, args: &[&str]) {
        self.run_with_input(args, None).await;
    }

    async fn run_with_stdin(&self, args: &[&str], input: &str) {
        self.run_with_input(args, Some(input)).await;
    }

    async fn run_with_input(&self, args: &[&str], input: Option<&str>) {
        let output = self.output(args, input).await;
        assert!(
            output.status.success(),
            "auth-server {args:?} failed with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }

    async fn output(&self, args: &[&str], input: Option<&str>) -> std::process::Output {
        let mut command = tokio::process::Command::new(&binaries().auth_server);
        command
            .arg("--config")
            .arg(&self.settings_path)
            .args(args)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start auth-server admin command");
        let mut stdin = child.stdin.take().expect("stdin is piped");
        if let Some(input) = input {
            stdin
                .write_all(format!("{input}\n").as_bytes())
                .await
                .expect("write stdin");
        }
        drop(stdin);
        child
            .wait_with_output()
            .await
            .expect("admin command output")
    }
}
