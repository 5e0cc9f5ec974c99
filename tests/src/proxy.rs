//! A TCP proxy between the services and PostgreSQL that a test can cut and
//! restore, to simulate a database outage without touching the server.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

#[derive(Default)]
struct State {
    up: bool,
    connections: Vec<AbortHandle>,
}

/// Forwards every connection to `target` while up; when cut, closes the
/// open connections and closes new ones at once.
pub struct TcpProxy {
    pub address: SocketAddr,
    state: Arc<Mutex<State>>,
    accept_loop: AbortHandle,
}

impl TcpProxy {
    pub async fn start(target: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let address = listener.local_addr().expect("proxy address");
        let state = Arc::new(Mutex::new(State {
            up: true,
            connections: Vec::new(),
        }));
        let shared = state.clone();
        let accept_loop = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut state = shared.lock().expect("proxy state");
                if !state.up {
                    drop(inbound);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                state.connections.retain(|handle| !handle.is_finished());
                state.connections.push(task.abort_handle());
            }
        })
        .abort_handle();
        TcpProxy {
            address,
            state,
            accept_loop,
        }
    }

    /// Closes every open connection and refuses service until [`restore`].
    ///
    /// [`restore`]: TcpProxy::restore
    pub fn cut(&self) {
        let mut state = self.state.lock().expect("proxy state");
        state.up = false;
        for connection in state.connections.drain(..) {
            connection.abort();
        }
    }

    pub fn restore(&self) {
        self.state.lock().expect("proxy state").up = true;
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept_loop.abort();
        self.cut();
    }
}
