//! Statements built as values, so the hot path can send several in one round trip: tokio-postgres
//! sends a request when its future is first polled, and the server runs requests in arrival order.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row};

use crate::db::Tx;

pub(crate) type Param = Box<dyn ToSql + Sync + Send>;

/// One statement and its parameters, to run alone (`run`) or with others (`pipeline`).
pub(crate) struct Stmt {
    pub sql: &'static str,
    pub params: Vec<Param>,
}

impl Stmt {
    pub(crate) fn new(sql: &'static str, params: Vec<Param>) -> Self {
        Self { sql, params }
    }

    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }

    pub(crate) async fn run(&self, tx: &Tx<'_>) -> Result<Vec<Row>, Error> {
        let stmt = tx.prepare_cached(self.sql).await?;
        tx.query(&stmt, &self.refs()).await
    }
}

/// Runs `stmts` in order, in one round trip once their statements are cached, and returns each
/// one's rows. On the first error it stops waiting: the server rejects whatever follows in the
/// same transaction, which the caller rolls back.
pub(crate) async fn pipeline(tx: &Tx<'_>, stmts: &[Stmt]) -> Result<Vec<Vec<Row>>, Error> {
    // Prepared first, so no execute waits on a Parse and falls behind the ones after it.
    let mut prepared = Vec::with_capacity(stmts.len());
    for s in stmts {
        prepared.push(tx.prepare_cached(s.sql).await?);
    }
    let params: Vec<Vec<&(dyn ToSql + Sync)>> = stmts.iter().map(Stmt::refs).collect();
    let queries = prepared
        .iter()
        .zip(&params)
        .map(|(stmt, p)| Box::pin(tx.query(stmt, p.as_slice())) as RowsFut<'_>)
        .collect();
    join_in_order(queries).await
}

type RowsFut<'a> = Pin<Box<dyn Future<Output = Result<Vec<Row>, Error>> + Send + 'a>>;

/// Waits for every future, polling each for the first time in order (which fixes the order the
/// requests go out in).
async fn join_in_order(mut futs: Vec<RowsFut<'_>>) -> Result<Vec<Vec<Row>>, Error> {
    let mut out: Vec<Option<Vec<Row>>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in futs.iter_mut().zip(out.iter_mut()) {
            if slot.is_some() {
                continue;
            }
            match f.as_mut().poll(cx) {
                Poll::Ready(Ok(rows)) => *slot = Some(rows),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => pending = true,
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(Ok(()))
        }
    })
    .await?;
    Ok(out.into_iter().flatten().collect())
}
