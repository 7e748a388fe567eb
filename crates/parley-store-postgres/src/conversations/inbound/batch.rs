//! Group commit for customers' messages. One task takes every inbound message waiting, stores each
//! in its own savepoint of one transaction, commits once, publishes, and only then answers each
//! caller: an acknowledged message is durable, and messages that arrive together share a commit.

use std::sync::Arc;

use parley_store::{InboundMessage, InboundOutcome, StoreError, StoreResult};
use tokio::sync::{mpsc, oneshot};

use crate::db::{lock_events, Db, Tx};

use crate::pipeline::Stmt;
use crate::rows::pg_err;

/// The most messages one transaction takes. Each gets a savepoint, and PostgreSQL caches only 64
/// subtransactions per backend before every other session's snapshots get slower; the commit is
/// already shared 64 ways, so a bigger batch would buy nothing.
const MAX_BATCH: usize = 64;
/// How many messages may wait for the batcher before callers wait to hand theirs over.
const QUEUE: usize = 4096;

type Reply = oneshot::Sender<StoreResult<InboundOutcome>>;

/// Hands messages to the batcher task. Dropping the last clone stops the task.
#[derive(Clone)]
pub(crate) struct Inbound {
    tx: mpsc::Sender<(InboundMessage, Reply)>,
}

impl Inbound {
    pub(crate) fn start(db: Arc<Db>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(batcher(db, rx));
        Self { tx }
    }

    /// Stores `msg`; resolves once the batch holding it has committed.
    pub(crate) async fn apply(&self, msg: InboundMessage) -> StoreResult<InboundOutcome> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((msg, reply))
            .await
            .map_err(|_| StoreError::Other(anyhow::anyhow!("the inbound batcher has stopped")))?;
        answer.await.map_err(|_| {
            StoreError::Other(anyhow::anyhow!("the inbound batcher dropped a message"))
        })?
    }
}

async fn batcher(db: Arc<Db>, mut rx: mpsc::Receiver<(InboundMessage, Reply)>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let (msgs, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        match commit_batch(&db, msgs).await {
            Ok(results) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "an inbound batch could not be committed");
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Other(anyhow::anyhow!(
                        "the transaction could not be committed: {e}"
                    ))));
                }
            }
        }
    }
}

/// Stores a batch in one transaction. The outer error means nothing was committed; an item's own
/// error means only that item was rolled back.
async fn commit_batch(
    db: &Db,
    msgs: Vec<InboundMessage>,
) -> StoreResult<Vec<StoreResult<InboundOutcome>>> {
    let mut client = db.client().await?;
    let tx = db.begin(&mut client).await?;
    lock_events(&tx).await?;
    let mut published = Vec::new();
    // A lone message needs no savepoint: if it fails, the whole transaction is rolled back anyway.
    let msgs = match <[InboundMessage; 1]>::try_from(msgs) {
        Ok([m]) => {
            let r = store(&tx, m, Vec::new(), &mut published).await;
            if r.is_ok() {
                db.commit(tx, published).await?;
            }
            return Ok(vec![r]);
        }
        Err(msgs) => msgs,
    };
    let mut results = Vec::with_capacity(msgs.len());
    tx.batch_execute("SAVEPOINT inbound")
        .await
        .map_err(pg_err)?;
    for m in msgs {
        // Releasing this message's savepoint and opening the next ride along with its writes.
        let next = vec![
            Stmt::new("RELEASE SAVEPOINT inbound", Vec::new()),
            Stmt::new("SAVEPOINT inbound", Vec::new()),
        ];
        let r = store(&tx, m, next, &mut published).await;
        if r.is_err() {
            // The savepoint stays open for the next message. Should this fail, the transaction is
            // in an unknown state: the batch fails rather than commit it.
            tx.batch_execute("ROLLBACK TO SAVEPOINT inbound")
                .await
                .map_err(pg_err)?;
        }
        results.push(r);
    }
    db.commit(tx, published).await?;
    Ok(results)
}

async fn store(
    tx: &Tx<'_>,
    m: InboundMessage,
    trailer: Vec<Stmt>,
    published: &mut Vec<parley_store::Published>,
) -> StoreResult<InboundOutcome> {
    super::plan(tx, m)
        .await?
        .write(tx, trailer, published)
        .await
}
