//! Resource owners who log in with the password grant.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::users;
use crate::error::Error;
use crate::events::{self, Invalidation};
use crate::password;
use crate::secret::Secret;
use crate::time::now;

/// A registered user, without the password hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub enabled: bool,
}

/// Registers a user with an argon2id hash of the password.
pub fn add(conn: &mut DbConnection, username: &str, password: &Secret) -> Result<User, Error> {
    if username.is_empty()
        || username.chars().count() > 256
        || username.chars().any(char::is_control)
    {
        return Err(Error::Invalid(format!(
            "invalid username \"{}\": use 1 to 256 characters without control characters",
            username.escape_debug()
        )));
    }
    if password.expose().is_empty() {
        return Err(Error::Invalid("the password must not be empty".into()));
    }

    // Hash before taking the write lock: argon2 is slow on purpose.
    let password_hash = password::hash_password(password.expose())?;
    let user = User {
        id: uuid::Uuid::new_v4().to_string(),
        username: username.to_owned(),
        enabled: true,
    };
    crate::db::write_transaction(conn, |conn| {
        let exists = users::table
            .filter(users::username.eq(username))
            .select(users::id)
            .first::<String>(conn)
            .optional()?
            .is_some();
        if exists {
            return Err(Error::Conflict(format!("user \"{username}\"")));
        }
        diesel::insert_into(users::table)
            .values((
                users::id.eq(&user.id),
                users::username.eq(&user.username),
                users::password_hash.eq(&password_hash),
                users::enabled.eq(true),
                users::created.eq(now()),
            ))
            .execute(conn)?;
        Ok(())
    })?;
    Ok(user)
}

/// A user's stored credentials, read before the slow password check so
/// that no database connection is held while argon2 runs.
#[derive(Debug)]
pub struct StoredLogin {
    user: User,
    password_hash: String,
}

/// Reads the credentials of a user by username.
pub fn find_login(conn: &mut DbConnection, username: &str) -> Result<Option<StoredLogin>, Error> {
    let row = users::table
        .filter(users::username.eq(username))
        .select((
            users::id,
            users::username,
            users::password_hash,
            users::enabled,
        ))
        .first::<(String, String, String, bool)>(conn)
        .optional()?;
    Ok(
        row.map(|(id, username, password_hash, enabled)| StoredLogin {
            user: User {
                id,
                username,
                enabled,
            },
            password_hash,
        }),
    )
}

/// Returns the user when the password matches and the account is enabled.
///
/// An unknown username is checked against a dummy hash, so that it takes as
/// long as a wrong password. Runs argon2: call it on a blocking thread.
pub fn verify_login(stored: Option<StoredLogin>, password: &Secret) -> Option<User> {
    let Some(stored) = stored else {
        password::verify_against_dummy(password.expose());
        return None;
    };
    let matches = password::verify_password(password.expose(), &stored.password_hash);
    (matches && stored.user.enabled).then_some(stored.user)
}

/// Finds a user by username.
pub fn find_by_username(conn: &mut DbConnection, username: &str) -> Result<Option<User>, Error> {
    let row = users::table
        .filter(users::username.eq(username))
        .select((users::id, users::username, users::enabled))
        .first::<(String, String, bool)>(conn)
        .optional()?;
    Ok(row.map(|(id, username, enabled)| User {
        id,
        username,
        enabled,
    }))
}

/// Lists all users by username.
pub fn list(conn: &mut DbConnection) -> Result<Vec<User>, Error> {
    let rows: Vec<(String, String, bool)> = users::table
        .select((users::id, users::username, users::enabled))
        .order(users::username.asc())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, username, enabled)| User {
            id,
            username,
            enabled,
        })
        .collect())
}

/// Enables or disables a user. A disabled user's reference tokens and
/// refresh tokens stop working at once, and password logins fail.
pub fn set_enabled(conn: &mut DbConnection, username: &str, enabled: bool) -> Result<User, Error> {
    crate::db::write_transaction(conn, |conn| {
        diesel::update(users::table.filter(users::username.eq(username)))
            .set(users::enabled.eq(enabled))
            .execute(conn)?;
        let user = find_by_username(conn, username)?
            .ok_or_else(|| Error::NotFound(format!("user \"{username}\"")))?;
        if !enabled {
            events::notify(conn, &Invalidation::User(user.id.clone()))?;
        }
        Ok(user)
    })
}
