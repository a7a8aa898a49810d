//! Users: profiles, the username index and presence look-ups.

use std::collections::HashMap;

use redis::AsyncCommands;

use super::{Store, StoreResult, decode, field, number};
use crate::clock::{now_ms, rfc3339_ms};
use crate::message::UserLite;
use crate::model::{PublicUser, User};

/// A user as stored, password hash included. Never sent to clients as is.
#[derive(Debug, Clone)]
pub struct UserRecord {
    /// Random id.
    pub id: String,
    /// As registered (original case).
    pub username: String,
    /// Shown beside messages.
    pub display_name: String,
    /// Registration time, ms since the epoch.
    pub created_ms: u64,
    /// Argon2id PHC string.
    pub password_hash: String,
}

/// What others may see of a user.
#[derive(Debug, Clone)]
pub struct PublicUserRecord {
    /// Random id.
    pub id: String,
    /// As registered.
    pub username: String,
    /// Shown beside messages.
    pub display_name: String,
    /// Holds at least one open stream right now.
    pub online: bool,
    /// When their last stream closed, if ever.
    pub last_seen_ms: Option<u64>,
}

impl From<&UserRecord> for User {
    fn from(u: &UserRecord) -> Self {
        Self {
            id: u.id.clone(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            created_at: rfc3339_ms(u.created_ms),
        }
    }
}

impl From<PublicUserRecord> for PublicUser {
    fn from(u: PublicUserRecord) -> Self {
        Self {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            online: u.online,
            last_seen_at: if u.online {
                None
            } else {
                u.last_seen_ms.map(rfc3339_ms)
            },
        }
    }
}

impl From<PublicUserRecord> for UserLite {
    fn from(u: PublicUserRecord) -> Self {
        Self {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
        }
    }
}

impl Store {
    /// Stores a new user unless the username is taken (ignoring case).
    /// Returns `false` when it is.
    ///
    /// The profile is written before the username is claimed, so a crash in
    /// between leaves an unreachable profile, never a claimed name without a
    /// user behind it.
    #[tracing::instrument(skip_all, fields(user_id = %user.id))]
    pub async fn create_user(&self, user: &UserRecord, canonical: &str) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let user_key = self.keys.user(&user.id);
        let created = user.created_ms.to_string();
        let fields = [
            ("id", user.id.as_str()),
            ("username", user.username.as_str()),
            ("display_name", user.display_name.as_str()),
            ("created_at", created.as_str()),
            ("password_hash", user.password_hash.as_str()),
        ];
        self.run(conn.hset_multiple::<_, _, _, ()>(&user_key, &fields))
            .await?;
        let claimed: bool = self
            .run(
                redis::cmd("SET")
                    .arg(self.keys.username(canonical))
                    .arg(&user.id)
                    .arg("NX")
                    .query_async::<Option<String>>(&mut conn),
            )
            .await?
            .is_some();
        if !claimed {
            self.run(conn.del::<_, ()>(&user_key)).await?;
            return Ok(false);
        }
        self.touch_recency(&self.keys.all_users(), user.created_ms, &user.id, "NX")
            .await?;
        Ok(true)
    }

    /// The id of the user with this lower-cased username.
    pub async fn user_id_by_username(&self, canonical: &str) -> StoreResult<Option<String>> {
        let mut conn = self.conn().await?;
        self.run(conn.get(self.keys.username(canonical))).await
    }

    /// The user with this id.
    pub async fn user(&self, user_id: &str) -> StoreResult<Option<UserRecord>> {
        let mut conn = self.conn().await?;
        let hash: HashMap<String, String> = self.run(conn.hgetall(self.keys.user(user_id))).await?;
        if hash.is_empty() {
            return Ok(None);
        }
        Ok(Some(UserRecord {
            id: field(&hash, "id")?.to_owned(),
            username: field(&hash, "username")?.to_owned(),
            display_name: field(&hash, "display_name")?.to_owned(),
            created_ms: number(field(&hash, "created_at")?)?,
            password_hash: field(&hash, "password_hash")?.to_owned(),
        }))
    }

    /// The user with this lower-cased username.
    pub async fn user_by_username(&self, canonical: &str) -> StoreResult<Option<UserRecord>> {
        match self.user_id_by_username(canonical).await? {
            Some(id) => self.user(&id).await,
            None => Ok(None),
        }
    }

    /// Public views of users, in the order asked, with presence; `None` for
    /// ids with no user. One round trip however many ids.
    pub async fn public_users(&self, ids: &[String]) -> StoreResult<Vec<Option<PublicUserRecord>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmds: Vec<redis::Cmd> = ids
            .iter()
            .map(|id| {
                let mut cmd = redis::cmd("HMGET");
                cmd.arg(self.keys.user(id))
                    .arg(&["username", "display_name", "last_seen_at"]);
                cmd
            })
            .collect();
        let mut presence = redis::cmd("ZMSCORE");
        presence.arg(self.keys.presence()).arg(ids);
        cmds.push(presence);
        let mut replies = self.each(cmds).await?;
        let scores: Vec<Option<f64>> = decode(replies.pop().unwrap_or(redis::Value::Nil))?;
        let now = now_ms() as f64;
        ids.iter()
            .zip(replies)
            .zip(scores)
            .map(|((id, reply), score)| {
                let [username, display_name, last_seen]: [Option<String>; 3] = decode(reply)?;
                let (Some(username), Some(display_name)) = (username, display_name) else {
                    return Ok(None);
                };
                Ok(Some(PublicUserRecord {
                    id: id.clone(),
                    username,
                    display_name,
                    online: score.is_some_and(|expiry| expiry > now),
                    last_seen_ms: last_seen.and_then(|s| s.parse().ok()),
                }))
            })
            .collect()
    }
}
