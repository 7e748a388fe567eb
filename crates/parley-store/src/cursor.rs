//! Opaque keyset-pagination cursors: the sort keys and id of the last row of a page.

use base64::Engine;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Sort keys of the last row, most significant first.
    pub keys: Vec<i64>,
    /// A text sort key, for sorts by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub id: uuid::Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    /// `None` for anything that is not a cursor this code made.
    pub fn decode(s: &str) -> Option<Self> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}
