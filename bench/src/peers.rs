//! Installing and starting the peers the servers are compared against: node
//! oidc-provider and django-oauth-toolkit under gunicorn. Their sources are
//! in `bench/peers`, and what they install lands under the root passed to
//! [`install`], outside the source tree.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::load::{self, Target};
use crate::servers::SERVER_CPU;

const SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/peers");
const CLIENT_ID: &str = "bench";
const CLIENT_SECRET: &str = "bench-secret-0123456789";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Number of gunicorn sync workers, all pinned to [`SERVER_CPU`]. They were
/// measured against `dot_introspect_bearer` with `wrk -t1 -c32 -d3s` on CPU 1
/// of the 2-core benchmark machine, in three interleaved rounds in which
/// gunicorn used the whole of CPU 0. Requests/s were 279 to 312 with 1
/// worker, 244 to 301 with 2 and 205 to 231 with 3. One worker with the
/// gthread class and 4 threads gave 300 to 309, no faster, so gunicorn's
/// default sync class stays. Extra workers on one core add process switches
/// and lost throughput in every round.
const GUNICORN_WORKERS: u32 = 1;

/// Paths of the installed peers.
pub struct PeerInstall {
    oidc_provider: PathBuf,
    django_project: PathBuf,
    venv: PathBuf,
}

/// Installs both peers under `root`: oidc-provider with `npm ci` and
/// django-oauth-toolkit with pip in a virtual environment. An install whose
/// stamp file matches the current lock file or requirements is kept, so
/// only the first run downloads anything.
pub fn install(root: &Path) -> Result<PeerInstall> {
    std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    let root = root
        .canonicalize()
        .with_context(|| format!("resolving {}", root.display()))?;
    let oidc_provider = install_oidc_provider(&root.join("oidc-provider"))?;
    let (django_project, venv) = install_django_oauth_toolkit(&root.join("django-oauth-toolkit"))?;
    Ok(PeerInstall {
        oidc_provider,
        django_project,
        venv,
    })
}

fn install_oidc_provider(dir: &Path) -> Result<PathBuf> {
    let source = Path::new(SOURCE).join("oidc-provider");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for file in ["package.json", "package-lock.json", "server.mjs"] {
        std::fs::copy(source.join(file), dir.join(file))
            .with_context(|| format!("copying {file} from {}", source.display()))?;
    }

    let node_version = tool_version("node")?;
    let lock = std::fs::read(source.join("package-lock.json"))?;
    let stamp = stamp_of(&[&lock, node_version.as_bytes()]);
    let stamp_path = dir.join(".installed");
    if dir.join("node_modules").is_dir() && read_stamp(&stamp_path) == Some(stamp.clone()) {
        return Ok(dir.to_owned());
    }

    eprintln!(
        "installing oidc-provider with npm ci in {}...",
        dir.display()
    );
    remove_dir_if_present(&dir.join("node_modules"))?;
    run_install_step(
        std::process::Command::new("npm")
            .args(["ci", "--omit=dev", "--no-audit", "--no-fund"])
            .current_dir(dir),
        "npm ci for oidc-provider",
    )?;
    std::fs::write(&stamp_path, stamp)?;
    Ok(dir.to_owned())
}

/// Returns the copied Django project and the virtual environment.
fn install_django_oauth_toolkit(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let source = Path::new(SOURCE).join("django-oauth-toolkit");
    let project = dir.join("project");
    // A fresh copy on every run picks up edits to the project without
    // reinstalling the packages.
    remove_dir_if_present(&project)?;
    copy_tree(&source, &project)?;

    let python_version = tool_version("python3")?;
    let requirements = std::fs::read(source.join("requirements.txt"))?;
    let stamp = stamp_of(&[&requirements, python_version.as_bytes()]);
    let stamp_path = dir.join(".installed");
    let venv = dir.join("venv");
    if venv.join("bin/gunicorn").is_file() && read_stamp(&stamp_path) == Some(stamp.clone()) {
        return Ok((project, venv));
    }

    eprintln!(
        "installing django-oauth-toolkit with pip in {}...",
        venv.display()
    );
    remove_dir_if_present(&venv)?;
    run_install_step(
        std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv),
        "creating a Python virtual environment with python3 -m venv",
    )?;
    run_install_step(
        std::process::Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(source.join("requirements.txt")),
        "pip install -r requirements.txt for django-oauth-toolkit",
    )?;
    std::fs::write(&stamp_path, stamp)?;
    Ok((project, venv))
}

fn run_install_step(command: &mut std::process::Command, what: &str) -> Result<()> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("{what} could not be started"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

fn tool_version(tool: &str) -> Result<String> {
    let output = std::process::Command::new(tool)
        .arg("--version")
        .output()
        .with_context(|| {
            format!("{tool} not found; the peers need Node.js with npm and python3")
        })?;
    if !output.status.success() {
        bail!("{tool} --version failed ({})", output.status);
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Hex SHA-256 of the inputs, each followed by a zero byte so that
/// moving bytes between inputs changes the stamp.
fn stamp_of(parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn read_stamp(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn remove_dir_if_present(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(error).with_context(|| format!("removing {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Copies a directory, leaving out Python's bytecode caches.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        if entry.file_name() == "__pycache__" {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Kind {
    OidcProvider,
    DjangoOauthToolkit,
}

/// A started peer with its client and tokens. Dropping it stops the
/// process.
pub struct Peer {
    kind: Kind,
    pub url: String,
    pub client_id: String,
    pub client_secret: String,
    /// An opaque access token of the client, with scope `api`.
    pub access_token: String,
    /// For django-oauth-toolkit, a token with scope `introspection` that
    /// authenticates introspection requests as a Bearer token.
    pub introspection_bearer: Option<String>,
    pub introspection_url: String,
    pub token_url: String,
    child: Child,
}

/// Starts oidc-provider on a free loopback port, pinned to [`SERVER_CPU`],
/// and obtains an access token from it.
pub async fn start_oidc_provider(install: &PeerInstall, log: &Path) -> Result<Peer> {
    let port = free_port()?;
    let log_file = std::fs::File::create(log)?;
    let mut child = Command::new("taskset")
        .args(["-c", SERVER_CPU, "node", "server.mjs"])
        .current_dir(&install.oidc_provider)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NODE_ENV", "production")
        .env("PORT", port.to_string())
        .env("CLIENT_ID", CLIENT_ID)
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file))
        .kill_on_drop(true)
        .spawn()
        .context("starting node server.mjs for oidc-provider")?;

    let stdout = child.stdout.take().context("stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let url = tokio::time::timeout(STARTUP_TIMEOUT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.strip_prefix("listening on ") {
                return Some(url.to_owned());
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .with_context(|| format!("oidc-provider did not start; see {}", log.display()))?;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let mut peer = Peer {
        kind: Kind::OidcProvider,
        introspection_url: format!("{url}/token/introspection"),
        token_url: format!("{url}/token"),
        url,
        client_id: CLIENT_ID.to_owned(),
        client_secret: CLIENT_SECRET.to_owned(),
        access_token: String::new(),
        introspection_bearer: None,
        child,
    };
    let http = reqwest::Client::builder().no_proxy().build()?;
    let response = send(&http, &peer.issue_token()).await?;
    let token = response["access_token"]
        .as_str()
        .with_context(|| format!("oidc-provider returned no access_token: {response}"))?;
    // The comparison is between opaque reference tokens, so a JWT here
    // would measure a different design.
    if token.split('.').count() == 3 {
        bail!("oidc-provider issued a JWT access token, but the benchmark needs an opaque one");
    }
    peer.access_token = token.to_owned();
    Ok(peer)
}

/// Creates django-oauth-toolkit's SQLite database in `dir`, seeds its
/// client and tokens, and starts gunicorn on a free loopback port, pinned
/// to [`SERVER_CPU`].
pub async fn start_django_oauth_toolkit(
    install: &PeerInstall,
    dir: &Path,
    log: &Path,
) -> Result<Peer> {
    let database = dir.join("django-oauth-toolkit.sqlite3");
    let secret_key = random_key()?;
    let environment = [
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("DJANGO_SETTINGS_MODULE", "benchpeer.settings".to_owned()),
        ("BENCH_DOT_DATABASE", database.display().to_string()),
        ("BENCH_DOT_SECRET_KEY", secret_key),
    ];
    let manage = |args: &[&str]| {
        let mut command = Command::new(install.venv.join("bin/python"));
        command
            .arg("manage.py")
            .args(args)
            .current_dir(&install.django_project)
            .env_clear()
            .envs(environment.clone())
            .stdin(Stdio::null());
        command
    };

    let migrate = manage(&["migrate", "--no-input", "-v0"]).output().await?;
    if !migrate.status.success() {
        bail!(
            "manage.py migrate for django-oauth-toolkit failed: {}",
            String::from_utf8_lossy(&migrate.stderr)
        );
    }
    let seed = manage(&[
        "bench_seed",
        "--client-id",
        CLIENT_ID,
        "--client-secret",
        CLIENT_SECRET,
    ])
    .output()
    .await?;
    if !seed.status.success() {
        bail!(
            "manage.py bench_seed for django-oauth-toolkit failed: {}",
            String::from_utf8_lossy(&seed.stderr)
        );
    }
    let seeded: Value = serde_json::from_slice(&seed.stdout).with_context(|| {
        format!(
            "manage.py bench_seed printed no JSON: {}",
            String::from_utf8_lossy(&seed.stdout)
        )
    })?;
    let seeded_token = |key: &str| {
        seeded[key]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("manage.py bench_seed printed no {key}: {seeded}"))
    };

    let port = free_port()?;
    let log_file = std::fs::File::create(log)?;
    let mut child = Command::new("taskset")
        .args(["-c", SERVER_CPU])
        .arg(install.venv.join("bin/gunicorn"))
        .arg("--bind")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--workers")
        .arg(GUNICORN_WORKERS.to_string())
        .args([
            "--worker-class",
            "sync",
            "--log-level",
            "warning",
            "benchpeer.wsgi:application",
        ])
        .current_dir(&install.django_project)
        .env_clear()
        .envs(environment.clone())
        .stdin(Stdio::null())
        .stdout(Stdio::from(log_file.try_clone()?))
        .stderr(Stdio::from(log_file))
        .kill_on_drop(true)
        .spawn()
        .context("starting gunicorn for django-oauth-toolkit")?;

    let url = format!("http://127.0.0.1:{port}");
    wait_for_http(&mut child, &format!("{url}/o/introspect/"), log).await?;
    Ok(Peer {
        kind: Kind::DjangoOauthToolkit,
        introspection_url: format!("{url}/o/introspect/"),
        token_url: format!("{url}/o/token/"),
        url,
        client_id: CLIENT_ID.to_owned(),
        client_secret: CLIENT_SECRET.to_owned(),
        access_token: seeded_token("access_token")?,
        introspection_bearer: Some(seeded_token("introspection_bearer")?),
        child,
    })
}

/// Waits until `url` returns any HTTP response. gunicorn prints nothing
/// when ready, and its port accepts connections before a worker serves
/// them.
async fn wait_for_http(child: &mut Child, url: &str, log: &Path) -> Result<()> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()?;
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "gunicorn exited with {status} at start; see {}",
                log.display()
            );
        }
        if http.get(url).send().await.is_ok() {
            return Ok(());
        }
        if started.elapsed() > STARTUP_TIMEOUT {
            bail!(
                "gunicorn returned no response on {url} within {STARTUP_TIMEOUT:?}; see {}",
                log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Returns a port that was free on 127.0.0.1 a moment ago. Another process
/// could take it before the peer binds it, which would make the start fail
/// rather than measure the wrong server.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn random_key() -> Result<String> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

impl Peer {
    /// Replaces [`Peer::access_token`] with a newly issued one.
    pub async fn renew_access_token(&mut self) -> Result<()> {
        let http = reqwest::Client::builder().no_proxy().build()?;
        let response = send(&http, &self.issue_token()).await?;
        self.access_token = response["access_token"]
            .as_str()
            .with_context(|| format!("{} returned no access_token: {response}", self.url))?
            .to_owned();
        Ok(())
    }

    /// Checks whether the peer still reports [`Peer::access_token`] as active.
    pub async fn access_token_active(&self) -> Result<bool> {
        let http = reqwest::Client::builder().no_proxy().build()?;
        let body = send(&http, &self.introspect_basic()).await?;
        Ok(body["active"] == Value::Bool(true))
    }

    /// Returns the target that introspects [`Peer::access_token`] with the
    /// client's id and secret in a Basic header.
    pub fn introspect_basic(&self) -> Target {
        let name = match self.kind {
            Kind::OidcProvider => "oidc_introspect",
            Kind::DjangoOauthToolkit => "dot_introspect_basic",
        };
        form_post(
            name,
            &self.introspection_url,
            format!(
                "Basic {}",
                crate::basic(&self.client_id, &self.client_secret)
            ),
            format!("token={}", self.access_token),
        )
    }

    /// Returns the target that introspects [`Peer::access_token`] with
    /// [`Peer::introspection_bearer`] as a Bearer token, or `None` for a peer
    /// without one.
    pub fn introspect_bearer(&self) -> Option<Target> {
        let bearer = self.introspection_bearer.as_ref()?;
        Some(form_post(
            "dot_introspect_bearer",
            &self.introspection_url,
            format!("Bearer {bearer}"),
            format!("token={}", self.access_token),
        ))
    }

    /// Returns the target that requests a client_credentials token with
    /// scope `api`, with the client's id and secret in a Basic header.
    ///
    /// NOTE: oidc-provider's in-memory store keeps at most 1000 entries, so
    /// a load run of this target evicts [`Peer::access_token`], and later
    /// introspections of it return `"active": false` with status 200,
    /// which wrk counts as success. Run the introspection targets first.
    pub fn issue_token(&self) -> Target {
        let name = match self.kind {
            Kind::OidcProvider => "oidc_token",
            Kind::DjangoOauthToolkit => "dot_token",
        };
        form_post(
            name,
            &self.token_url,
            format!(
                "Basic {}",
                crate::basic(&self.client_id, &self.client_secret)
            ),
            "grant_type=client_credentials&scope=api".to_owned(),
        )
    }

    /// Returns the max wrk connections that `target` of this peer can
    /// serve, or `None` where any count works. Each Basic-authenticated
    /// request to django-oauth-toolkit verifies the PBKDF2 hash of the client
    /// secret, which takes about 0.28 s of one core here. With more than
    /// about 7 connections, queued requests pass wrk's 2 s timeout, and the
    /// ones still queued when wrk stops delay the next run.
    pub fn max_connections(&self, target: &Target) -> Option<u32> {
        let basic = target
            .headers
            .iter()
            .any(|(name, value)| name == "Authorization" && value.starts_with("Basic "));
        match self.kind {
            Kind::DjangoOauthToolkit if basic => Some(4),
            _ => None,
        }
    }

    /// Returns every target of this peer, the introspections before the
    /// token request.
    pub fn targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        targets.extend(self.introspect_bearer());
        targets.push(self.introspect_basic());
        targets.push(self.issue_token());
        targets
    }
}

impl Drop for Peer {
    /// Sends SIGINT and waits up to five seconds, because gunicorn stops its
    /// workers only on a signal it can handle. A SIGKILL to the master would
    /// leave the workers serving the port. `kill_on_drop` sends SIGKILL to
    /// whatever is still running.
    fn drop(&mut self) {
        let Some(pid) = self.child.id() else {
            return;
        };
        let sent = std::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .stderr(Stdio::null())
            .status();
        if !sent.is_ok_and(|status| status.success()) {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

pub fn form_post(name: &'static str, url: &str, authorization: String, body: String) -> Target {
    Target {
        name,
        url: url.to_owned(),
        headers: vec![
            ("Authorization".to_owned(), authorization),
            (
                "Content-Type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            ),
        ],
        post_body: Some(body),
    }
}

/// Sends the request of `target` once and returns its JSON body, failing
/// on a non-2xx status.
async fn send(http: &reqwest::Client, target: &Target) -> Result<Value> {
    let mut request = http.post(&target.url);
    for (name, value) in &target.headers {
        request = request.header(name, value);
    }
    let response = request
        .body(target.post_body.clone().unwrap_or_default())
        .send()
        .await
        .with_context(|| format!("{}: POST {} failed", target.name, target.url))?;
    let status = response.status();
    let body = response.text().await?;
    if !status.is_success() {
        bail!(
            "{}: POST {} returned {status}: {body}",
            target.name,
            target.url
        );
    }
    serde_json::from_str(&body)
        .with_context(|| format!("{}: response is not JSON: {body}", target.name))
}

/// Sends the request of `target` once and checks that an introspection
/// returns `"active": true` and a token request an access token. Because
/// the request queues behind any left by a load run, it also waits until
/// the peer has worked through them.
async fn check_response(http: &reqwest::Client, peer: &Peer, target: &Target) -> Result<()> {
    let body = send(http, target).await?;
    if target.url == peer.token_url {
        if !body["access_token"].is_string() {
            bail!("{}: no access_token in {body}", target.name);
        }
    } else if body["active"] != Value::Bool(true) {
        bail!("{}: expected \"active\": true, got {body}", target.name);
    }
    Ok(())
}

/// Installs and starts both peers, then for each target checks one
/// response, warms up for a second and runs wrk for `seconds`, printing
/// requests/s. Installs under `target/bench-peers` of the workspace.
pub async fn check(seconds: u64, connections: u32) -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-peers");
    let started = Instant::now();
    let install = install(&root)?;
    eprintln!("peers installed in {:.1?}", started.elapsed());

    let dir = tempfile::tempdir()?;
    let oidc_provider =
        start_oidc_provider(&install, &dir.path().join("oidc-provider.log")).await?;
    let django_oauth_toolkit = start_django_oauth_toolkit(
        &install,
        dir.path(),
        &dir.path().join("django-oauth-toolkit.log"),
    )
    .await?;
    eprintln!("oidc-provider listening on {}", oidc_provider.url);
    eprintln!(
        "django-oauth-toolkit listening on {}",
        django_oauth_toolkit.url
    );

    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut failed = Vec::new();
    println!(
        "{:<24} {:>12} {:>11} {:>10} {:>10} {:>8}",
        "target", "requests/s", "connections", "p50 ms", "p99 ms", "errors"
    );
    for peer in [&oidc_provider, &django_oauth_toolkit] {
        for target in peer.targets() {
            let connections = peer
                .max_connections(&target)
                .map_or(connections, |max| max.min(connections));
            check_response(&http, peer, &target).await?;
            // The warm-up lets V8 compile oidc-provider's hot paths before
            // the measured run.
            load::run(&target, 1, connections, dir.path())?;
            check_response(&http, peer, &target).await?;
            let measured = load::run(&target, seconds, connections, dir.path())?;
            check_response(&http, peer, &target).await?;
            println!(
                "{:<24} {:>12.1} {:>11} {:>10.2} {:>10.2} {:>8}",
                target.name,
                measured.requests_per_second,
                connections,
                measured.p50_ms,
                measured.p99_ms,
                measured.errors
            );
            if measured.errors > 0 {
                failed.push(target.name);
            }
        }
    }
    if !failed.is_empty() {
        bail!("non-2xx responses from {failed:?}");
    }
    Ok(())
}
