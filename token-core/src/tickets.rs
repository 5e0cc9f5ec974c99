//! The API's tickets resource, stored in the shared database.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::tickets;
use crate::db::{DbConnection, write_transaction};
use crate::error::Error;
use crate::time::now;

/// Allowed values of `status`.
pub const STATUSES: [&str; 3] = ["open", "in_progress", "closed"];
const MAX_SUMMARY_CHARS: usize = 200;
const MAX_DETAILS_CHARS: usize = 10_000;

/// A ticket as stored and as sent in JSON bodies.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Serialize, Deserialize)]
#[diesel(table_name = tickets)]
pub struct Ticket {
    pub id: String,
    pub summary: String,
    pub details: String,
    pub status: String,
    pub created_by: String,
    pub created: i64,
}

/// The body of `POST /api/tickets`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTicket {
    pub summary: String,
    #[serde(default)]
    pub details: String,
    pub status: Option<String>,
}

/// The body of `PATCH /api/tickets/{id}`; absent fields stay unchanged.
#[derive(Debug, Deserialize, AsChangeset)]
#[serde(deny_unknown_fields)]
#[diesel(table_name = tickets)]
pub struct TicketChanges {
    pub summary: Option<String>,
    pub details: Option<String>,
    pub status: Option<String>,
}

fn check_summary(summary: &str) -> Result<(), Error> {
    let length = summary.trim().chars().count();
    if length == 0 || length > MAX_SUMMARY_CHARS {
        return Err(Error::Invalid(format!(
            "summary must have 1 to {MAX_SUMMARY_CHARS} characters, got {length}"
        )));
    }
    Ok(())
}

fn check_details(details: &str) -> Result<(), Error> {
    let length = details.chars().count();
    if length > MAX_DETAILS_CHARS {
        return Err(Error::Invalid(format!(
            "details must have at most {MAX_DETAILS_CHARS} characters, got {length}"
        )));
    }
    Ok(())
}

fn check_status(status: &str) -> Result<(), Error> {
    if !STATUSES.contains(&status) {
        return Err(Error::Invalid(format!(
            "invalid status \"{status}\": expected one of {}",
            STATUSES.join(", ")
        )));
    }
    Ok(())
}

/// Stores a new ticket created by `subject`.
pub fn create(conn: &mut DbConnection, new: NewTicket, subject: &str) -> Result<Ticket, Error> {
    check_summary(&new.summary)?;
    check_details(&new.details)?;
    let status = new.status.unwrap_or_else(|| STATUSES[0].to_owned());
    check_status(&status)?;
    let ticket = Ticket {
        id: uuid::Uuid::new_v4().to_string(),
        summary: new.summary,
        details: new.details,
        status,
        created_by: subject.to_owned(),
        created: now(),
    };
    diesel::insert_into(tickets::table)
        .values((
            tickets::id.eq(&ticket.id),
            tickets::summary.eq(&ticket.summary),
            tickets::details.eq(&ticket.details),
            tickets::status.eq(&ticket.status),
            tickets::created_by.eq(&ticket.created_by),
            tickets::created.eq(ticket.created),
        ))
        .execute(conn)?;
    Ok(ticket)
}

/// Lists tickets oldest first.
pub fn list(conn: &mut DbConnection, limit: i64, offset: i64) -> Result<Vec<Ticket>, Error> {
    Ok(tickets::table
        .order((tickets::created.asc(), tickets::id.asc()))
        .limit(limit)
        .offset(offset)
        .load(conn)?)
}

pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<Ticket>, Error> {
    Ok(tickets::table.find(id).first(conn).optional()?)
}

/// Applies the given changes; returns the updated ticket, or `None` when
/// there is no ticket with this id.
pub fn update(
    conn: &mut DbConnection,
    id: &str,
    changes: TicketChanges,
) -> Result<Option<Ticket>, Error> {
    if let Some(summary) = &changes.summary {
        check_summary(summary)?;
    }
    if let Some(details) = &changes.details {
        check_details(details)?;
    }
    if let Some(status) = &changes.status {
        check_status(status)?;
    }
    write_transaction(conn, |conn| {
        let nothing_to_change =
            changes.summary.is_none() && changes.details.is_none() && changes.status.is_none();
        if !nothing_to_change {
            diesel::update(tickets::table.find(id))
                .set(&changes)
                .execute(conn)?;
        }
        find(conn, id)
    })
}

/// Deletes a ticket; returns whether it existed.
pub fn delete(conn: &mut DbConnection, id: &str) -> Result<bool, Error> {
    let deleted = diesel::delete(tickets::table.find(id)).execute(conn)?;
    Ok(deleted > 0)
}
