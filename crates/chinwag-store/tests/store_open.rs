//! Opening stores: SQLite files (WAL, reopen, concurrent writers) and URLs.

use chinwag_store::testing::{SqliteFile, community, post, text_channel, user};
use chinwag_store::{BackendKind, Cursor, Store};

#[tokio::test]
async fn a_file_store_persists_across_reopen_in_wal_mode() {
    let file = SqliteFile::new().await;
    let (store, path) = (&file.store, file.path());
    assert_eq!(store.backend(), BackendKind::Sqlite);
    let u = user(store, "persisted").await;
    assert!(
        path.with_file_name("chinwag.sqlite-wal").exists(),
        "WAL mode"
    );
    store.close().await;

    let url = format!("sqlite://{}", path.display());
    let reopened = Store::open(&url).await.unwrap();
    assert_eq!(reopened.user(u.id).await.unwrap(), u);
    reopened.close().await;
}

#[tokio::test]
async fn concurrent_writers_on_a_file_store_all_succeed() {
    let file = SqliteFile::new().await;
    let store = file.store.clone();
    let owner = user(&store, "owner").await;
    let c = community(&store, owner.id).await.community;
    let ch = text_channel(&store, c.id, "busy").await;
    let first = post(&store, ch.id, owner.id, "root").await;
    let tasks = (0..16).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            post(&store, ch.id, owner.id, &format!("m{i}")).await;
            store
                .add_reaction(first.id, owner.id, &format!("e{i}"))
                .await
                .unwrap();
        })
    });
    for t in tasks {
        t.await.unwrap();
    }
    let page = store.history(ch.id, Cursor::Latest, 100).await.unwrap();
    assert_eq!(page.len(), 17);
    let root = store.message(first.id).await.unwrap();
    assert_eq!(root.reactions.len(), 16);
    assert_eq!(root.version, 17);
    store.close().await;
}

#[tokio::test]
async fn in_memory_stores_are_private() {
    let a = Store::open("sqlite::memory:").await.unwrap();
    let b = Store::open("sqlite::memory:").await.unwrap();
    let u = user(&a, "only-in-a").await;
    assert!(b.user(u.id).await.is_err());
}

#[tokio::test]
async fn an_unreachable_postgres_fails_with_its_cause() {
    // The pool alone retried for its whole acquire timeout (30 s), then
    // said only "pool timed out".
    let err = match Store::open("postgres://nobody@127.0.0.1:1/none").await {
        Err(err) => err.to_string(),
        Ok(_) => panic!("nothing listens on port 1"),
    };
    assert!(err.contains("Connection refused"), "{err}");
}

#[tokio::test]
async fn nodes_sharing_postgres_take_distinct_node_ids() {
    // Skipped only where this run does not use PostgreSQL (never in CI).
    let Some(pg) = chinwag_store::testing::postgres_store().await else {
        return;
    };
    let other = pg.open_another().await;
    assert_ne!(pg.store.node_id(), other.node_id());
    // Two nodes minting ids in the same milliseconds never collide.
    let ids: Vec<_> = (0..20_000)
        .flat_map(|_| [pg.store.next_id(), other.next_id()])
        .collect();
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), 40_000);
    // And both can write: the second node's user lands beside the first's.
    user(&pg.store, "on-node-a").await;
    user(&other, "on-node-b").await;
    other.close().await;
    pg.drop_schema().await;
}

#[tokio::test]
async fn a_url_of_another_database_is_refused_not_taken_for_a_path() {
    let url = "mysql://root@127.0.0.1/chat";
    let err = match Store::open(url).await {
        Err(err) => err.to_string(),
        Ok(_) => panic!("{url} opened as an SQLite file"),
    };
    assert!(
        err.contains("unsupported database URL scheme `mysql`"),
        "{err}"
    );
}
