//! One running server process.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a server may take from spawn to its "Now listening" line,
/// including migrations and, for Auth, generating the signing key.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A server process, killed when dropped.
#[derive(Debug)]
pub struct Server {
    pub name: String,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub log_path: PathBuf,
    child: Child,
}

impl Server {
    /// Starts `binary --config SETTINGS serve` with only the given
    /// environment, and waits until it prints the address it listens on.
    pub async fn start(
        name: &str,
        binary: &Path,
        settings: &Path,
        env: &[(String, String)],
        log_dir: &Path,
    ) -> Server {
        let log_path = log_dir.join(format!("{name}.log"));
        // Appending keeps the lines of an earlier process of the same name.
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("cannot open the server log file");
        let mut command = Command::new(binary);
        command
            .arg("--config")
            .arg(settings)
            .arg("serve")
            .env_clear()
            .env("RUST_LOG", "debug")
            .envs(
                env.iter()
                    .map(|(key, value)| (key.as_str(), value.as_str())),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary.display()));

        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let wait_for_address = async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(address) = line.strip_prefix("Now listening on: ") {
                    return Some(address.to_owned());
                }
            }
            None
        };
        let url = match tokio::time::timeout(START_TIMEOUT, wait_for_address).await {
            Ok(Some(url)) => url,
            Ok(None) => panic!(
                "{name} exited before listening; its log:\n{}",
                read_log(&log_path)
            ),
            Err(_) => panic!(
                "{name} did not listen within {START_TIMEOUT:?}; its log:\n{}",
                read_log(&log_path)
            ),
        };
        // Keep reading so that the process never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let server = Server {
            name: name.to_owned(),
            url,
            log_path,
            child,
        };
        server.wait_ready().await;
        server
    }

    /// Polls `/health/ready` until it returns 200.
    pub async fn wait_ready(&self) {
        let client = crate::stack::http_client();
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            let response = client
                .get(format!("{}/health/ready", self.url))
                .send()
                .await;
            if response.is_ok_and(|response| response.status().is_success()) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} never became ready; its log:\n{}",
                self.name,
                read_log(&self.log_path)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn log(&self) -> String {
        read_log(&self.log_path)
    }

    /// Sends SIGTERM, as a service manager does to stop the server.
    pub fn terminate(&self) {
        let pid = self.child.id().expect("the server is running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {pid} failed");
    }

    /// Waits for the process to exit on its own.
    pub async fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} did not exit within {timeout:?}", self.name))
            .expect("wait for the server")
    }

    /// Stops the process and waits for it to exit.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| format!("(no log: {error})"))
}
