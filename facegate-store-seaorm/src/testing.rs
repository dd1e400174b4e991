//! Test support: a fresh, migrated store per test.
//!
//! With `FACEGATE_TEST_DATABASE_URL` set to a PostgreSQL URL, each call creates
//! a new database on that server (so tests run in parallel without sharing
//! rows); otherwise it is an in-memory SQLite database.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{ConnectionTrait, Database, DatabaseBackend, Statement};

use crate::SeaOrmStore;

/// The environment variable naming the PostgreSQL server for tests.
pub const DATABASE_URL_VAR: &str = "FACEGATE_TEST_DATABASE_URL";

pub async fn test_store() -> SeaOrmStore {
    match std::env::var(DATABASE_URL_VAR) {
        Ok(url) if !url.is_empty() => fresh_postgres_database(&url).await,
        _ => SeaOrmStore::connect("sqlite::memory:")
            .await
            .expect("in-memory SQLite store"),
    }
}

/// Which backend [`test_store`] uses, for test output.
pub fn backend_name() -> &'static str {
    match std::env::var(DATABASE_URL_VAR) {
        Ok(url) if !url.is_empty() => "postgres",
        _ => "sqlite",
    }
}

async fn fresh_postgres_database(server_url: &str) -> SeaOrmStore {
    SeaOrmStore::connect(&fresh_postgres_url(server_url).await)
        .await
        .expect("connect to the fresh test database")
}

/// For tests that need several processes or instances on one database
/// (SQLite is one process): a fresh database on the PostgreSQL server that
/// `FACEGATE_TEST_DATABASE_URL` names, or `None` (the test says it skipped)
/// when it names none.
pub async fn postgres_for_instances() -> Option<String> {
    match std::env::var(DATABASE_URL_VAR) {
        Ok(url) if url.starts_with("postgres") => Some(fresh_postgres_url(&url).await),
        _ => {
            println!("skipped: set {DATABASE_URL_VAR} to a PostgreSQL server");
            None
        }
    }
}

/// Creates an empty database on the PostgreSQL server at `server_url` and
/// returns its URL (for tests that start their own processes on it).
pub async fn fresh_postgres_url(server_url: &str) -> String {
    let name = format!("facegate_test_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(server_url)
        .await
        .unwrap_or_else(|err| panic!("{DATABASE_URL_VAR}={server_url}: cannot connect: {err}"));
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    admin.close().await.ok();
    replace_database(server_url, &name)
}

/// `postgres://u:p@host:5432/db?x=y` with `db` replaced by `name`.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |at| at + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

/// Every row of every table, each as one line of text (SQLite's `quote()`
/// of each column, PostgreSQL's `row_to_json`), by table: what tests scan
/// for ids that must be gone or must not have changed. Binary columns are
/// hex, so an id stored as text is found by a substring search.
pub async fn snapshot(store: &SeaOrmStore) -> BTreeMap<String, BTreeSet<String>> {
    let db = store.connection();
    let backend = db.get_database_backend();
    let list = match backend {
        DatabaseBackend::Postgres => {
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    };
    let mut tables = BTreeMap::new();
    for table in query_texts(store, list).await {
        let rows = match backend {
            DatabaseBackend::Postgres => format!("SELECT row_to_json(t)::text FROM \"{table}\" t"),
            _ => {
                let columns = query_texts(
                    store,
                    &format!("SELECT name FROM pragma_table_info('{table}')"),
                )
                .await;
                let quoted: Vec<String> = columns
                    .iter()
                    .map(|column| format!("quote(\"{column}\")"))
                    .collect();
                format!("SELECT {} FROM \"{table}\"", quoted.join(" || ',' || "))
            }
        };
        let rows = query_texts(store, &rows).await.into_iter().collect();
        tables.insert(table, rows);
    }
    tables
}

async fn query_texts(store: &SeaOrmStore, sql: &str) -> Vec<String> {
    let db = store.connection();
    let statement = Statement::from_string(db.get_database_backend(), sql);
    db.query_all_raw(statement)
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"))
        .iter()
        .map(|row| {
            row.try_get_by_index::<Option<String>>(0)
                .unwrap_or_else(|err| panic!("{sql}: {err}"))
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            super::replace_database(
                "postgres://u:p@localhost:5432/postgres?sslmode=disable",
                "t1"
            ),
            "postgres://u:p@localhost:5432/t1?sslmode=disable"
        );
        assert_eq!(
            super::replace_database("postgres://localhost", "t1"),
            "postgres://localhost/t1"
        );
    }
}
