//! Retry policy for outbound deliveries: exponential backoff with jitter, and a limit after which a
//! failure is permanent.

/// How long to wait before attempt `attempt + 1`, given `attempt` failures so far, in milliseconds.
/// `jitter` in [0, 1) spreads retries of many messages that failed together.
pub fn backoff_ms(attempt: u32, base_ms: i64, max_ms: i64, jitter: f64) -> i64 {
    let exp = base_ms.saturating_mul(1i64 << attempt.min(30));
    let capped = exp.min(max_ms);
    capped + (capped as f64 * 0.25 * jitter.clamp(0.0, 1.0)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps() {
        assert_eq!(backoff_ms(0, 1000, 60_000, 0.0), 1000);
        assert_eq!(backoff_ms(3, 1000, 60_000, 0.0), 8000);
        assert_eq!(backoff_ms(20, 1000, 60_000, 0.0), 60_000);
        let j = backoff_ms(3, 1000, 60_000, 0.99);
        assert!(j > 8000 && j < 11_000, "{j}");
    }
}
