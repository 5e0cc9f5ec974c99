//! The access token format the Auth servers issue, recorded in the shared
//! database so that API instances can tell when their own
//! `UseReferenceTokens` differs.

use diesel::prelude::*;

use crate::db::schema::service_state;
use crate::db::{DbConnection, write_transaction};
use crate::error::Error;
use crate::time::now;
use crate::tokens::TokenFormat;

const ACCESS_TOKEN_FORMAT: &str = "access_token_format";

/// The format an Auth server recorded, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedFormat {
    pub format: String,
    pub updated: i64,
}

/// Records the format this Auth server issues. With several Auth instances
/// the last one started wins, which is what a rolling switch needs.
pub fn record_issued_format(conn: &mut DbConnection, format: TokenFormat) -> Result<(), Error> {
    write_transaction(conn, |conn| {
        let now = now();
        let updated = diesel::update(service_state::table.find(ACCESS_TOKEN_FORMAT))
            .set((
                service_state::value.eq(format.as_str()),
                service_state::updated.eq(now),
            ))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(service_state::table)
                .values((
                    service_state::name.eq(ACCESS_TOKEN_FORMAT),
                    service_state::value.eq(format.as_str()),
                    service_state::updated.eq(now),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Reads the recorded format; `None` until an Auth server has started.
pub fn recorded_format(conn: &mut DbConnection) -> Result<Option<RecordedFormat>, Error> {
    let row = service_state::table
        .find(ACCESS_TOKEN_FORMAT)
        .select((service_state::value, service_state::updated))
        .first::<(String, i64)>(conn)
        .optional()?;
    Ok(row.map(|(format, updated)| RecordedFormat { format, updated }))
}
