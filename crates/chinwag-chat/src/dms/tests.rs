//! The cap on the group DMs a user is in: the one past it is `CONFLICT`,
//! for the creator and for a recipient alike, and leaving one makes room
//! again. Runs on every backend.

use chinwag_store::testing::{each_backend, user};

use crate::chat::Chat;
use crate::dms::MAX_GROUP_DMS_PER_USER;
use crate::error::assert_conflict as conflict;

#[tokio::test]
async fn a_user_is_in_at_most_max_group_dms() {
    each_backend(|store| async move {
        let chat = Chat::on_memory_hub(store.clone());
        let owner = user(&store, "owner").await.id;
        let full = user(&store, "full").await.id;
        let other = user(&store, "other").await.id;
        store.open_dm(owner, other).await.unwrap();
        for _ in 1..MAX_GROUP_DMS_PER_USER {
            store.create_group_dm(owner, &[full], "").await.unwrap();
        }
        let last = chat
            .create_group_dm(owner, &[full, other], None)
            .await
            .unwrap();
        conflict(chat.create_group_dm(owner, &[other], None).await);
        // A recipient at the cap stops the group DM too.
        conflict(chat.create_group_dm(other, &[full], None).await);
        chat.leave_group_dm(owner, last.id).await.unwrap();
        chat.create_group_dm(owner, &[other], None).await.unwrap();
    })
    .await;
}
