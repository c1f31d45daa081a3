//! Test support (feature `test-support`): run one test body against every
//! backend.
//!
//! [`each_backend`] runs the body on a fresh in-memory SQLite store, then,
//! when [`chinwag_testkit::Backend::Postgres`] names a server (always with
//! `CI=true`), on PostgreSQL in a schema of its own that is dropped
//! afterwards. A PostgreSQL that cannot be reached fails the test.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};

use chinwag_testkit::Backend;
use sqlx::Executor as _;
use sqlx::postgres::PgPoolOptions;

use crate::store::Store;

/// A fresh in-memory SQLite store.
pub async fn sqlite_store() -> Store {
    Store::open("sqlite::memory:")
        .await
        .expect("open in-memory SQLite store")
}

/// A PostgreSQL store in a new schema, with a guard that drops the schema.
/// `None` when this run skips PostgreSQL; panics if it must run and the
/// server cannot be reached.
pub async fn postgres_store() -> Option<PgSchema> {
    let url = Backend::Postgres.url()?;
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let schema = format!(
        "t_{}_{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
        crate::id::now_ms()
    );
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url} is required but unreachable: {e}"));
    admin
        .execute(format!("CREATE SCHEMA {schema}").as_str())
        .await
        .expect("create test schema");
    let pool = schema_pool(&url, &schema).await;
    let store = Store::from_postgres_pool(pool, None)
        .await
        .expect("migrate test schema");
    Some(PgSchema {
        store,
        admin,
        schema,
        url,
    })
}

/// A pool whose connections use `schema`.
async fn schema_pool(url: &str, schema: &str) -> sqlx::PgPool {
    let set_path = format!("SET search_path TO {schema}");
    PgPoolOptions::new()
        .max_connections(4)
        .after_connect(move |conn, _meta| {
            let set_path = set_path.clone();
            Box::pin(async move {
                conn.execute(set_path.as_str()).await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .expect("connect test pool")
}

/// A PostgreSQL store living in its own schema.
#[derive(Debug)]
pub struct PgSchema {
    /// The store, whose connections use the schema.
    pub store: Store,
    admin: sqlx::PgPool,
    schema: String,
    url: String,
}

impl PgSchema {
    /// A URL whose connections use the schema (it passes `search_path` in
    /// the connection's `options`), for a server process to open.
    pub fn url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!(
            "{}{sep}options=-c%20search_path%3D{}",
            self.url, self.schema
        )
    }

    /// Another store on the same schema, as a second node would open it.
    pub async fn open_another(&self) -> Store {
        let pool = schema_pool(&self.url, &self.schema).await;
        Store::from_postgres_pool(pool, None)
            .await
            .expect("open a second store")
    }

    /// Closes the store and drops the schema.
    pub async fn drop_schema(self) {
        self.store.close().await;
        self.admin
            .execute(format!("DROP SCHEMA {} CASCADE", self.schema).as_str())
            .await
            .expect("drop test schema");
        self.admin.close().await;
    }
}

/// An SQLite database file in a fresh temporary directory, removed when
/// dropped.
#[derive(Debug)]
pub struct SqliteFile {
    /// The store: one writer, `query_only` readers (a write sent to a
    /// reader fails).
    pub store: Store,
    path: std::path::PathBuf,
}

impl SqliteFile {
    /// Opens a store on a new database file.
    pub async fn new() -> Self {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "chinwag-store-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create test directory");
        let path = dir.join("chinwag.sqlite");
        let store = Store::open(path.to_str().expect("UTF-8 temp path"))
            .await
            .expect("open SQLite file store");
        Self { store, path }
    }

    /// The database file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for SqliteFile {
    fn drop(&mut self) {
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Runs `test` on SQLite in memory and in a file, then on PostgreSQL when
/// this run uses it. The PostgreSQL schema is dropped after the body
/// returns (a failing body panics first and leaves it for inspection).
pub async fn each_backend<F, Fut>(test: F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    test(sqlite_store().await).await;
    let file = SqliteFile::new().await;
    test(file.store.clone()).await;
    file.store.close().await;
    if let Some(pg) = postgres_store().await {
        test(pg.store.clone()).await;
        pg.drop_schema().await;
    }
}

/// Runs `test` with two stores on one database, as two nodes see it: an
/// in-memory SQLite database shared by name, then PostgreSQL when this run
/// uses it.
pub async fn each_backend_pair<F, Fut>(test: F)
where
    F: Fn(Store, Store) -> Fut,
    Fut: Future<Output = ()>,
{
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let url = format!(
        "sqlite:file:pair_{}_{}?mode=memory&cache=shared",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let open = || async { Store::open(&url).await.expect("open shared SQLite store") };
    test(open().await, open().await).await;
    if let Some(pg) = postgres_store().await {
        test(pg.store.clone(), pg.open_another().await).await;
        pg.drop_schema().await;
    }
}

/// Creates a user named `username` (display name the same, no password).
pub async fn user(store: &Store, username: &str) -> chinwag_protocol::model::User {
    store
        .create_user(crate::NewUser {
            username: username.to_owned(),
            display_name: username.to_owned(),
            password_hash: None,
            bot: false,
        })
        .await
        .expect("create test user")
}

/// Creates a community owned by `owner` (@everyone bits `0b1`, Admin all bits).
pub async fn community(store: &Store, owner: chinwag_protocol::Id) -> crate::CreatedCommunity {
    store
        .create_community(crate::NewCommunity {
            owner_id: owner,
            name: "test community".to_owned(),
            description: None,
            icon_url: None,
            everyone_permissions: 0b1,
            admin_permissions: u64::MAX,
        })
        .await
        .expect("create test community")
}

/// Creates a public text channel named `name`.
pub async fn text_channel(
    store: &Store,
    community_id: chinwag_protocol::Id,
    name: &str,
) -> chinwag_protocol::model::Channel {
    store
        .create_channel(crate::NewChannel {
            community_id,
            kind: chinwag_protocol::model::ChannelKind::Text,
            name: name.to_owned(),
            topic: None,
            private: false,
        })
        .await
        .expect("create test channel")
}

/// Posts a top-level message with no mentions.
pub async fn post(
    store: &Store,
    channel_id: chinwag_protocol::Id,
    author_id: chinwag_protocol::Id,
    content: &str,
) -> chinwag_protocol::model::Message {
    store
        .create_message(crate::NewMessage {
            channel_id,
            author_id,
            content: content.to_owned(),
            mention_ids: Vec::new(),
            thread_parent_id: None,
            nonce: None,
        })
        .await
        .expect("post test message")
        .message
}
