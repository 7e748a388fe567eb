//! `parley bench gate`: the cost of one compliance decision (`parley_core::compliance::check`)
//! on its own, without the store read the dispatcher makes before it: the allow path, a quiet-
//! hours hold (which searches for the next opening), and a denial, over a ledger of realistic size.

use std::time::Instant;

use parley_core::compliance::{check, Kind, Outbound, Policy, Recipient, Verdict, Window};
use parley_core::consent::{Action, Entry, Purpose};
use parley_core::Timestamp;

#[derive(clap::Args)]
pub struct GateArgs {
    /// Decisions per measurement
    #[arg(long, default_value_t = 200_000)]
    iterations: u32,
    /// Entries in the contact's consent ledger
    #[arg(long, default_value_t = 12)]
    ledger: usize,
}

pub fn gate(args: GateArgs) -> anyhow::Result<()> {
    let day = 86_400_000i64;
    // 2027-01-12T17:00Z is noon in New York; 03:00Z the next day is 22:00 there.
    let noon = Timestamp(1_799_773_200_000);
    let night = Timestamp(noon.0 + 10 * 3_600_000);
    let mut ledger: Vec<Entry> = (0..args.ledger)
        .map(|i| Entry {
            purpose: Purpose::ALL[i % 3],
            action: if i % 2 == 0 {
                Action::Grant
            } else {
                Action::Revoke
            },
            channel: Some("sms".into()),
            source: "web_form".into(),
            at: Timestamp(noon.0 - (args.ledger - i) as i64 * day),
        })
        .collect();
    ledger.push(Entry {
        purpose: Purpose::Informational,
        action: Action::Grant,
        channel: Some("sms".into()),
        source: "web_form".into(),
        at: Timestamp(noon.0 - day),
    });
    let policy = Policy {
        quiet_hours: Window::FEDERAL,
        inactivity_ms: Some(180 * day),
        timezone: "UTC".into(),
    };
    let to = Recipient {
        phone: Some("+12125550100"),
        timezone: None,
        last_inbound: Some(Timestamp(noon.0 - 2 * day)),
    };
    let msg = |purpose| Outbound {
        purpose,
        channel: "sms",
        customer_started: false,
        kind: Kind::Message,
        channel_closed: None,
    };
    let cases = [
        (
            "allow (informational, noon)",
            msg(Purpose::Informational),
            noon,
            "allow",
        ),
        (
            "hold (informational, 22:00)",
            msg(Purpose::Informational),
            night,
            "hold",
        ),
        (
            "deny (promotional, revoked)",
            msg(Purpose::Promotional),
            noon,
            "deny",
        ),
    ];
    println!(
        "compliance::check, {} decisions per row, ledger of {} entries",
        args.iterations,
        ledger.len()
    );
    for (name, m, now, want) in cases {
        let got = match check(&m, &ledger, &to, &policy, now) {
            Verdict::Allow => "allow",
            Verdict::Hold { .. } => "hold",
            Verdict::Deny { .. } => "deny",
        };
        anyhow::ensure!(got == want, "{name}: expected {want}, got {got}");
        let mut runs = Vec::new();
        for _ in 0..3 {
            let start = Instant::now();
            for _ in 0..args.iterations {
                std::hint::black_box(check(std::hint::black_box(&m), &ledger, &to, &policy, now));
            }
            runs.push(start.elapsed().as_nanos() as f64 / f64::from(args.iterations));
        }
        runs.sort_by(f64::total_cmp);
        println!(
            "{name:<30} median {:>8.0} ns/decision (runs: {:.0}, {:.0}, {:.0})",
            runs[1], runs[0], runs[1], runs[2]
        );
    }
    Ok(())
}
