//! Compliance keywords in a customer's message: opt-out (STOP and the FCC's and carriers' list),
//! opt-in (START) and help (HELP), matched whatever the case, spacing or punctuation, and
//! natural-language revocations ("please stop texting me", "take me off your list").

/// What a customer's message asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    OptOut,
    OptIn,
    Help,
}

/// Opt-out words: Twilio's defaults, the CTIA set, the FCC's per-se reasonable replies, and
/// AWS's additions (channels reference, section 3).
const OPT_OUT: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
    "OPT OUT",
    "ARRET",
    "REMOVE",
    "TD",
];
const OPT_IN: &[&str] = &["START", "UNSTOP", "YES"];
const HELP: &[&str] = &["HELP", "INFO"];

/// Upper case, letters and digits only, words separated by one space ("Opt-out!" → "OPT OUT").
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_uppercase));
    }
    out
}

/// Phrases that revoke consent in a sentence, after `normalize`.
const REVOKING_PHRASES: &[&str] = &[
    "STOP TEXTING",
    "STOP MESSAGING",
    "STOP SENDING",
    "STOP CONTACTING",
    "STOP CALLING",
    "STOP EMAILING",
    "TAKE ME OFF",
    "REMOVE ME",
    "UNSUBSCRIBE ME",
    "OPT ME OUT",
    "DONT TEXT ME",
    "DON T TEXT ME",
    "DO NOT TEXT ME",
    "DONT CONTACT ME",
    "DON T CONTACT ME",
    "DO NOT CONTACT ME",
    "DO NOT MESSAGE ME",
    "NO MORE TEXTS",
    "NO MORE MESSAGES",
    "LEAVE ME ALONE",
];

/// The keyword a message is, with the workspace's own words (other languages) added to each list.
/// A message is a keyword when, normalised, it is one of the words, alone or with "please".
pub fn keyword(
    text: &str,
    extra_opt_out: &[String],
    extra_opt_in: &[String],
    extra_help: &[String],
) -> Option<Keyword> {
    let n = normalize(text);
    let bare = n
        .strip_prefix("PLEASE ")
        .or_else(|| n.strip_suffix(" PLEASE"))
        .unwrap_or(&n);
    let is = |list: &[&str], extra: &[String]| {
        list.contains(&bare) || extra.iter().any(|w| normalize(w) == bare)
    };
    if is(OPT_OUT, extra_opt_out) {
        Some(Keyword::OptOut)
    } else if is(OPT_IN, extra_opt_in) {
        Some(Keyword::OptIn)
    } else if is(HELP, extra_help) {
        Some(Keyword::Help)
    } else {
        None
    }
}

/// How sure we are that a longer message revokes consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// A revoking phrase ("please stop texting me").
    Clear,
    /// An opt-out word inside a longer message ("I want to cancel"): an agent should review it.
    Probable,
}

/// Whether a message that is not a bare keyword asks to stop being contacted.
pub fn revocation(text: &str) -> Option<Revocation> {
    let words = words(text);
    let n = format!(" {} ", words.join(" "));
    // A phrase counts only as whole words: `n` is padded with spaces, phrases are not.
    let has = |p: &str| {
        n.match_indices(p).any(|(i, _)| {
            n.as_bytes()[i - 1] == b' ' && n.as_bytes().get(i + p.len()) == Some(&b' ')
        })
    };
    if REVOKING_PHRASES.iter().any(|p| has(p)) || starts_with_opt_out(text) {
        return Some(Revocation::Clear);
    }
    let opt_out_word = words
        .iter()
        .any(|w| OPT_OUT.contains(&w.as_str()) && w != "TD")
        || has("OPT OUT");
    opt_out_word.then_some(Revocation::Probable)
}

/// The message's tokens with where each ends: runs of letters and digits, those joined by `-` or
/// `_` (`M2-AFTER-REVOKE-ee34e0`, `stop_123`) staying one token.
fn tokens(text: &str) -> Vec<(&str, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    let mut chars = text.char_indices().peekable();
    let mut prev_alnum = false;
    while let Some((i, c)) = chars.next() {
        let joins = matches!(c, '-' | '_')
            && prev_alnum
            && chars.peek().is_some_and(|(_, n)| n.is_alphanumeric());
        if c.is_alphanumeric() || joins {
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            out.push((&text[s..i], i));
        }
        prev_alnum = c.is_alphanumeric();
    }
    if let Some(s) = start {
        out.push((&text[s..], text.len()));
    }
    out
}

/// The message's words, upper case. A joined token is one word (an identifier, never a keyword)
/// unless it is a keyword written with a hyphen, such as `opt-out`.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (token, _) in tokens(text) {
        let parts = normalize(token);
        if token.chars().all(char::is_alphanumeric) || OPT_OUT.contains(&parts.as_str()) {
            out.extend(parts.split(' ').map(str::to_string));
        } else {
            out.push(token.chars().flat_map(char::to_uppercase).collect());
        }
    }
    out
}

/// Whether the message opens with an opt-out word standing on its own, set apart from what
/// follows by punctuation or a line break ("STOP. I mean it", "Stop - wrong number", "Stop, I
/// already paid"): a reply using the word, which the FCC counts as a revocation whatever follows.
/// "Stop by tomorrow" runs on into its sentence and a question ("Stop? Why?") asks; neither is.
fn starts_with_opt_out(text: &str) -> bool {
    let t = tokens(text);
    let is = |i: usize, w: &str| t.get(i).is_some_and(|(tok, _)| normalize(tok) == w);
    let gap = |i: usize| {
        &text[t[i].1
            ..t.get(i + 1)
                .map_or(text.len(), |(tok, end)| end - tok.len())]
    };
    let end = match t.first() {
        Some((first, _)) if OPT_OUT.contains(&normalize(first).as_str()) && !is(0, "TD") => 0,
        Some(_) if is(0, "OPT") && is(1, "OUT") && gap(0).trim().is_empty() => 1,
        _ => return false,
    };
    let after = gap(end);
    if end + 1 == t.len() {
        return !after.contains('?');
    }
    after.contains([
        '.', '!', ',', ';', ':', '-', '\u{2013}', '\u{2014}', '\u{2026}', '\n',
    ]) && !after.contains('?')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw(t: &str) -> Option<Keyword> {
        keyword(t, &[], &[], &[])
    }

    #[test]
    fn keywords_whatever_the_case_spacing_and_punctuation() {
        for t in [
            "STOP",
            "stop",
            " Stop. ",
            "STOP!!!",
            "Opt out",
            "opt-out",
            "OPTOUT",
            "Unsubscribe",
            "please stop",
            "Stop please",
            "end",
            "QUIT",
            "revoke",
            "cancel",
            "stopall",
        ] {
            assert_eq!(kw(t), Some(Keyword::OptOut), "{t:?}");
        }
        for t in ["START", "unstop", "Yes", "yes!"] {
            assert_eq!(kw(t), Some(Keyword::OptIn), "{t:?}");
        }
        for t in ["HELP", "help?", "info"] {
            assert_eq!(kw(t), Some(Keyword::Help), "{t:?}");
        }
        for t in [
            "stopped",
            "Where is my order",
            "",
            "   ",
            "stop by tomorrow at noon",
        ] {
            assert_eq!(kw(t), None, "{t:?}");
        }
        assert_eq!(keyword("Arrêt", &[], &[], &[]), None);
        let extra = vec!["BAJA".to_string(), "arrête".to_string()];
        assert_eq!(keyword("baja", &extra, &[], &[]), Some(Keyword::OptOut));
        assert_eq!(keyword("Arrête !", &extra, &[], &[]), Some(Keyword::OptOut));
        assert_eq!(
            keyword("ALTA", &[], &["alta".into()], &[]),
            Some(Keyword::OptIn)
        );
        assert_eq!(
            keyword("AYUDA", &[], &[], &["ayuda".into()]),
            Some(Keyword::Help)
        );
    }

    #[test]
    fn natural_language_revocations() {
        for t in [
            "Please stop texting me",
            "take me off your list!",
            "Remove me from this",
            "don't text me again",
            "Do not contact me",
            "no more texts thanks",
            "stop sending me these",
        ] {
            assert_eq!(revocation(t), Some(Revocation::Clear), "{t:?}");
        }
        for t in [
            "I want to cancel my order",
            "How do I opt out of the newsletter?",
            "Please stop, I already paid",
            "Stop? Why would I?",
        ] {
            assert_eq!(revocation(t), Some(Revocation::Probable), "{t:?}");
        }
        for t in [
            "Where is my order?",
            "I'll stop by the store",
            "Thanks, see you at the end of the week",
        ] {
            // "stop by" and "the end of" are not requests to stop.
            let r = revocation(t);
            assert!(r != Some(Revocation::Clear), "{t:?}");
        }
    }

    #[test]
    fn a_message_opening_with_a_standalone_opt_out_word_revokes() {
        for t in [
            "STOP. I mean it",
            "Stop - wrong number",
            "stop!! who is this",
            "Stop, I already paid",
            "STOP\nnever signed up",
            "Unsubscribe: too many texts",
            "Opt out. Thanks",
            "opt-out; thanks",
            "Cancel \u{2014} not interested",
            "  quit... now",
        ] {
            assert_eq!(kw(t), None, "{t:?} is more than a keyword");
            assert_eq!(revocation(t), Some(Revocation::Clear), "{t:?}");
        }
        // Running on into a sentence is not standing alone.
        assert_eq!(
            revocation("Stop by tomorrow at noon"),
            Some(Revocation::Probable)
        );
        assert_eq!(
            revocation("End of the week works"),
            Some(Revocation::Probable)
        );
        assert_eq!(revocation("TD. see you"), None);
    }

    #[test]
    fn a_keyword_inside_a_longer_token_is_not_a_keyword() {
        for t in [
            "M2-AFTER-REVOKE-ee34e0",
            "stop_123",
            "ref STOP-42 received",
            "order cancel_7 shipped?",
            "see QUIT-2026 and END_OF_LINE",
            "STOP-TEXTING-ME-v2",
        ] {
            assert_eq!(kw(t), None, "{t:?}");
            assert_eq!(revocation(t), None, "{t:?}");
        }
        // Separated by spaces or punctuation, the words are still words.
        assert_eq!(
            revocation("id 42 - stop texting me"),
            Some(Revocation::Clear)
        );
        assert_eq!(revocation("order 7: cancel it"), Some(Revocation::Probable));
        assert_eq!(kw("opt-out"), Some(Keyword::OptOut));
        assert_eq!(kw("opt_out"), Some(Keyword::OptOut));
    }
}
