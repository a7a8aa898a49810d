//! Cursor paging over sorted sets, newest (highest score) first.
//!
//! A cursor is the (score, member) of the last item a page returned; the next
//! page holds the items strictly after it in (score desc, member desc) order.
//! Unlike an offset, this neither repeats nor skips items when new ones are
//! added at the top while a client pages. Cursors are opaque to clients:
//! base64url of `v1:<score>:<member>`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{Store, StoreResult};

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Score of the last item already returned.
    pub score: i64,
    /// Member of the last item already returned.
    pub member: String,
}

impl Cursor {
    /// The opaque form handed to clients.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("v1:{}:{}", self.score, self.member))
    }

    /// Reads a cursor a client sent back; `None` when it is not one of ours.
    pub fn decode(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let rest = text.strip_prefix("v1:")?;
        let (score, member) = rest.split_once(':')?;
        if member.is_empty() || member.len() > 200 {
            return None;
        }
        Some(Self {
            score: score.parse().ok()?,
            member: member.to_owned(),
        })
    }
}

/// Which page of a list a client asked for.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// Items per page, 1..=100.
    pub limit: usize,
    /// Start after this item; `None` for the first page.
    pub cursor: Option<Cursor>,
}

/// One page of sorted-set members.
#[derive(Debug, Clone)]
pub struct IdPage {
    /// Members with their scores, highest first.
    pub items: Vec<(String, i64)>,
    /// Cursor of the next page, if there is one.
    pub next_cursor: Option<String>,
}

impl Store {
    /// A page of `key`'s members by score, highest first, skipping members
    /// whose score is at or below `floor` (expired presence entries, say).
    /// One round trip.
    pub(crate) async fn zset_page(
        &self,
        key: &str,
        page: &PageRequest,
        floor: Option<u64>,
    ) -> StoreResult<IdPage> {
        let min = floor.map_or_else(|| "-inf".to_owned(), |f| format!("({f}"));
        let want = page.limit + 1;
        let mut pipe = redis::pipe();
        let upper = match &page.cursor {
            None => "+inf".to_owned(),
            Some(c) => {
                // Items tied with the cursor's score come first (members in
                // descending order), then everything strictly lower.
                pipe.cmd("ZRANGE")
                    .arg(key)
                    .arg(c.score)
                    .arg(c.score)
                    .arg("BYSCORE")
                    .arg("REV")
                    .arg("WITHSCORES");
                format!("({}", c.score)
            }
        };
        pipe.cmd("ZRANGE")
            .arg(key)
            .arg(upper)
            .arg(&min)
            .arg("BYSCORE")
            .arg("REV")
            .arg("LIMIT")
            .arg(0)
            .arg(want)
            .arg("WITHSCORES");
        let mut conn = self.conn().await?;
        let replies: Vec<Vec<(String, f64)>> = self.run(pipe.query_async(&mut conn)).await?;
        let mut items: Vec<(String, i64)> = Vec::with_capacity(want);
        let floor = floor.map(|f| f as f64);
        for (i, reply) in replies.into_iter().enumerate() {
            let is_ties = page.cursor.is_some() && i == 0;
            for (member, score) in reply {
                if floor.is_some_and(|f| score <= f) {
                    continue;
                }
                if is_ties
                    && page
                        .cursor
                        .as_ref()
                        .is_some_and(|c| member.as_str() >= c.member.as_str())
                {
                    continue;
                }
                items.push((member, score as i64));
            }
        }
        let has_more = items.len() > page.limit;
        items.truncate(page.limit);
        let next_cursor = if has_more {
            items.last().map(|(member, score)| {
                Cursor {
                    score: *score,
                    member: member.clone(),
                }
                .encode()
            })
        } else {
            None
        };
        Ok(IdPage { items, next_cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let c = Cursor {
            score: -1_732_357_500_123,
            member: "b2c1-uuid".into(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
    }

    #[test]
    fn foreign_cursors_are_refused() {
        for bad in [
            "",
            "???",
            "djE6",
            "bm9wZQ",
            &URL_SAFE_NO_PAD.encode("v1:abc:x"),
            &URL_SAFE_NO_PAD.encode("v1:1:"),
        ] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }
}
