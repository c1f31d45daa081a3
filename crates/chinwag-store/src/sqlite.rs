//! How an SQLite store is opened: one writer, a pool of readers, and WAL
//! checkpoints kept off the write path.
//!
//! SQLite runs one write at a time. With writes spread over a pool, the
//! connections that lose the race for the write lock sleep in the busy
//! handler (1, 2, 5, 10 ms ...), and every write invalidates the page cache
//! of every other connection. So a file database writes through a single
//! connection, whose cache stays warm, while reads go to a pool whose
//! connections are `query_only` (a write sent there by mistake fails
//! instead of contending). The writer is held behind a lock rather than
//! pooled: a pool returns a connection only after a spawned task has
//! pinged it, and with one connection that round trip, waiting its turn
//! on a busy runtime, would sit between every two writes.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses the
//! threshold, stalling that write and everything queued behind it for the
//! time it takes to copy the WAL into the database and sync it (about
//! 15 ms here). A background task on a connection of its own checkpoints
//! instead; the writer's own threshold stays as a backstop.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection as _};
use tokio::sync::{Mutex, MutexGuard};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::error::{Result, StoreError};
use crate::store::{SQLITE_MIGRATIONS, StoreOptions};

/// How often the background task checkpoints the WAL.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// WAL pages after which the writer checkpoints by itself, should the
/// background task fall behind (SQLite's default is 1000).
const BACKSTOP_CHECKPOINT_PAGES: &str = "20000";

/// The size the WAL file is truncated back to after a checkpoint resets it.
const WAL_SIZE_LIMIT_BYTES: &str = "67108864";

/// A hold of the writer this long is logged: every write queued behind it
/// waited as long (a write normally holds it well under a millisecond).
pub(crate) const SLOW_HOLD: Duration = Duration::from_millis(100);

/// An SQLite database's connections.
#[derive(Debug, Clone)]
pub(crate) struct SqliteDb {
    /// Reads: `query_only` connections on a file database.
    pub(crate) read: SqlitePool,
    /// Writes.
    pub(crate) write: Writer,
}

/// Where an SQLite store writes.
#[derive(Debug, Clone)]
pub(crate) enum Writer {
    /// The read pool itself: an in-memory database lives in its single
    /// connection (or the caller built the pool).
    Shared(SqlitePool),
    /// A connection of its own, taken in turn; `None` once closed.
    Own(Arc<Mutex<Option<SqliteConnection>>>),
}

/// The writer connection, held for one write or checkpoint. Dropping it
/// hands the writer on, and logs a hold longer than [`SLOW_HOLD`] with
/// its holder (a source location, or "checkpoint").
pub(crate) struct WriterTurn<'a> {
    conn: MutexGuard<'a, Option<SqliteConnection>>,
    holder: &'static str,
    since: Instant,
}

impl<'a> WriterTurn<'a> {
    /// Waits for the writer.
    pub(crate) async fn take(
        writer: &'a Mutex<Option<SqliteConnection>>,
        holder: &'static str,
    ) -> Self {
        let conn = writer.lock().await;
        Self {
            conn,
            holder,
            since: Instant::now(),
        }
    }

    /// The connection; an error once the store is closed.
    pub(crate) fn conn(&mut self) -> sqlx::Result<&mut SqliteConnection> {
        self.conn.as_mut().ok_or(sqlx::Error::PoolClosed)
    }
}

impl Drop for WriterTurn<'_> {
    fn drop(&mut self) {
        let held = self.since.elapsed();
        if held >= SLOW_HOLD {
            tracing::warn!(
                holder = self.holder,
                held_ms = held.as_millis() as u64,
                "a slow turn held the SQLite writer; writes queued behind it waited as long"
            );
        }
    }
}

/// Stops the checkpoint task when the last handle to the store is dropped.
#[derive(Debug)]
pub(crate) struct CheckpointTask(AbortHandle);

impl CheckpointTask {
    /// Stops the task (at its next await).
    pub(crate) fn stop(&self) {
        self.0.abort();
    }
}

impl Drop for CheckpointTask {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Opens `url_or_path` (see [`crate::Store::open`]) and runs the
/// migrations; the checkpoint task is `None` in memory.
pub(crate) async fn open(
    url_or_path: &str,
    options: &StoreOptions,
) -> Result<(SqliteDb, Option<CheckpointTask>)> {
    let memory = url_or_path == "sqlite::memory:" || url_or_path.contains("mode=memory");
    let connect = if url_or_path.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(url_or_path)?
    } else if let Some((scheme, _)) = url_or_path.split_once("://") {
        return Err(StoreError::invalid(format!(
            "unsupported database URL scheme `{scheme}`: use sqlite://PATH or postgres://…"
        )));
    } else {
        SqliteConnectOptions::new().filename(url_or_path)
    };
    let connect = connect
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(options.busy_timeout)
        .synchronous(SqliteSynchronous::Normal);
    let pool = || {
        SqlitePoolOptions::new()
            .test_before_acquire(false)
            .acquire_timeout(options.acquire_timeout)
    };
    if memory {
        let only = pool()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(connect)
            .await?;
        SQLITE_MIGRATIONS.run(&only).await?;
        let db = SqliteDb {
            read: only.clone(),
            write: Writer::Shared(only),
        };
        return Ok((db, None));
    }
    let connect = connect
        .journal_mode(SqliteJournalMode::Wal)
        .pragma("journal_size_limit", WAL_SIZE_LIMIT_BYTES);
    // The writer opens first: it creates the file and switches it to WAL.
    let mut write = connect
        .clone()
        .pragma("wal_autocheckpoint", BACKSTOP_CHECKPOINT_PAGES)
        .connect()
        .await?;
    SQLITE_MIGRATIONS.run(&mut write).await?;
    let read = pool()
        .max_connections(options.max_connections.max(1))
        .connect_with(connect.clone().pragma("query_only", "ON"))
        .await?;
    let checkpointer = connect.connect().await?;
    let write = Arc::new(Mutex::new(Some(write)));
    let task = tokio::spawn(checkpoint_forever(checkpointer, write.clone()));
    let db = SqliteDb {
        read,
        write: Writer::Own(write),
    };
    Ok((db, Some(CheckpointTask(task.abort_handle()))))
}

/// Checkpoints the WAL every [`CHECKPOINT_EVERY`], until the writer is
/// closed. `PASSIVE` waits for no one: it copies what no reader still
/// needs, and leaves the rest for next time.
async fn checkpoint_forever(
    mut conn: SqliteConnection,
    writer: Arc<Mutex<Option<SqliteConnection>>>,
) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    let mut last = None;
    loop {
        tick.tick().await;
        // The bulk, while writes go on.
        let mut done = checkpoint(&mut conn).await;
        let idle = matches!(done, Ok(now) if now.frames == now.copied && last == Some(now));
        last = done.as_ref().ok().copied();
        if matches!(done, Ok(now) if now.frames > 0) && !idle {
            // Then the frames written meanwhile, with writes held for the
            // moment that takes. SQLite starts the WAL over from the top
            // when a write finds all of it copied, which under a steady
            // stream of writes would otherwise never happen: the file
            // would grow without bound.
            let mut turn = WriterTurn::take(&writer, "checkpoint").await;
            if turn.conn().is_err() {
                return;
            }
            done = checkpoint(&mut conn).await;
        }
        match done {
            Ok(_) if failing => {
                failing = false;
                tracing::info!("WAL checkpoints work again");
            }
            Ok(_) => {}
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(%error, "WAL checkpoint failed; the writer checkpoints by itself past its threshold");
            }
            Err(_) => {}
        }
    }
}

/// What a checkpoint found: the frames in the WAL, and how many of them
/// are copied into the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WalState {
    frames: i64,
    copied: i64,
}

/// One `PASSIVE` checkpoint; one slower than [`SLOW_HOLD`] is logged (it
/// copies pages and syncs the database file, competing with the writer
/// for the disk).
async fn checkpoint(conn: &mut SqliteConnection) -> sqlx::Result<WalState> {
    let since = Instant::now();
    let (_busy, frames, copied): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(conn)
        .await?;
    let took = since.elapsed();
    if took >= SLOW_HOLD {
        tracing::warn!(
            took_ms = took.as_millis() as u64,
            frames,
            copied,
            "a slow WAL checkpoint"
        );
    }
    Ok(WalState { frames, copied })
}

/// Closes every connection; SQLite checkpoints what is left as the last
/// one closes.
pub(crate) async fn close(db: &SqliteDb) {
    db.read.close().await;
    match &db.write {
        Writer::Shared(pool) => pool.close().await,
        Writer::Own(writer) => {
            if let Some(conn) = writer.lock().await.take() {
                let _ = conn.close().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex as StdMutex};

    use super::*;

    /// What the log said, as text.
    #[derive(Clone, Default)]
    struct Log(Arc<StdMutex<Vec<u8>>>);

    impl Log {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    impl Write for Log {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl tracing_subscriber::fmt::MakeWriter<'_> for Log {
        type Writer = Log;
        fn make_writer(&self) -> Log {
            self.clone()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_turn_at_the_writer_is_logged_with_its_holder() {
        let log = Log::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(log.clone())
            .with_ansi(false)
            .finish();
        let _logging = tracing::subscriber::set_default(subscriber);
        let writer = Mutex::new(None);

        drop(WriterTurn::take(&writer, "src/quick.rs:1").await);
        let mut slow = WriterTurn::take(&writer, "src/slow.rs:7").await;
        assert!(slow.conn().is_err(), "a closed writer is an error");
        tokio::time::sleep(SLOW_HOLD).await;
        drop(slow);

        let text = log.text();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("src/slow.rs:7"), "{text}");
        assert!(text.contains("held_ms=100"), "{text}");
        assert!(text.contains("held the SQLite writer"), "{text}");
    }
}
