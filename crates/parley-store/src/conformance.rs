//! The conformance suite: one async test per store behaviour, run by every backend through
//! `conformance_tests!`, so SQLite and PostgreSQL are held to the same contract.

use std::sync::{Arc, Mutex};

use crate::{DynStore, EventSink, Published};

/// A store under test and every event its sink received, in order.
pub struct Harness {
    pub store: DynStore,
    pub published: Arc<Mutex<Vec<Published>>>,
}

impl Harness {
    /// Builds a harness from a backend constructor that takes the sink to use.
    pub async fn new<F, Fut>(make: F) -> Self
    where
        F: FnOnce(EventSink) -> Fut,
        Fut: std::future::Future<Output = DynStore>,
    {
        let published = Arc::new(Mutex::new(Vec::new()));
        let p = Arc::clone(&published);
        let sink: EventSink = Arc::new(move |evs: &[Published]| {
            if let Ok(mut v) = p.lock() {
                v.extend(evs.iter().cloned());
            }
        });
        Self {
            store: make(sink).await,
            published,
        }
    }

    pub fn published(&self) -> Vec<Published> {
        self.published.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// Generates one `#[tokio::test]` per conformance test, building each store with `$make`, an
/// expression of type `impl FnOnce(EventSink) -> impl Future<Output = DynStore>`.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@each $make;
            inbound_creates_contact_and_conversation_once,
            inbound_reopens_resolved_and_snoozed_with_history,
            replies_answer_waiting_and_queue_delivery,
            automated_messages_answer_nobody_and_events_only_record,
            scopes_hide_other_inboxes_and_workspaces,
            lists_filter_sort_and_paginate,
            contacts_search_identities_and_merge,
            events_are_published_in_commit_order_and_replayable,
            outbox_claims_retries_and_fails,
            claims_take_turns_across_inboxes_within_their_cap,
            the_backlog_counts_deliveries_nobody_holds,
            an_inbox_over_a_lowered_cap_is_left_out,
            users_sessions_and_tokens,
            snoozed_conversations_wake_up,
            refused_commands_store_nothing,
            delivery_reports_move_status_forward_only,
            failure_reports_carry_the_reason,
            deferred_deliveries_wait_without_an_attempt,
            a_known_phone_or_email_on_a_new_channel_is_the_same_contact,
            a_named_thread_takes_the_message_and_lookups_find_it,
            a_read_watermark_marks_earlier_replies_read,
            the_consent_ledger_appends_and_survives_a_merge,
            the_gate_reads_its_facts_and_silent_numbers_are_listed,
            retention_removes_old_content_and_keeps_the_timeline,
            erasure_anonymises_and_keeps_revocations,
            counts_follow_the_views_and_the_scope,
            a_blocked_contact_asks_nothing_of_anyone,
            seen_marks_are_per_user_and_only_move_forward,
            contact_lists_hold_contacts_through_merges_and_erasure,
            contacts_and_quoted_messages_follow_the_inbox_scope,
            revocations_and_access_changes_are_logged_in_order,
            a_survey_takes_one_answer_and_keeps_its_key,
            a_rating_reply_answers_the_survey_without_reopening,
            a_call_lands_on_the_callers_conversation_once,
            a_keyword_changes_consent_in_its_messages_transaction,
            an_inbox_pace_and_auto_replies_once_per_period,
            templates_keep_shortcuts_counts_and_replace_by_shortcut,
            timers_fire_once_move_and_come_back_after_a_lease,
            timers_are_cancelled_by_key_or_prefix_in_their_workspace,
            concurrent_claimers_take_each_timer_once,
            a_snooze_sets_its_wake_up_and_a_customer_message_cancels_it,
            rules_keep_their_order_and_their_statistics,
            attributed_commands_name_their_rule_on_the_timeline,
            macros_are_named_once_per_workspace,
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let h = $crate::conformance::Harness::new($make).await;
            $crate::conformance::tests::$name(h).await;
        }
    )*};
}

pub mod templates;
pub mod tests;
