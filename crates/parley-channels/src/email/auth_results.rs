//! `Authentication-Results` (RFC 8601): what a receiving mail server concluded about a message's
//! sender. Anyone can write such a header, so only those of the server the operator names count.

/// Whether a server named `authserv_id` (case-insensitively) reported `dmarc=fail` for this raw
/// message. Headers of other servers are ignored; among that server's, a failure wins, so a
/// forged `dmarc=pass` added by the sender cannot hide it.
pub fn dmarc_failed(raw: &[u8], authserv_id: &str) -> bool {
    let wanted = authserv_id.trim();
    if wanted.is_empty() {
        return false;
    }
    header_values(raw, "authentication-results")
        .iter()
        .any(|v| reports_dmarc_fail(v, wanted))
}

/// The unfolded values of every header of this name, in the header section only.
fn header_values(raw: &[u8], name: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let mut out: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(v) = current.as_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        out.extend(current.take());
        current = line
            .split_once(':')
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string());
    }
    out.extend(current);
    out
}

/// Drops `(comments)`, nested ones included.
fn without_comments(v: &str) -> String {
    let mut depth = 0usize;
    v.chars()
        .filter(|c| match c {
            '(' => {
                depth += 1;
                false
            }
            ')' => {
                depth = depth.saturating_sub(1);
                false
            }
            _ => depth == 0,
        })
        .collect()
}

fn reports_dmarc_fail(value: &str, authserv_id: &str) -> bool {
    let value = without_comments(value);
    let mut parts = value.split(';');
    let server = parts
        .next()
        .and_then(|p| p.split_whitespace().next())
        .unwrap_or_default();
    if !server.eq_ignore_ascii_case(authserv_id) {
        return false;
    }
    parts.any(|p| {
        let Some((method, result)) = p.split_whitespace().next().and_then(|r| r.split_once('='))
        else {
            return false;
        };
        let method = method.split('/').next().unwrap_or_default().trim();
        method.eq_ignore_ascii_case("dmarc") && result.trim().eq_ignore_ascii_case("fail")
    })
}

#[cfg(test)]
mod tests {
    use super::dmarc_failed;

    fn mail(headers: &str) -> Vec<u8> {
        format!("{headers}From: a@b.example\r\nSubject: STOP\r\n\r\nAuthentication-Results: mx.acme.example; dmarc=fail\r\n")
            .into_bytes()
    }

    #[test]
    fn only_the_named_servers_failure_counts() {
        let fail = mail("Authentication-Results: mx.acme.example;\r\n\tspf=pass smtp.mailfrom=b.example;\r\n\tdmarc=fail (p=reject dis=none) header.from=b.example\r\n");
        assert!(dmarc_failed(&fail, "mx.acme.example"));
        assert!(dmarc_failed(&fail, "MX.Acme.Example"));
        assert!(!dmarc_failed(&fail, "mx.other.example"));
        assert!(!dmarc_failed(&fail, ""));
        let pass =
            mail("Authentication-Results: mx.acme.example 1; dmarc=pass header.from=b.example\r\n");
        assert!(!dmarc_failed(&pass, "mx.acme.example"));
        // Another server's verdict, a comment that only looks like one, and the body are ignored.
        let other = mail("Authentication-Results: evil.example; dmarc=fail\r\nX-Note: (mx.acme.example; dmarc=fail)\r\n");
        assert!(!dmarc_failed(&other, "mx.acme.example"));
        let commented =
            mail("Authentication-Results: mx.acme.example; dkim=pass (dmarc=fail) header.d=b.example\r\n");
        assert!(!dmarc_failed(&commented, "mx.acme.example"));
        // A forged pass beside the real failure does not hide it.
        let both = mail("Authentication-Results: mx.acme.example; dmarc=pass\r\nAuthentication-Results: mx.acme.example; dmarc/1=FAIL\r\n");
        assert!(dmarc_failed(&both, "mx.acme.example"));
    }
}
