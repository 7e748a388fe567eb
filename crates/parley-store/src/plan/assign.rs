//! Who a conversation may be assigned to: an admin of the workspace or a member of the
//! conversation's inbox, and a team of the workspace.

use crate::{StoreError, StoreResult};

/// Refuses an assignment the database cannot hold. `assignee_works_inbox` answers whether the named
/// assignee is an admin or a member of the conversation's inbox (`None`: nobody named); `team` is
/// the lookup of the named team (`None`: no team named). An unknown assignee or team is the
/// caller's mistake (`Invalid`); a lookup that failed otherwise stays that failure.
pub fn check_assignment<T>(
    assignee_works_inbox: Option<bool>,
    team: Option<StoreResult<T>>,
) -> StoreResult<()> {
    if assignee_works_inbox == Some(false) {
        return Err(StoreError::Invalid {
            field: "assignee_id",
            reason: "is not a member of this conversation's inbox".into(),
        });
    }
    match team {
        Some(Err(StoreError::NotFound)) => Err(StoreError::Invalid {
            field: "team_id",
            reason: "no such team".into(),
        }),
        Some(Err(e)) => Err(e),
        Some(Ok(_)) | None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::check_assignment;
    use crate::StoreError;

    #[test]
    fn an_outsider_is_refused_before_the_team_is_looked_at() {
        let r = check_assignment::<()>(Some(false), Some(Err(StoreError::NotFound)));
        assert!(matches!(
            r,
            Err(StoreError::Invalid {
                field: "assignee_id",
                ..
            })
        ));
    }

    #[test]
    fn a_missing_team_is_invalid_and_a_failed_lookup_is_not() {
        let r = check_assignment::<()>(None, Some(Err(StoreError::NotFound)));
        assert!(matches!(
            r,
            Err(StoreError::Invalid {
                field: "team_id",
                ..
            })
        ));
        let r = check_assignment::<()>(
            Some(true),
            Some(Err(StoreError::Other(anyhow::anyhow!("disk full")))),
        );
        assert!(matches!(r, Err(StoreError::Other(_))));
        assert!(check_assignment(Some(true), Some(Ok(()))).is_ok());
    }
}
