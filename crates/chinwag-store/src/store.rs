//! [`Store`]: one handle over either backend, and how to open it.
//!
//! The SQL is written once, with `$n` placeholders that both SQLite and
//! PostgreSQL accept. A private `with_pool!` macro expands a body
//! once per backend, so each body is compiled against the concrete pool type
//! (no `dyn`, no `Any` driver) while being written only once.

use std::sync::Arc;
use std::time::Duration;

use chinwag_protocol::Id;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::{Connection as _, Pool, Postgres, Sqlite, Transaction};

use crate::error::Result;
use crate::id::{IdGenerator, MAX_NODE_ID};
use crate::sqlite::{CheckpointTask, SqliteDb, Writer};

pub(crate) static SQLITE_MIGRATIONS: sqlx::migrate::Migrator =
    sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// Embedded SQLite (a file, or in memory).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// How to open a [`Store`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// This node's id for the snowflake generator (0..=1023). Nodes sharing
    /// one PostgreSQL database need distinct ids. Default `None`: on
    /// PostgreSQL the next one from the database (see
    /// [`Store::from_postgres_pool`]), on SQLite 0.
    pub node_id: Option<u16>,
    /// Pool size. Default 8. On an SQLite file, the readers; writes go
    /// through one more connection (see `sqlite.rs`). In memory, always 1:
    /// the database lives in its single connection.
    pub max_connections: u32,
    /// How long a write waits for a locked SQLite database. Default 5 s.
    pub busy_timeout: Duration,
    /// How long getting a connection (including connecting) may take
    /// before an operation fails. Default 30 s.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            node_id: None,
            max_connections: 8,
            busy_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Db {
    Sqlite(SqliteDb),
    Postgres(PgPool),
}

/// The persistence handle: cheap to clone, shared by every service.
///
/// All methods live in the area modules ([`accounts`](crate::accounts),
/// [`messages`](crate::messages), ...), each an `impl Store` block.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) db: Db,
    pub(crate) ids: Arc<IdGenerator>,
    /// On SQLite, a message write takes its id and inserts under the lock
    /// of its channel's stripe, so within a channel ids follow commit
    /// order. Striped: only channels sharing a stripe wait for each other
    /// here; every write then takes its turn at the writer connection.
    pub(crate) message_locks: Arc<[tokio::sync::Mutex<()>]>,
    /// The background WAL checkpoints of a file SQLite database.
    checkpoints: Option<Arc<CheckpointTask>>,
}

/// How many locks SQLite message writes are spread over, by channel (a
/// power of two).
const MESSAGE_LOCKS: usize = 64;

/// The message lock stripe of a channel. Snowflake ids end in a
/// per-millisecond sequence that is usually 0, so their low bits would put
/// nearly every channel on one stripe: all the bits are mixed (Fibonacci
/// hashing) and the top ones taken.
fn message_stripe(channel: Id) -> usize {
    let mixed = (channel.0 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> (64 - MESSAGE_LOCKS.trailing_zeros())) as usize
}

fn message_locks() -> Arc<[tokio::sync::Mutex<()>]> {
    (0..MESSAGE_LOCKS)
        .map(|_| tokio::sync::Mutex::new(()))
        .collect()
}

impl Store {
    /// Opens a store and runs its migrations.
    ///
    /// - `postgres://…` or `postgresql://…`: PostgreSQL;
    /// - `sqlite::memory:`: a private in-memory SQLite database;
    /// - `sqlite://path`, `sqlite:path` or a plain path: an SQLite file,
    ///   created if missing, in WAL mode with foreign keys on, written
    ///   through one connection and read through a pool, with WAL
    ///   checkpoints in a background task.
    pub async fn open(url_or_path: &str) -> Result<Self> {
        Self::open_with(url_or_path, StoreOptions::default()).await
    }

    /// [`Store::open`] with explicit options.
    pub async fn open_with(url_or_path: &str, options: StoreOptions) -> Result<Self> {
        if url_or_path.starts_with("postgres://") || url_or_path.starts_with("postgresql://") {
            // No ping before each acquire: it is a round trip per query
            // (seen in a profile of the chat bench). A connection that has
            // died fails its query and sqlx drops it from the pool.
            let connect: PgConnectOptions = url_or_path.parse()?;
            // One connection first: a refused or failing one ends the open
            // at once with its cause, where the pool would retry it until
            // the acquire timeout and then report only that it timed out.
            let first = tokio::time::timeout(
                options.acquire_timeout,
                PgConnection::connect_with(&connect),
            )
            .await
            .map_err(|_| {
                sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "no answer from PostgreSQL within {:?}",
                        options.acquire_timeout
                    ),
                ))
            })??;
            first.close().await?;
            let pool = PgPoolOptions::new()
                .test_before_acquire(false)
                .max_connections(options.max_connections.max(1))
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await?;
            return Self::from_postgres_pool(pool, options.node_id).await;
        }
        let (db, checkpoints) = crate::sqlite::open(url_or_path, &options).await?;
        Ok(Self {
            db: Db::Sqlite(db),
            ids: Arc::new(IdGenerator::new(options.node_id.unwrap_or(0))),
            message_locks: message_locks(),
            checkpoints: checkpoints.map(Arc::new),
        })
    }

    /// Wraps an SQLite pool the caller built (it must enable foreign keys)
    /// and runs the migrations. Reads and writes share the pool, and SQLite
    /// checkpoints the WAL itself.
    pub async fn from_sqlite_pool(pool: SqlitePool, node_id: u16) -> Result<Self> {
        SQLITE_MIGRATIONS.run(&pool).await?;
        Ok(Self {
            db: Db::Sqlite(SqliteDb {
                read: pool.clone(),
                write: Writer::Shared(pool),
            }),
            ids: Arc::new(IdGenerator::new(node_id)),
            message_locks: message_locks(),
            checkpoints: None,
        })
    }

    /// Wraps a PostgreSQL pool the caller built (for example one whose
    /// connections set a `search_path`) and runs the migrations.
    ///
    /// Without a `node_id`, the store takes the next value of the
    /// database's `node_ids` sequence, modulo 1024: every node sharing the
    /// database gets its own snowflake node id, with no configuration, as
    /// long as fewer than 1024 stores open while one is still running.
    pub async fn from_postgres_pool(pool: PgPool, node_id: Option<u16>) -> Result<Self> {
        POSTGRES_MIGRATIONS.run(&pool).await?;
        let node_id = match node_id {
            Some(id) => id,
            None => {
                let next: i64 = sqlx::query_scalar("SELECT nextval('node_ids')")
                    .fetch_one(&pool)
                    .await?;
                (next.rem_euclid(i64::from(MAX_NODE_ID) + 1)) as u16
            }
        };
        Ok(Self {
            db: Db::Postgres(pool),
            ids: Arc::new(IdGenerator::new(node_id)),
            message_locks: message_locks(),
            checkpoints: None,
        })
    }

    /// Checks the database answers (`SELECT 1` on a pooled connection),
    /// for readiness.
    pub async fn ping(&self) -> Result<()> {
        with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop)?);
        Ok(())
    }

    /// Which backend this store runs on.
    pub fn backend(&self) -> BackendKind {
        match self.db {
            Db::Sqlite(_) => BackendKind::Sqlite,
            Db::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// `FOR UPDATE` on PostgreSQL, where write transactions run
    /// concurrently; nothing on SQLite, which runs one at a time.
    pub(crate) fn row_lock(&self) -> &'static str {
        match self.backend() {
            BackendKind::Postgres => " FOR UPDATE",
            BackendKind::Sqlite => "",
        }
    }

    /// The lock a capped create takes on the row that owns the count (a
    /// community, a user): `FOR NO KEY UPDATE` on PostgreSQL, so creates
    /// against one owner queue while inserts that only reference the row
    /// (a message by that user, say) do not wait; nothing on SQLite.
    pub(crate) fn cap_lock(&self) -> &'static str {
        match self.backend() {
            BackendKind::Postgres => " FOR NO KEY UPDATE",
            BackendKind::Sqlite => "",
        }
    }

    /// On SQLite, the lock a message write to `channel` holds from taking
    /// its id to committing; `None` on PostgreSQL, whose nodes take ids
    /// independently anyway.
    pub(crate) async fn message_turn(
        &self,
        channel: Id,
    ) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.db {
            Db::Sqlite(_) => Some(self.message_locks[message_stripe(channel)].lock().await),
            Db::Postgres(_) => None,
        }
    }

    /// The snowflake node id this store's ids carry.
    pub fn node_id(&self) -> u16 {
        self.ids.node()
    }

    /// A fresh id from this store's generator.
    pub fn next_id(&self) -> Id {
        self.ids.next_id()
    }

    /// Closes every pooled connection; later calls fail.
    pub async fn close(&self) {
        if let Some(task) = &self.checkpoints {
            task.stop();
        }
        match &self.db {
            Db::Sqlite(db) => crate::sqlite::close(db).await,
            Db::Postgres(p) => p.close().await,
        }
    }
}

/// Runs `$body`, which only reads, with `$pool` bound to the concrete pool
/// of `$store`'s backend. The body is expanded once per backend.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.db {
            $crate::store::Db::Sqlite(db) => {
                let $pool = &db.read;
                $body
            }
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// [`with_pool!`] for a body that writes. On an SQLite file, `$pool` is
/// the writer connection, held for the whole body (see `sqlite.rs`), so
/// the body uses it once: for one statement, or to begin a transaction.
/// A slow hold is logged with the macro's call site.
macro_rules! with_writer {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.db {
            $crate::store::Db::Sqlite(db) => match &db.write {
                $crate::sqlite::Writer::Shared($pool) => $body,
                $crate::sqlite::Writer::Own(writer) => {
                    let holder = concat!(file!(), ":", line!());
                    let mut turn = $crate::sqlite::WriterTurn::take(writer, holder).await;
                    let $pool = turn.conn()?;
                    $body
                }
            },
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_writer;

/// Inside a write transaction `$tx`: locks the owner row `$lock` selects
/// (binding `$key` as `$1`, see [`Store::cap_lock`]), then fails with
/// [`StoreError::Limit`](crate::StoreError::Limit) and `$message` when the
/// `COUNT(*)` of `$count` (binding `$key`, then any `$extra`) already
/// reaches `$max`. Counting under the lock, in the transaction that
/// creates, keeps concurrent creates on any node from passing a cap
/// together.
macro_rules! room_for_one_more {
    ($store:expr, $tx:expr, $lock:expr, $key:expr, $count:expr $(, $extra:expr)*; $max:expr, $message:expr) => {{
        let lock = format!("{}{}", $lock, $store.cap_lock());
        sqlx::query(&lock).bind($key).fetch_optional(&mut *$tx).await?;
        let (held,): (i64,) = sqlx::query_as($count)
            .bind($key)
            $(.bind($extra))*
            .fetch_one(&mut *$tx)
            .await?;
        if held >= $max as i64 {
            return Err($crate::StoreError::Limit($message));
        }
    }};
}
pub(crate) use room_for_one_more;

/// Starting a write transaction the way each backend wants it.
pub(crate) trait BeginWrite<'c> {
    /// The executor's database.
    type Database: sqlx::Database;
    /// Begins a transaction that will write. On SQLite it takes the write
    /// lock up front (`BEGIN IMMEDIATE`), so it waits on `busy_timeout`
    /// instead of failing when it later upgrades a read lock.
    async fn begin_write(self) -> sqlx::Result<Transaction<'c, Self::Database>>;
}

impl<'c> BeginWrite<'c> for &'c Pool<Sqlite> {
    type Database = Sqlite;
    async fn begin_write(self) -> sqlx::Result<Transaction<'c, Sqlite>> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl<'c> BeginWrite<'c> for &'c mut SqliteConnection {
    type Database = Sqlite;
    async fn begin_write(self) -> sqlx::Result<Transaction<'c, Sqlite>> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl<'c> BeginWrite<'c> for &'c Pool<Postgres> {
    type Database = Postgres;
    async fn begin_write(self) -> sqlx::Result<Transaction<'c, Postgres>> {
        self.begin().await
    }
}

/// `$1, $2, …` placeholders for `count` values starting at `$first`.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks a page size.
pub(crate) fn check_limit(limit: u32) -> Result<i64> {
    if (1..=100).contains(&limit) {
        Ok(i64::from(limit))
    } else {
        Err(crate::StoreError::invalid("limit must be within 1..=100"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_made_in_different_milliseconds_spread_over_the_stripes() {
        // Ids as the generator makes them one per millisecond: sequence 0.
        let stripes: std::collections::HashSet<usize> = (0..1000_i64)
            .map(|ms| message_stripe(Id((1_000_000 + ms) << 22)))
            .collect();
        assert!(
            stripes.len() > MESSAGE_LOCKS / 2,
            "{} stripes",
            stripes.len()
        );
        assert!(stripes.iter().all(|s| *s < MESSAGE_LOCKS));
    }
}
