//! Private channels over real sockets: who is in a `channel:` room after a
//! member-list change or a privacy change is decided by the same rule as
//! the rooms at connect and `reauth` (`VIEW_CHANNEL` from roles, the list,
//! overrides, ownership and administrators), so live delivery, REST and a
//! later `reauth` always agree; whoever gains or loses the channel gets
//! `reauth_required`. Runs on SQLite and, when configured, PostgreSQL.

#[path = "chat_support.rs"]
mod chat_support;

use chat_support::support::Client;
use chat_support::{Api, Guild, each_backend, id};
use chinwag_protocol::permissions::*;
use serde_json::{Value, json};

/// Every frame up to, not including, the `NEW_MESSAGE` in `room` whose
/// content is `marker`: what a socket got before a later event it does
/// receive.
async fn frames_until(ws: &mut Client, room: &str, marker: &str) -> Vec<Value> {
    let mut frames = Vec::new();
    loop {
        let frame = ws.recv().await;
        if frame["op"] == "event"
            && frame["room"] == room
            && frame["type"] == "NEW_MESSAGE"
            && frame["data"]["message"]["content"] == marker
        {
            return frames;
        }
        frames.push(frame);
    }
}

/// The frames among `frames` that concern `room` (events, `room_joined`,
/// `room_left`).
fn in_room<'a>(frames: &'a [Value], room: &str) -> Vec<&'a Value> {
    frames.iter().filter(|f| f["room"] == room).collect()
}

fn count_op(frames: &[Value], op: &str) -> usize {
    frames.iter().filter(|f| f["op"] == op).count()
}

/// Swaps in `token` and returns the `reauthed` frame.
async fn reauth(ws: &mut Client, token: &str) -> Value {
    ws.send(json!({"op": "reauth", "token": token})).await;
    ws.recv_op("reauthed").await
}

/// A reauth finds the live rooms already right: the server's room rule
/// and the live membership agree.
async fn reauth_changes_nothing(ws: &mut Client, token: &str) {
    let reauthed = reauth(ws, token).await;
    assert_eq!(reauthed["rooms_added"], json!([]), "{reauthed}");
    assert_eq!(reauthed["rooms_removed"], json!([]), "{reauthed}");
}

/// A role with these bits, created by `owner` and assigned to `member`.
async fn role_for(api: &Api, owner: &str, community: i64, member: i64, bits: u64) -> i64 {
    let role = api
        .ok(
            201,
            "POST",
            &format!("/communities/{community}/roles"),
            owner,
            Some(json!({"name": "Role", "permissions": bits, "position": 1})),
        )
        .await;
    let role = id(&role["id"]);
    api.ok(
        204,
        "PUT",
        &format!("/communities/{community}/members/{member}/roles/{role}"),
        owner,
        None,
    )
    .await;
    role
}

async fn status(api: &Api, token: &str, path: &str) -> u16 {
    api.call("GET", path, Some(token), None).await.status
}

#[tokio::test]
async fn listing_a_member_an_override_denies_does_not_join_them() {
    each_backend(|server| async move {
        let api = Api { addr: server.addr };
        let Guild {
            alice: (_, alice_t),
            bob: (bob, bob_t),
            community,
            general,
            ..
        } = api.guild().await;
        let vault = api.channel(&alice_t, community, "vault", true).await;
        let room = format!("channel:{vault}");
        let general_room = format!("channel:{general}");
        api.ok(
            204,
            "PUT",
            &format!("/channels/{vault}/overrides/user/{bob}"),
            &alice_t,
            Some(json!({"deny": VIEW_CHANNEL})),
        )
        .await;
        let mut bob_ws = server.client(bob).await;

        api.ok(
            204,
            "PUT",
            &format!("/channels/{vault}/members/{bob}"),
            &alice_t,
            None,
        )
        .await;
        api.send(&alice_t, vault, "not for bob").await;
        api.send(&alice_t, general, "marker").await;
        let seen = frames_until(&mut bob_ws, &general_room, "marker").await;
        assert!(in_room(&seen, &room).is_empty(), "bob got {seen:?}");
        assert_eq!(count_op(&seen, "reauth_required"), 0, "{seen:?}");
        assert_eq!(
            status(&api, &bob_t, &format!("/channels/{vault}/messages")).await,
            404
        );
        // The live rooms are the policy's rooms: a reauth changes nothing.
        reauth_changes_nothing(&mut bob_ws, &bob_t).await;

        // He is on the list: lifting the override reveals the channel live.
        api.ok(
            204,
            "DELETE",
            &format!("/channels/{vault}/overrides/user/{bob}"),
            &alice_t,
            None,
        )
        .await;
        api.send(&alice_t, vault, "now for bob").await;
        let seen = frames_until(&mut bob_ws, &room, "now for bob").await;
        assert_eq!(count_op(&seen, "room_joined"), 1, "{seen:?}");
        assert_eq!(count_op(&seen, "reauth_required"), 1, "{seen:?}");
    })
    .await;
}

#[tokio::test]
async fn a_channel_manager_taken_off_the_list_leaves_the_room() {
    each_backend(|server| async move {
        let api = Api { addr: server.addr };
        let Guild {
            alice: (_, alice_t),
            bob: (bob, bob_t),
            community,
            general,
            ..
        } = api.guild().await;
        let vault = api.channel(&alice_t, community, "vault", true).await;
        let room = format!("channel:{vault}");
        let general_room = format!("channel:{general}");
        role_for(
            &api,
            &alice_t,
            community,
            bob,
            VIEW_CHANNEL | SEND_MESSAGES | MANAGE_CHANNELS,
        )
        .await;
        // Managing channels does not show a private one by itself.
        assert_eq!(
            status(&api, &bob_t, &format!("/channels/{vault}")).await,
            404
        );
        let mut bob_ws = server.client(bob).await;

        api.ok(
            204,
            "PUT",
            &format!("/channels/{vault}/members/{bob}"),
            &alice_t,
            None,
        )
        .await;
        api.send(&alice_t, vault, "welcome").await;
        let seen = frames_until(&mut bob_ws, &room, "welcome").await;
        assert_eq!(count_op(&seen, "room_joined"), 1, "{seen:?}");
        assert_eq!(count_op(&seen, "reauth_required"), 1, "{seen:?}");

        api.ok(
            204,
            "DELETE",
            &format!("/channels/{vault}/members/{bob}"),
            &alice_t,
            None,
        )
        .await;
        api.send(&alice_t, vault, "bob is gone").await;
        api.send(&alice_t, general, "marker").await;
        let seen = frames_until(&mut bob_ws, &general_room, "marker").await;
        let about_vault = in_room(&seen, &room);
        assert_eq!(about_vault.len(), 1, "bob got {seen:?}");
        assert_eq!(about_vault[0]["op"], "room_left");
        assert_eq!(about_vault[0]["reason"], "access_revoked");
        assert_eq!(count_op(&seen, "reauth_required"), 1, "{seen:?}");
        assert_eq!(
            status(&api, &bob_t, &format!("/channels/{vault}/messages")).await,
            404
        );
        reauth_changes_nothing(&mut bob_ws, &bob_t).await;
    })
    .await;
}

#[tokio::test]
async fn a_member_a_role_override_shows_keeps_the_room_off_the_list() {
    each_backend(|server| async move {
        let api = Api { addr: server.addr };
        let Guild {
            alice: (_, alice_t),
            bob: (bob, bob_t),
            community,
            general,
            ..
        } = api.guild().await;
        let vault = api.channel(&alice_t, community, "vault", true).await;
        let room = format!("channel:{vault}");
        let role = role_for(&api, &alice_t, community, bob, VIEW_CHANNEL).await;
        api.ok(
            204,
            "PUT",
            &format!("/channels/{vault}/overrides/role/{role}"),
            &alice_t,
            Some(json!({"allow": VIEW_CHANNEL})),
        )
        .await;
        let mut bob_ws = server.client(bob).await;
        assert!(
            bob_ws.ready["rooms"].to_string().contains(&room),
            "{}",
            bob_ws.ready
        );

        // On and off the list: he sees the channel throughout.
        for method in ["PUT", "DELETE"] {
            api.ok(
                204,
                method,
                &format!("/channels/{vault}/members/{bob}"),
                &alice_t,
                None,
            )
            .await;
        }
        api.send(&alice_t, vault, "still yours").await;
        api.send(&alice_t, general, "marker").await;
        let seen = frames_until(&mut bob_ws, &format!("channel:{general}"), "marker").await;
        let about_vault = in_room(&seen, &room);
        assert_eq!(about_vault.len(), 1, "bob got {seen:?}");
        assert_eq!(about_vault[0]["data"]["message"]["content"], "still yours");
        assert_eq!(count_op(&seen, "reauth_required"), 0, "{seen:?}");
        assert_eq!(
            status(&api, &bob_t, &format!("/channels/{vault}/messages")).await,
            200
        );
        reauth_changes_nothing(&mut bob_ws, &bob_t).await;
    })
    .await;
}

#[tokio::test]
async fn a_privacy_change_asks_who_gains_or_loses_the_channel_to_reauth() {
    each_backend(|server| async move {
        let api = Api { addr: server.addr };
        let Guild {
            alice: (alice, alice_t),
            bob: (bob, _),
            general,
            staff,
            ..
        } = api.guild().await;
        let staff_room = format!("channel:{staff}");
        let general_room = format!("channel:{general}");
        let mut alice_ws = server.client(alice).await;
        let mut bob_ws = server.client(bob).await;

        for (private, op) in [(true, "room_left"), (false, "room_joined")] {
            api.ok(
                200,
                "PATCH",
                &format!("/channels/{staff}"),
                &alice_t,
                Some(json!({"private": private})),
            )
            .await;
            api.send(&alice_t, general, "marker").await;
            let seen = frames_until(&mut bob_ws, &general_room, "marker").await;
            let about_staff = in_room(&seen, &staff_room);
            assert_eq!(about_staff.len(), 1, "{seen:?}");
            assert_eq!(about_staff[0]["op"], op);
            assert_eq!(count_op(&seen, "reauth_required"), 1, "{seen:?}");
            // The owner sees it either way and is not asked.
            let seen = frames_until(&mut alice_ws, &general_room, "marker").await;
            assert_eq!(count_op(&seen, "reauth_required"), 0, "{seen:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_channel_manager_cannot_take_higher_ranks_off_the_list() {
    each_backend(|server| async move {
        let server = server;
        let api = Api { addr: server.addr };
        let Guild {
            alice: (alice, alice_t),
            bob: (bob, bob_t),
            carol: (carol, _),
            community,
            ..
        } = api.guild().await;
        let vault = api.channel(&alice_t, community, "vault", true).await;
        // Bob manages channels at position 1; Carol holds a role at 5.
        role_for(
            &api,
            &alice_t,
            community,
            bob,
            VIEW_CHANNEL | MANAGE_CHANNELS,
        )
        .await;
        let senior = api
            .ok(
                201,
                "POST",
                &format!("/communities/{community}/roles"),
                &alice_t,
                Some(json!({"name": "Senior", "permissions": VIEW_CHANNEL, "position": 5})),
            )
            .await;
        let path = format!(
            "/communities/{community}/members/{carol}/roles/{}",
            id(&senior["id"])
        );
        api.ok(204, "PUT", &path, &alice_t, None).await;
        for member in [bob, carol] {
            let path = format!("/channels/{vault}/members/{member}");
            api.ok(204, "PUT", &path, &alice_t, None).await;
        }
        for (above, who) in [(carol, "a higher role"), (alice, "the owner")] {
            let path = format!("/channels/{vault}/members/{above}");
            let r = api.call("DELETE", &path, Some(&bob_t), None).await;
            assert_eq!(r.status, 403, "bob took {who} off the list: {:?}", r.body);
        }
        let path = format!("/channels/{vault}/members/{carol}");
        api.ok(204, "DELETE", &path, &alice_t, None).await;
        let path = format!("/channels/{vault}/members/{bob}");
        api.ok(204, "DELETE", &path, &bob_t, None).await;
    })
    .await;
}
