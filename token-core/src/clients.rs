//! OAuth clients: registration and authentication.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::clients;
use crate::error::Error;
use crate::events::{self, Invalidation};
use crate::scope;
use crate::secret::{Secret, hashes_equal, sha256_hex};
use crate::time::now;

/// Grant types this server implements.
pub const SUPPORTED_GRANT_TYPES: [&str; 3] = ["client_credentials", "password", "refresh_token"];

/// Client secrets are stored as SHA-256, which only resists guessing when the
/// secret itself is long and random.
pub const MIN_SECRET_LENGTH: usize = 16;

#[derive(Debug, Clone, Queryable)]
#[diesel(table_name = clients)]
struct ClientRow {
    id: String,
    secret_hash: String,
    grant_types: String,
    scopes: String,
    enabled: bool,
    #[allow(dead_code)]
    created: i64,
}

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Client {
    pub id: String,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub enabled: bool,
}

impl Client {
    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|allowed| allowed == grant_type)
    }
}

impl From<ClientRow> for Client {
    fn from(row: ClientRow) -> Self {
        Client {
            id: row.id,
            grant_types: scope::split(&row.grant_types),
            scopes: scope::split(&row.scopes),
            enabled: row.enabled,
        }
    }
}

/// Registers a client; fails if the id is taken.
pub fn add(
    conn: &mut DbConnection,
    id: &str,
    secret: &Secret,
    grant_types: &[String],
    scopes: &[String],
) -> Result<Client, Error> {
    validate_client_id(id)?;
    if secret.expose().chars().count() < MIN_SECRET_LENGTH {
        return Err(Error::Invalid(format!(
            "the client secret must be at least {MIN_SECRET_LENGTH} characters long, \
             because it is stored as a fast SHA-256 hash"
        )));
    }
    if grant_types.is_empty() {
        return Err(Error::Invalid(format!(
            "at least one grant type is required; supported: {}",
            SUPPORTED_GRANT_TYPES.join(", ")
        )));
    }
    for grant_type in grant_types {
        if !SUPPORTED_GRANT_TYPES.contains(&grant_type.as_str()) {
            return Err(Error::Invalid(format!(
                "unsupported grant type \"{grant_type}\"; supported: {}",
                SUPPORTED_GRANT_TYPES.join(", ")
            )));
        }
    }
    for name in scopes {
        if !scope::is_valid_token(name) {
            return Err(Error::Invalid(format!(
                "invalid scope \"{name}\": a scope is printable ASCII without spaces, \
                 double quotes or backslashes"
            )));
        }
    }

    let row = (
        clients::id.eq(id),
        clients::secret_hash.eq(sha256_hex(secret.expose())),
        clients::grant_types.eq(grant_types.join(" ")),
        clients::scopes.eq(scopes.join(" ")),
        clients::enabled.eq(true),
        clients::created.eq(now()),
    );
    crate::db::write_transaction(conn, |conn| {
        let exists = clients::table
            .find(id)
            .select(clients::id)
            .first::<String>(conn)
            .optional()?
            .is_some();
        if exists {
            return Err(Error::Conflict(format!("client \"{id}\"")));
        }
        diesel::insert_into(clients::table)
            .values(row)
            .execute(conn)?;
        Ok(())
    })?;

    Ok(Client {
        id: id.to_owned(),
        grant_types: grant_types.to_vec(),
        scopes: scopes.to_vec(),
        enabled: true,
    })
}

/// Finds a client by id, enabled or not.
pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<Client>, Error> {
    let row = clients::table
        .find(id)
        .first::<ClientRow>(conn)
        .optional()?;
    Ok(row.map(Client::from))
}

/// Lists all clients by id.
pub fn list(conn: &mut DbConnection) -> Result<Vec<Client>, Error> {
    let rows: Vec<ClientRow> = clients::table.order(clients::id.asc()).load(conn)?;
    Ok(rows.into_iter().map(Client::from).collect())
}

/// Enables or disables a client. A disabled client cannot authenticate, and
/// the reference tokens and refresh tokens issued to it stop working at once.
pub fn set_enabled(conn: &mut DbConnection, id: &str, enabled: bool) -> Result<Client, Error> {
    crate::db::write_transaction(conn, |conn| {
        diesel::update(clients::table.find(id))
            .set(clients::enabled.eq(enabled))
            .execute(conn)?;
        let client = find(conn, id)?.ok_or_else(|| Error::NotFound(format!("client \"{id}\"")))?;
        if !enabled {
            events::notify(conn, &Invalidation::Client(client.id.clone()))?;
        }
        Ok(client)
    })
}

/// Returns the client when the secret matches and the client is enabled.
///
/// Unknown client, wrong secret and disabled client all return `None`, so a
/// caller cannot tell which one happened.
pub fn authenticate(
    conn: &mut DbConnection,
    id: &str,
    secret: &Secret,
) -> Result<Option<Client>, Error> {
    let presented = sha256_hex(secret.expose());
    // On the backend's own connection, so the statement is cached: this
    // runs for every introspection and revocation call.
    let row = crate::on_backend!(conn, inner => clients::table
        .find(id)
        .get_result::<ClientRow>(inner)
        .optional())?;
    let Some(row) = row else {
        return Ok(None);
    };
    if !hashes_equal(&presented, &row.secret_hash) || !row.enabled {
        return Ok(None);
    }
    Ok(Some(Client::from(row)))
}

/// Client ids travel in HTTP Basic credentials and log fields, so they are
/// limited to unreserved URL characters.
fn validate_client_id(id: &str) -> Result<(), Error> {
    let valid_chars = id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'));
    if id.is_empty() || id.len() > 128 || !valid_chars {
        return Err(Error::Invalid(format!(
            "invalid client id \"{id}\": use 1 to 128 letters, digits, '-', '.', '_' or '~'"
        )));
    }
    Ok(())
}
