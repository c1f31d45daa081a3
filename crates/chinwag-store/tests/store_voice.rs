//! Voice joins on every backend: the join that finds a DM call empty
//! starts it, a re-join (mute change) does not; two first joins from two
//! nodes at once start it exactly once; only a participant joins.

use chinwag_store::testing::{each_backend, each_backend_pair, user};
use chinwag_store::{Store, StoreError};

#[tokio::test]
async fn the_first_join_starts_a_dm_call() {
    each_backend(|store: Store| async move {
        let (a, b) = (user(&store, "a").await.id, user(&store, "b").await.id);
        let dm = store.open_dm(a, b).await.unwrap().0.id;
        assert!(
            store
                .voice_join(a, dm, None, false, false)
                .await
                .unwrap()
                .call_started
        );
        assert!(
            !store
                .voice_join(a, dm, None, true, false)
                .await
                .unwrap()
                .call_started
        );
        assert!(
            !store
                .voice_join(b, dm, None, false, false)
                .await
                .unwrap()
                .call_started
        );
        store.voice_leave(a).await.unwrap();
        store.voice_leave(b).await.unwrap();
        assert!(
            store
                .voice_join(b, dm, None, false, false)
                .await
                .unwrap()
                .call_started
        );
        // Only a participant joins a DM's call.
        let outsider = user(&store, "outsider").await.id;
        assert!(matches!(
            store.voice_join(outsider, dm, None, false, false).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn two_nodes_joining_an_empty_call_start_it_once() {
    each_backend_pair(|one: Store, two: Store| async move {
        let (a, b) = (user(&one, "a").await.id, user(&one, "b").await.id);
        let dm = one.open_dm(a, b).await.unwrap().0.id;
        for round in 0..20 {
            let (first, second) = tokio::join!(
                one.voice_join(a, dm, None, false, false),
                two.voice_join(b, dm, None, false, false),
            );
            let started = [first.unwrap(), second.unwrap()]
                .iter()
                .filter(|join| join.call_started)
                .count();
            assert_eq!(started, 1, "round {round}");
            one.voice_leave(a).await.unwrap();
            two.voice_leave(b).await.unwrap();
        }
    })
    .await;
}
