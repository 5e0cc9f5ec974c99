//! Rate limits of the token, introspection and revocation endpoints: per
//! source address before anything is read, and per client after it has
//! authenticated, so that no caller can use up another client's quota by
//! sending its id with a wrong secret.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use token_core::settings::RateLimitingSettings;

use crate::oauth_error::OAuthError;
use crate::state::AuthState;

/// How often idle keys are dropped, so that many addresses seen once do not
/// grow the tables without bound.
const SHRINK_INTERVAL: Duration = Duration::from_secs(60);

/// The limiters of one Auth instance; `None` when rate limiting is off.
pub struct RateLimits {
    limiters: Option<Limiters>,
    trust_forwarded_for: bool,
}

struct Limiters {
    per_client: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
}

impl RateLimits {
    pub fn new(settings: &RateLimitingSettings) -> Self {
        let limiters = settings.enabled.then(|| Limiters {
            per_client: RateLimiter::dashmap(quota(
                settings.per_client_per_second,
                settings.per_client_burst,
            )),
            per_address: RateLimiter::dashmap(quota(
                settings.per_address_per_second,
                settings.per_address_burst,
            )),
        });
        RateLimits {
            limiters,
            trust_forwarded_for: settings.trust_forwarded_for,
        }
    }

    /// Counts a request of an authenticated client.
    pub fn check_client(&self, client_id: &str) -> Result<(), OAuthError> {
        let Some(limiters) = &self.limiters else {
            return Ok(());
        };
        limiters
            .per_client
            .check_key(&client_id.to_owned())
            .map_err(|not_until| {
                tracing::info!(client.id = %client_id, "client rate limit reached");
                OAuthError::too_many_requests(
                    not_until.wait_time_from(DefaultClock::default().now()),
                )
            })
    }

    fn check_address(&self, address: IpAddr) -> Result<(), OAuthError> {
        let Some(limiters) = &self.limiters else {
            return Ok(());
        };
        limiters
            .per_address
            .check_key(&address)
            .map_err(|not_until| {
                tracing::info!(client.address = %address, "address rate limit reached");
                OAuthError::too_many_requests(
                    not_until.wait_time_from(DefaultClock::default().now()),
                )
            })
    }

    fn shrink(&self) {
        if let Some(limiters) = &self.limiters {
            limiters.per_client.retain_recent();
            limiters.per_address.retain_recent();
            limiters.per_client.shrink_to_fit();
            limiters.per_address.shrink_to_fit();
        }
    }

    /// Returns the address a request comes from.
    fn source_address(&self, request: &ServiceRequest) -> Option<IpAddr> {
        if self.trust_forwarded_for {
            let forwarded = request
                .headers()
                .get("x-forwarded-for")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.rsplit(',').next())
                .and_then(|last| last.trim().parse().ok());
            if forwarded.is_some() {
                return forwarded;
            }
        }
        request.peer_addr().map(|address| address.ip())
    }
}

fn quota(per_second: u32, burst: u32) -> Quota {
    let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(per_second).allow_burst(burst)
}

/// Middleware: rejects a request over its address's limit with 429 before
/// its body is read.
pub async fn limit_by_address(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = request.app_data::<web::Data<AuthState>>();
    let address = state.and_then(|state| state.rate_limits.source_address(&request));
    if let (Some(state), Some(address)) = (state, address) {
        state.rate_limits.check_address(address)?;
    }
    next.call(request).await
}

/// Starts the periodic clean-up of idle keys on the current actix runtime.
pub fn spawn_shrinking(state: web::Data<AuthState>) {
    actix_web::rt::spawn(async move {
        let mut ticker = actix_web::rt::time::interval(SHRINK_INTERVAL);
        loop {
            ticker.tick().await;
            state.rate_limits.shrink();
        }
    });
}
