//! Profiles: a user changes their display name, avatar URL and bio.
//! `USER_PROFILE_UPDATED` goes to the user's own `user:` room and to every
//! `community:` and `dm:` room they are in, and whoever got it may read the
//! new profile ([`Chat::profile`]).

use chinwag_protocol::event::profile::UserProfileUpdated;
use chinwag_protocol::model::User;
use chinwag_protocol::{Event, Id};
use chinwag_realtime::RoomId;
use chinwag_store::ProfileUpdate;

use crate::chat::Chat;
use crate::error::{ChatError, OrNotFound as _, Result};
use crate::validate;

/// A profile change; `None` fields stay, `Some(None)` clears.
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    /// New display name (1..=100 characters).
    pub display_name: Option<String>,
    /// New avatar URL.
    pub avatar_url: Option<Option<String>>,
    /// New bio.
    pub bio: Option<Option<String>>,
}

impl ProfileChange {
    /// Whether it names no field (a `PATCH` of `{}`): applying it changes
    /// nothing, so it bumps no version and emits nothing.
    pub fn is_empty(&self) -> bool {
        self.display_name.is_none() && self.avatar_url.is_none() && self.bio.is_none()
    }
}

impl Chat {
    /// Another user's profile, for refetching after `USER_PROFILE_UPDATED`:
    /// visible to the user and to those who share a community or a DM
    /// with them; `NOT_FOUND` to anyone else (whether or not they exist).
    pub async fn profile(&self, viewer: Id, user: Id) -> Result<User> {
        if viewer != user && !self.store.share_a_space(viewer, user).await? {
            return Err(ChatError::NotFound("user"));
        }
        self.user(user).await
    }

    /// Those of `users` whose profile and presence `viewer` may see:
    /// themself, and whoever shares a community or a DM with them. The
    /// rest are left out, whether or not they exist.
    pub async fn visible_users(&self, viewer: Id, users: &[Id]) -> Result<Vec<Id>> {
        let mut visible = self.store.acquaintances_among(viewer, users).await?;
        if users.contains(&viewer) && !visible.contains(&viewer) {
            visible.push(viewer);
        }
        Ok(visible)
    }

    /// Changes the caller's profile; emits `USER_PROFILE_UPDATED`. A
    /// change that sets nothing new (`{}`, or only current values) returns
    /// the profile as it is, bumping no version and emitting nothing.
    pub async fn update_profile(&self, user: Id, change: ProfileChange) -> Result<User> {
        if change.is_empty() {
            return self.user(user).await;
        }
        let display_name = match change.display_name {
            Some(name) => Some(validate::name("display_name", &name)?),
            None => None,
        };
        let avatar_url = match change.avatar_url {
            Some(url) => Some(validate::text("avatar_url", url)?),
            None => None,
        };
        let bio = match change.bio {
            Some(bio) => Some(validate::text("bio", bio)?),
            None => None,
        };
        let update = ProfileUpdate {
            display_name,
            avatar_url,
            bio,
        };
        let current = self.user(user).await?;
        if changes_nothing(&update, &current) {
            return Ok(current);
        }
        let updated = self
            .store
            .update_profile(user, update)
            .await
            .or_not_found("user")?;
        let event = Event::UserProfileUpdated(UserProfileUpdated {
            user_id: user,
            version: updated.version,
        });
        let mut rooms = vec![RoomId::user(user)];
        rooms.extend(self.presence_rooms(user).await?);
        for room in rooms {
            self.emit(&room, event.clone()).await;
        }
        Ok(updated)
    }
}

/// Whether `update` would set every field it names to what `user` holds
/// (after validation: a blank bio is a cleared one).
fn changes_nothing(update: &ProfileUpdate, user: &User) -> bool {
    update
        .display_name
        .as_ref()
        .is_none_or(|name| *name == user.display_name)
        && update
            .avatar_url
            .as_ref()
            .is_none_or(|url| *url == user.avatar_url)
        && update.bio.as_ref().is_none_or(|bio| *bio == user.bio)
}
