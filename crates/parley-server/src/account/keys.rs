//! Key rotation for encryption at rest: a new data key, then every sealed field and file sealed
//! again under it, while servers keep running (they load the new key within `REFRESH`).

use std::time::Duration;

use parley_store::crypt;

use crate::state::App;

/// How often a server looks for data keys another process added.
pub const REFRESH: Duration = Duration::from_secs(5);

/// What a rotation did.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct Rotation {
    pub key: u32,
    pub records: u64,
    pub files: u64,
}

/// Adds a data key and seals everything again under it. `grace` is how long to wait, after adding
/// the key, for running servers to load it (twice `REFRESH` in production): until they do, they
/// still seal under the previous key, and the pass would find that work again.
pub async fn rotate(
    app: &App,
    grace: Duration,
    progress: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<Rotation> {
    let key = app.store.add_data_key(app.now()).await?;
    progress(&format!("added data key {key}"));
    if !grace.is_zero() {
        progress(&format!(
            "waiting {} s for running servers to load it",
            grace.as_secs()
        ));
        tokio::time::sleep(grace).await;
    }
    let mut out = Rotation {
        key,
        ..Rotation::default()
    };
    loop {
        let n = app.store.reseal(500).await?;
        if n == 0 {
            break;
        }
        out.records += n;
        progress(&format!("{} records sealed again", out.records));
    }
    out.files = seal_files(app, false).await?;
    progress(&format!("{} files sealed again", out.files));
    Ok(out)
}

/// Seals under the current key every file a message lists that is not already (after a rotation,
/// or with `existing`, when encryption was turned on for a database that held files in plaintext:
/// a file that does not open is the plaintext it was); answers how many.
pub async fn seal_files(app: &App, existing: bool) -> anyhow::Result<u64> {
    let keys = app
        .store
        .keyring()
        .ok_or_else(|| anyhow::anyhow!("encryption at rest is off"))?;
    let mut files = 0;
    let mut after = None;
    loop {
        let batch = app.store.message_files(after, 500).await?;
        let Some(last) = batch.last() else {
            break;
        };
        after = Some(last.message);
        for m in &batch {
            for file in &m.files {
                let k = format!("{}/{}/{file}", m.workspace, m.inbox);
                for blob in [k.clone(), format!("{k}.json")] {
                    if reseal_file(app, &keys, &blob, existing).await? {
                        files += 1;
                    }
                }
            }
        }
    }
    Ok(files)
}

/// Seals a stored file again under the current key; `false` when it already is, or is gone.
async fn reseal_file(
    app: &App,
    keys: &crypt::Keyring,
    blob: &str,
    existing: bool,
) -> anyhow::Result<bool> {
    let raw = match app.blobs.get(blob).await {
        Ok(b) => b,
        Err(parley_blobs::BlobError::NotFound) => return Ok(false),
        Err(e) => return Err(anyhow::anyhow!("{blob}: {e}")),
    };
    if crypt::key_id(&raw) == Some(keys.current()) {
        return Ok(false);
    }
    let place = format!("blob:{blob}");
    let plain = match keys.open(&place, &raw) {
        Ok(p) => p,
        Err(_) if existing => raw,
        Err(e) => return Err(anyhow::anyhow!("{blob}: {e}")),
    };
    app.blobs
        .put(blob, keys.seal(&place, &plain))
        .await
        .map_err(|e| anyhow::anyhow!("{blob}: {e}"))?;
    Ok(true)
}

/// Loads data keys other processes add, every `REFRESH`.
pub async fn refresh_loop(app: App) {
    loop {
        tokio::time::sleep(REFRESH).await;
        match app.store.refresh_keys().await {
            Ok(true) => tracing::info!("loaded a new data key"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "could not load the data keys"),
        }
    }
}
