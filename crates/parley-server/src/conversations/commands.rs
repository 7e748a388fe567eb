//! The agent commands on a conversation (note, assign, hand off, status, priority, labels, seen):
//! what the caller may do is checked here, each change is one store call, and whoever needs to
//! know is woken after it.

use parley_core::conversation::{parse_label, Priority, Status};
use parley_core::message::{self, parse_body, Resolved};
use parley_core::{ConversationId, TeamId, Timestamp, UserId};
use parley_store::{ActOutcome, Command, ConversationView, Principal, StoreError, UserView};

use crate::conversations::views::{AmbiguousMention, NoteWrittenView, Teammate};
use crate::http::caller::is_supervisor_or_admin;
use crate::state::App;

/// Why a command was refused.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("give assignee_id, team_id or both")]
    NothingToAssign,
    #[error("agents may assign conversations only to themselves")]
    AssignsOthers,
    #[error("agents may hand off only conversations assigned to them or to nobody")]
    HandsOffOthers,
    #[error("no such team in this workspace")]
    NoSuchTeam,
    #[error("give priority, status or both")]
    NothingToChange,
    #[error("at most 50 labels at once")]
    TooManyLabels,
    #[error("{0} is not a user of this workspace")]
    NotAUser(UserId),
    #[error(transparent)]
    Invalid(#[from] parley_core::Invalid),
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Result<T, E = CommandError> = std::result::Result<T, E>;

/// Runs a command and wakes whoever needs to know: the dispatcher for a reply, the timer worker
/// for a snooze, the survey for a resolve.
pub(crate) async fn run(
    app: &App,
    p: &Principal,
    id: ConversationId,
    cmd: Command,
) -> Result<ActOutcome> {
    let is_reply = matches!(cmd, Command::Reply { .. } | Command::BotReply { .. });
    let resolving = matches!(
        cmd,
        Command::SetStatus {
            to: Status::Resolved,
            ..
        }
    );
    let out = app
        .store
        .act(&p.scope(), id, p.user_id, cmd, app.now())
        .await?;
    if is_reply {
        app.dispatch_bell.notify_one();
        crate::automations::timed::on_business_reply(app, p.workspace_id, id).await;
    }
    // The store set its wake-up timer with the snooze; the worker may sleep past it.
    if let Some(until) = out.conversation.snoozed_until {
        app.timer_bell.due(until);
    }
    // The rules react to what the agent did (a resolve, a reopen, an assignment, labels).
    for what in crate::automations::happenings_of(&out.events) {
        let origin = crate::automations::Origin::default();
        crate::automations::react_logged(app, p.workspace_id, id, what, origin).await;
    }
    if resolving {
        // The satisfaction survey, when the workspace sends one, goes after the answer.
        let (app, p, conv) = (app.clone(), p.clone(), out.conversation.clone());
        tokio::spawn(
            async move { crate::conversations::survey::after_resolve(&app, &p, &conv).await },
        );
    }
    Ok(out)
}

/// Writes an internal note. Its mentions notify agents: the ids given and the `@names` in its
/// text that name one teammate; the others are answered as unresolved or ambiguous.
pub async fn write_note(
    app: &App,
    p: &Principal,
    id: ConversationId,
    body: &str,
    mentioned: &[UserId],
) -> Result<NoteWrittenView> {
    let body = parse_body("body", body)?;
    let users = app.store.list_users(p.workspace_id).await?;
    let mut mentions: Vec<UserId> = Vec::new();
    for id in mentioned {
        if !users.iter().any(|u| u.id == *id) {
            return Err(CommandError::NotAUser(*id));
        }
        mentions.push(*id);
    }
    let (unresolved, ambiguous) = resolve_mentions(&body, &users, &mut mentions);
    let out = run(app, p, id, Command::Note { body, mentions }).await?;
    Ok(NoteWrittenView {
        note: out.note.map(Into::into),
        conversation: out.conversation.into(),
        unresolved_mentions: unresolved,
        ambiguous_mentions: ambiguous,
    })
}

/// Adds to `mentions` the teammates the text's `@names` name; answers those naming nobody and
/// those naming several.
fn resolve_mentions(
    body: &str,
    users: &[UserView],
    mentions: &mut Vec<UserId>,
) -> (Vec<String>, Vec<AmbiguousMention>) {
    let people: Vec<(UserId, &str, &str)> = users
        .iter()
        .map(|u| (u.id, u.name.as_str(), u.email.as_str()))
        .collect();
    let (mut unresolved, mut ambiguous) = (Vec::new(), Vec::new());
    for m in message::mentions(body) {
        match message::resolve_mention(&m.key, &people) {
            Resolved::One(id) => {
                if !mentions.contains(&id) {
                    mentions.push(id);
                }
            }
            Resolved::Ambiguous(ids) => {
                let candidates = users
                    .iter()
                    .filter(|u| ids.contains(&u.id))
                    .map(|u| Teammate {
                        id: u.id,
                        name: u.name.clone(),
                        email: u.email.clone(),
                    })
                    .collect();
                ambiguous.push(AmbiguousMention {
                    mention: m.written,
                    candidates,
                });
            }
            Resolved::Nobody => unresolved.push(m.written),
        }
    }
    (unresolved, ambiguous)
}

/// Assigns to an agent and/or a team: `None` leaves one as it is, `Some(None)` clears it.
/// Agents pick up or put down their own work; reassigning others is for supervisors and admins.
pub async fn assign(
    app: &App,
    p: &Principal,
    id: ConversationId,
    assignee: Option<Option<UserId>>,
    team: Option<Option<TeamId>>,
) -> Result<ConversationView> {
    if assignee.is_none() && team.is_none() {
        return Err(CommandError::NothingToAssign);
    }
    let current = app.store.conversation(&p.scope(), id).await?;
    let assignee = assignee.unwrap_or(current.assignee_id);
    let team = team.unwrap_or(current.team_id);
    if !is_supervisor_or_admin(p) {
        let others_before = current.assignee_id.is_some_and(|a| a != p.user_id);
        let others_after = assignee.is_some_and(|a| a != p.user_id);
        if others_before || others_after {
            return Err(CommandError::AssignsOthers);
        }
    }
    let out = run(app, p, id, Command::Assign { assignee, team }).await?;
    Ok(out.conversation)
}

/// A bot (or an agent) passes the conversation to people: its note for them, then the
/// conversation unassigned (to `team`, if given) and open, waiting in their views. Everything is
/// checked before anything is written.
pub async fn handoff(
    app: &App,
    p: &Principal,
    id: ConversationId,
    team: Option<TeamId>,
    note: Option<&str>,
) -> Result<ConversationView> {
    let note = note.map(|n| parse_body("note", n)).transpose()?;
    let current = app.store.conversation(&p.scope(), id).await?;
    if let Some(team) = team {
        let teams = app.store.list_teams(p.workspace_id).await?;
        if !teams.iter().any(|t| t.id == team) {
            return Err(CommandError::NoSuchTeam);
        }
    }
    // Agents (bots are agents) hand off only what is theirs or nobody's.
    if !is_supervisor_or_admin(p) && current.assignee_id.is_some_and(|a| a != p.user_id) {
        return Err(CommandError::HandsOffOthers);
    }
    let team = team.or(current.team_id);
    if let Some(body) = note {
        let mentions = Vec::new();
        run(app, p, id, Command::Note { body, mentions }).await?;
    }
    if current.assignee_id.is_some() || team != current.team_id {
        let assignee = None;
        run(app, p, id, Command::Assign { assignee, team }).await?;
    }
    if current.status != Status::Open {
        let (to, snoozed_until) = (Status::Open, None);
        run(app, p, id, Command::SetStatus { to, snoozed_until }).await?;
    }
    Ok(app.store.conversation(&p.scope(), id).await?)
}

/// Moves the conversation to a status (`until` for a snooze).
pub(crate) async fn set_status(
    app: &App,
    p: &Principal,
    id: ConversationId,
    to: Status,
    until: Option<Timestamp>,
) -> Result<ConversationView> {
    let snoozed_until = until;
    let out = run(app, p, id, Command::SetStatus { to, snoozed_until }).await?;
    Ok(out.conversation)
}

/// Changes priority, status or both (priority first); the conversation as the last change left
/// it.
pub async fn change(
    app: &App,
    p: &Principal,
    id: ConversationId,
    priority: Option<Priority>,
    status: Option<(Status, Option<Timestamp>)>,
) -> Result<Option<ConversationView>> {
    if priority.is_none() && status.is_none() {
        return Err(CommandError::NothingToChange);
    }
    let mut conv = None;
    if let Some(pr) = priority {
        conv = Some(
            run(app, p, id, Command::SetPriority(pr))
                .await?
                .conversation,
        );
    }
    if let Some((to, until)) = status {
        conv = Some(set_status(app, p, id, to, until).await?);
    }
    Ok(conv)
}

/// Adds and removes labels, at most 50 at once.
pub async fn relabel(
    app: &App,
    p: &Principal,
    id: ConversationId,
    add: &[String],
    remove: &[String],
) -> Result<ConversationView> {
    if add.len() + remove.len() > 50 {
        return Err(CommandError::TooManyLabels);
    }
    let parse = |labels: &[String]| {
        labels
            .iter()
            .map(|l| parse_label(l))
            .collect::<Result<Vec<_>, _>>()
    };
    let (add, remove) = (parse(add)?, parse(remove)?);
    let out = run(app, p, id, Command::Labels { add, remove }).await?;
    Ok(out.conversation)
}

/// The caller has looked at the conversation as it is now: it is no longer unread for them (for
/// no one else).
pub async fn mark_seen(app: &App, p: &Principal, id: ConversationId) -> Result<()> {
    let scope = p.scope();
    let conv = app.store.conversation(&scope, id).await?;
    // As the conversation is now: the newest thing in it, or the present if later.
    let at = conv.last_activity_at.max(app.now());
    app.store.mark_seen(&scope, id, at).await?;
    Ok(())
}
