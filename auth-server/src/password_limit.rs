//! Bounds how many password hashes run at once.
//!
//! argon2 is meant to take a whole core for tens of milliseconds. Without a
//! bound, a burst of logins starts one hash per blocking thread, and the
//! scheduler shares the cores among all of them. Token validation in this
//! process and in an API on the same host then waits behind the burst
//! (measured: median `/api/me` latency from 2 ms to 17 ms with 16
//! concurrent logins on 2 cores). Logins past the bound wait here, holding
//! no thread and no database connection.

use std::time::Duration;

use token_core::Error;
use tokio::sync::{Semaphore, SemaphorePermit};

pub struct PasswordLimit {
    permits: Semaphore,
    wait: Duration,
}

impl PasswordLimit {
    /// `concurrency` hashes at once; a login that waits longer than `wait`
    /// for its turn gets a 503.
    pub fn new(concurrency: usize, wait: Duration) -> Self {
        PasswordLimit {
            permits: Semaphore::new(concurrency),
            wait,
        }
    }

    /// Waits for a turn to hash a password.
    pub async fn acquire(&self) -> Result<SemaphorePermit<'_>, Error> {
        match tokio::time::timeout(self.wait, self.permits.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) | Err(_) => Err(Error::Unavailable(
                "too many logins at once; try again later".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_login_past_the_bound_waits_then_gives_up() {
        let limit = PasswordLimit::new(1, Duration::from_millis(50));
        let first = limit.acquire().await.expect("a free turn");
        assert!(matches!(limit.acquire().await, Err(Error::Unavailable(_))));
        drop(first);
        assert!(limit.acquire().await.is_ok());
    }
}
