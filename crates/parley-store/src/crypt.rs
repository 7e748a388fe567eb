//! Encryption at rest: the master key an operator configures, the data keys it wraps (kept in the
//! database, so every node that has the master key can read what any node wrote), and sealing
//! values with AES-256-GCM under the current data key, each with a fresh nonce and its key id.

use std::collections::BTreeMap;
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use rand::RngCore;

const NONCE: usize = 12;
/// Sealed bytes start with this, then the key id (4 bytes, big-endian) and the nonce.
const MAGIC: &[u8; 4] = b"PK1\0";
/// Sealed text is this prefix, the key id, a colon and the sealed bytes in base64
/// (`~pk:3:…`): the key id in the clear lets SQL find values sealed under an older key.
const TEXT_PREFIX: &str = "~pk:";
/// A blind index starts with this.
const BLIND_PREFIX: &str = "~bx:";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CryptError {
    #[error("a master key is 32 bytes, given as 64 hexadecimal digits or in base64")]
    BadMasterKey,
    #[error("this value is encrypted and no master key is configured")]
    NoKey,
    #[error("this value is encrypted under data key {0}, which this database does not hold")]
    UnknownKey(u32),
    #[error("a value did not decrypt: the key is wrong or the value was altered")]
    Corrupt,
}

/// The operator's key: it never touches the database; it only wraps the data keys there.
#[derive(Clone)]
pub struct MasterKey(Arc<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

impl MasterKey {
    /// Reads a key written as 64 hexadecimal digits or as base64 of 32 bytes (surrounding
    /// whitespace ignored, so a key file may end with a newline).
    pub fn parse(text: &str) -> Result<Self, CryptError> {
        let t = text.trim();
        let bytes = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(t).map_err(|_| CryptError::BadMasterKey)?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(t)
                .map_err(|_| CryptError::BadMasterKey)?
        };
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptError::BadMasterKey)?;
        Ok(Self(Arc::new(key)))
    }

    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        Self(Arc::new(key))
    }

    /// The key in base64, as `parse` reads it.
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(*self.0)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new((&*self.0).into())
    }

    /// A new data key wrapped under this key, for the `data_key` table.
    pub fn new_data_key(&self, id: u32) -> String {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        self.wrap(id, &key)
    }

    fn wrap(&self, id: u32, key: &[u8; 32]) -> String {
        let sealed = seal_with(&self.cipher(), 0, &data_key_aad(id), key);
        base64::engine::general_purpose::STANDARD.encode(sealed)
    }

    fn unwrap_key(&self, id: u32, wrapped: &str) -> Result<[u8; 32], CryptError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(wrapped)
            .map_err(|_| CryptError::Corrupt)?;
        let body = bytes.get(MAGIC.len() + 4..).ok_or(CryptError::Corrupt)?;
        let plain = open_with(&self.cipher(), &data_key_aad(id), body)?;
        plain.try_into().map_err(|_| CryptError::Corrupt)
    }

    /// A data key unwrapped with `old` and wrapped again under this key (master key rotation).
    pub fn rewrap(&self, old: &MasterKey, id: u32, wrapped: &str) -> Result<String, CryptError> {
        Ok(self.wrap(id, &old.unwrap_key(id, wrapped)?))
    }
}

fn data_key_aad(id: u32) -> Vec<u8> {
    format!("parley data key {id}").into_bytes()
}

fn seal_with(cipher: &Aes256Gcm, id: u32, aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE];
    rand::thread_rng().fill_bytes(&mut nonce);
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + NONCE + plain.len() + 16);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&nonce);
    // Encryption fails only for inputs of 64 GiB and more, which nothing here holds.
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
        .unwrap_or_default();
    out.extend_from_slice(&ct);
    out
}

/// Opens nonce‖ciphertext.
fn open_with(cipher: &Aes256Gcm, aad: &[u8], body: &[u8]) -> Result<Vec<u8>, CryptError> {
    if body.len() < NONCE + 16 {
        return Err(CryptError::Corrupt);
    }
    let (nonce, ct) = body.split_at(NONCE);
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .map_err(|_| CryptError::Corrupt)
}

/// The key id a sealed value was written under, or `None` for a plain value.
pub fn key_id(data: &[u8]) -> Option<u32> {
    let rest = data.strip_prefix(MAGIC.as_slice())?;
    Some(u32::from_be_bytes(rest.get(..4)?.try_into().ok()?))
}

/// The key id of sealed text, or `None` for plain text.
pub fn text_key_id(text: &str) -> Option<u32> {
    let (id, _) = text.strip_prefix(TEXT_PREFIX)?.split_once(':')?;
    id.parse().ok()
}

/// How text sealed under `key` starts.
pub fn sealed_prefix(key: u32) -> String {
    format!("{TEXT_PREFIX}{key}:")
}

/// How a blind index starts.
pub fn blind_prefix() -> &'static str {
    BLIND_PREFIX
}

/// The data keys of a database, unwrapped: values are sealed under the newest and opened under
/// whichever they name.
pub struct Keyring {
    current: u32,
    keys: BTreeMap<u32, Aes256Gcm>,
    /// Keys the blind indexes; derived from the first data key, which is never retired, so
    /// indexes stay valid across rotations.
    blind: [u8; 32],
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current)
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Keyring {
    /// Unwraps the `(id, wrapped)` data keys; the highest id is the current one.
    pub fn open_keys(master: &MasterKey, wrapped: &[(u32, String)]) -> Result<Self, CryptError> {
        let mut keys = BTreeMap::new();
        let mut blind = None;
        for (id, w) in wrapped {
            let key = master.unwrap_key(*id, w)?;
            if blind.is_none() {
                blind = Some(hmac_sha256(&key, b"parley blind index v1"));
            }
            keys.insert(*id, Aes256Gcm::new((&key).into()));
        }
        let current = *keys.keys().next_back().ok_or(CryptError::NoKey)?;
        let blind = blind.ok_or(CryptError::NoKey)?;
        Ok(Self {
            current,
            keys,
            blind,
        })
    }

    /// A keyed digest of `value` for finding it without storing it: equal values in the same
    /// `domain` (`phone`, `identity:sms`, …) give equal digests.
    pub fn blind(&self, domain: &str, value: &str) -> String {
        let mut msg = Vec::with_capacity(domain.len() + 1 + value.len());
        msg.extend_from_slice(domain.as_bytes());
        msg.push(0);
        msg.extend_from_slice(value.as_bytes());
        format!(
            "{BLIND_PREFIX}{}",
            hex::encode(hmac_sha256(&self.blind, &msg))
        )
    }

    pub fn current(&self) -> u32 {
        self.current
    }

    pub fn ids(&self) -> Vec<u32> {
        self.keys.keys().copied().collect()
    }

    /// Seals `plain` under the current key. `aad` binds it to where it is kept (a record and
    /// a field), so a sealed value copied elsewhere does not open.
    pub fn seal(&self, aad: &str, plain: &[u8]) -> Vec<u8> {
        let cipher = &self.keys[&self.current];
        seal_with(cipher, self.current, aad.as_bytes(), plain)
    }

    /// Opens a sealed value; a value without the marker is returned as it is (written before
    /// encryption was turned on).
    pub fn open(&self, aad: &str, data: &[u8]) -> Result<Vec<u8>, CryptError> {
        let Some(id) = key_id(data) else {
            return Ok(data.to_vec());
        };
        let cipher = self.keys.get(&id).ok_or(CryptError::UnknownKey(id))?;
        open_with(
            cipher,
            aad.as_bytes(),
            data.get(MAGIC.len() + 4..).unwrap_or_default(),
        )
    }

    pub fn seal_text(&self, aad: &str, plain: &str) -> String {
        let sealed = self.seal(aad, plain.as_bytes());
        format!(
            "{TEXT_PREFIX}{}:{}",
            self.current,
            base64::engine::general_purpose::STANDARD.encode(sealed)
        )
    }

    pub fn open_text(&self, aad: &str, text: &str) -> Result<String, CryptError> {
        let Some(rest) = text.strip_prefix(TEXT_PREFIX) else {
            return Ok(text.to_string());
        };
        let (_, b64) = rest.split_once(':').ok_or(CryptError::Corrupt)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| CryptError::Corrupt)?;
        String::from_utf8(self.open(aad, &bytes)?).map_err(|_| CryptError::Corrupt)
    }
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(key)
        .expect("HMAC takes keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// The value a lookup column holds: its blind index when a keyring is configured, else itself.
pub fn blind(keys: Option<&Keyring>, domain: &str, value: &str) -> String {
    match keys {
        Some(k) => k.blind(domain, value),
        None => value.to_string(),
    }
}

/// The sealed copy kept beside a lookup column: none without a keyring (the column holds the
/// value itself).
pub fn seal_aside(keys: Option<&Keyring>, aad: &str, value: Option<&str>) -> Option<String> {
    keys.and_then(|k| value.map(|v| k.seal_text(aad, v)))
}

/// Sealing when a keyring is configured, and plain values otherwise: what the stores call.
pub fn seal_text(keys: Option<&Keyring>, aad: &str, plain: &str) -> String {
    match keys {
        Some(k) => k.seal_text(aad, plain),
        None => plain.to_string(),
    }
}

/// Opens text that may be sealed. Without a keyring nothing is sealed (a database with data keys
/// does not open without its master key), so text that merely looks sealed is returned as it is.
pub fn open_text(keys: Option<&Keyring>, aad: &str, text: &str) -> Result<String, CryptError> {
    match keys {
        Some(k) => k.open_text(aad, text),
        None => Ok(text.to_string()),
    }
}

/// Opens bytes that may be sealed; as `open_text`, without a keyring they are returned as they are.
pub fn open_bytes(keys: Option<&Keyring>, aad: &str, data: Vec<u8>) -> Result<Vec<u8>, CryptError> {
    match keys {
        Some(k) => k.open(aad, &data),
        None => Ok(data),
    }
}

/// Whether `text` is a value sealed under this keyring at `aad` (not plaintext that looks like
/// one: a customer may well write `~pk:1:…`).
pub fn opens(keys: &Keyring, aad: &str, text: &str) -> bool {
    text_key_id(text).is_some() && keys.open_text(aad, text).is_ok()
}

/// The keyring for a database's stored data keys under the configured master key: none when
/// neither exists; an error when they do not match (data sealed but no key configured, or a key
/// that does not open them). A new database with a master key gets its first data key from the
/// caller before this is asked.
pub fn keyring_for(
    master: Option<&MasterKey>,
    stored: &[(u32, String)],
) -> anyhow::Result<Option<Keyring>> {
    match master {
        None if stored.is_empty() => Ok(None),
        None => anyhow::bail!(
            "this database is encrypted at rest: configure its master key (PARLEY_MASTER_KEY or master_key_file)"
        ),
        Some(m) => Keyring::open_keys(m, stored).map(Some).map_err(|_| {
            anyhow::anyhow!("the configured master key does not open this database's data keys")
        }),
    }
}

/// Where a sealed field is kept (`message:{id}:body`), bound into its seal. SQLite builds the
/// same text in SQL.
pub fn aad(record: &str, id: impl std::fmt::Display, field: &str) -> String {
    format!("{record}:{id}:{field}")
}

/// Where an event's data is kept: events get their seq only once stored, so the place is the
/// workspace, kind and time.
pub fn event_aad(ws: impl std::fmt::Display, kind: &str, at: i64) -> String {
    format!("event:{ws}:{kind}:{at}")
}

/// A JSON value as stored in a JSON column: sealed, as a JSON string, when keys are set.
pub fn seal_json(keys: Option<&Keyring>, aad: &str, v: &serde_json::Value) -> serde_json::Value {
    match keys {
        Some(k) => serde_json::Value::String(k.seal_text(aad, &v.to_string())),
        None => v.clone(),
    }
}

/// A JSON value read from a JSON column, opened if it was sealed.
pub fn open_json(
    keys: Option<&Keyring>,
    aad: &str,
    v: serde_json::Value,
) -> Result<serde_json::Value, CryptError> {
    match &v {
        serde_json::Value::String(s) if keys.is_some() && s.starts_with(TEXT_PREFIX) => {
            let text = open_text(keys, aad, s)?;
            serde_json::from_str(&text).map_err(|_| CryptError::Corrupt)
        }
        _ => Ok(v),
    }
}

/// Opened text, or the error as a store error naming where it was.
pub fn open_field(
    keys: Option<&Keyring>,
    aad: &str,
    text: Option<String>,
) -> Result<Option<String>, crate::StoreError> {
    text.map(|t| open_text(keys, aad, &t))
        .transpose()
        .map_err(|e| crate::StoreError::Other(anyhow::anyhow!("{aad}: {e}")))
}

/// Sealed text for an optional field.
pub fn seal_field(keys: Option<&Keyring>, aad: &str, text: Option<&str>) -> Option<String> {
    text.map(|t| seal_text(keys, aad, t))
}

/// An inbox's settings (which hold the provider's credentials) as stored.
pub fn seal_inbox_settings(
    keys: Option<&Keyring>,
    id: parley_core::InboxId,
    settings: &serde_json::Value,
) -> String {
    seal_text(keys, &aad("inbox", id, "settings"), &settings.to_string())
}

/// An inbox's signing secret as stored.
pub fn seal_inbox_secret(keys: Option<&Keyring>, id: parley_core::InboxId, secret: &str) -> String {
    seal_text(keys, &aad("inbox", id, "secret"), secret)
}

/// An inbox read back: `settings` is the stored text of its settings.
pub fn open_inbox(
    keys: Option<&Keyring>,
    mut row: crate::InboxRow,
    settings: &str,
) -> Result<crate::InboxRow, crate::StoreError> {
    let bad = |e: CryptError| crate::StoreError::Other(anyhow::anyhow!("inbox {}: {e}", row.id));
    let text = open_text(keys, &aad("inbox", row.id, "settings"), settings).map_err(bad)?;
    row.settings = serde_json::from_str(&text).unwrap_or_default();
    row.secret = open_text(keys, &aad("inbox", row.id, "secret"), &row.secret).map_err(bad)?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ring(master: &MasterKey, ids: &[u32]) -> (Keyring, Vec<(u32, String)>) {
        let wrapped: Vec<_> = ids.iter().map(|i| (*i, master.new_data_key(*i))).collect();
        (Keyring::open_keys(master, &wrapped).unwrap(), wrapped)
    }

    #[test]
    fn sealed_text_opens_only_with_its_key_and_place() {
        let master = MasterKey::generate();
        let (keys, wrapped) = ring(&master, &[1]);
        let sealed = keys.seal_text("inbox:1:secret", "auth-token-123");
        assert!(!sealed.contains("auth-token-123"));
        assert_eq!(text_key_id(&sealed), Some(1));
        assert_eq!(
            keys.open_text("inbox:1:secret", &sealed).unwrap(),
            "auth-token-123"
        );
        // Moved to another record, it does not open.
        assert_eq!(
            keys.open_text("inbox:2:secret", &sealed),
            Err(CryptError::Corrupt)
        );
        // Two seals of the same text differ (a fresh nonce each time).
        assert_ne!(sealed, keys.seal_text("inbox:1:secret", "auth-token-123"));
        // Plain text written before encryption reads as it is.
        assert_eq!(keys.open_text("x", "plain").unwrap(), "plain");
        // Another master key cannot unwrap the data keys.
        assert!(Keyring::open_keys(&MasterKey::generate(), &wrapped).is_err());
        // Without a keyring nothing is sealed: what looks sealed is plain text.
        assert_eq!(open_text(None, "x", &sealed).unwrap(), sealed);
    }

    #[test]
    fn a_newer_key_seals_and_older_ones_still_open() {
        let master = MasterKey::generate();
        let (old, mut wrapped) = ring(&master, &[1]);
        let before = old.seal("f", b"hello");
        wrapped.push((2, master.new_data_key(2)));
        let keys = Keyring::open_keys(&master, &wrapped).unwrap();
        assert_eq!(keys.current(), 2);
        assert_eq!(key_id(&keys.seal("f", b"x")), Some(2));
        assert_eq!(keys.open("f", &before).unwrap(), b"hello");
        // A new master key wraps the same data keys.
        let next = MasterKey::generate();
        let rewrapped: Vec<_> = wrapped
            .iter()
            .map(|(i, w)| (*i, next.rewrap(&master, *i, w).unwrap()))
            .collect();
        let again = Keyring::open_keys(&next, &rewrapped).unwrap();
        assert_eq!(again.open("f", &before).unwrap(), b"hello");
    }

    #[test]
    fn master_keys_parse_from_hex_or_base64() {
        let k = MasterKey::generate();
        assert_eq!(
            MasterKey::parse(&format!("{}\n", k.encode())).unwrap().0,
            k.0
        );
        let hex = hex::encode(*k.0);
        assert_eq!(MasterKey::parse(&hex).unwrap().0, k.0);
        for bad in ["", "short", "zz", &hex[..60]] {
            assert_eq!(MasterKey::parse(bad).unwrap_err(), CryptError::BadMasterKey);
        }
    }
}
