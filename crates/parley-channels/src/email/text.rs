//! The text an agent reads: HTML rendered to plain text (quotes kept as `>` lines so they can be
//! trimmed like plain-text ones), format=flowed undone, and the quoted history a mail client
//! appends to a reply cut off.

/// Renders HTML as plain text: block elements break lines, `<blockquote>` content is prefixed
/// with `> `, scripts, styles and the head are dropped, entities decoded.
pub fn html_to_text(html: &str) -> String {
    let mut r = Render::default();
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        r.text(&rest[..lt]);
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        // As in browsers, `<` starts a tag only before a letter, `/`, `!` or `?`.
        if !rest[1..].starts_with(|c: char| c.is_ascii_alphabetic() || "/!?".contains(c)) {
            r.text("<");
            rest = &rest[1..];
            continue;
        }
        // A tag left open (an unterminated attribute value) swallows the rest, as in browsers.
        let Some(end) = tag_end(rest) else { break };
        let inner = &rest[1..end];
        rest = &rest[end + 1..];
        let closing = inner.starts_with('/');
        let name: String = inner
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if matches!(name.as_str(), "script" | "style" | "head" | "title") && !closing {
            // Skip to the matching close tag; what is inside is never text.
            let close = format!("</{name}");
            rest = find_ci(rest, &close).map_or("", |i| {
                let after = &rest[i..];
                after.find('>').map_or("", |j| &after[j + 1..])
            });
            continue;
        }
        r.tag(&name, closing);
    }
    if !rest.starts_with('<') {
        r.text(rest);
    }
    r.finish()
}

/// Index of the `>` closing the tag `s` starts with, skipping quoted attribute values.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[derive(Default)]
struct Render {
    out: String,
    line: String,
    /// Blockquote depth now, and when the current line started.
    depth: usize,
    line_depth: usize,
    pre: usize,
    space: bool,
}

impl Render {
    fn text(&mut self, raw: &str) {
        let decoded = decode_entities(raw);
        if self.pre > 0 {
            for (i, part) in decoded.split('\n').enumerate() {
                if i > 0 {
                    self.newline();
                }
                self.push(part);
            }
            return;
        }
        for (i, word) in decoded.split_whitespace().enumerate() {
            let leading = i > 0 || decoded.starts_with(char::is_whitespace);
            if (leading || self.space) && !self.line.is_empty() {
                self.line.push(' ');
            }
            self.space = false;
            self.push(word);
        }
        if decoded.ends_with(char::is_whitespace) && !decoded.trim().is_empty() {
            self.space = true;
        }
    }

    fn push(&mut self, s: &str) {
        if self.line.is_empty() {
            self.line_depth = self.depth;
        }
        self.line.push_str(s);
    }

    fn newline(&mut self) {
        // Deeper nesting than any real thread would make every line huge.
        let prefix = "> ".repeat(self.line_depth.min(12));
        let line = format!("{prefix}{}", self.line.trim_end());
        self.out.push_str(line.trim_end());
        self.out.push('\n');
        self.line.clear();
        self.line_depth = self.depth;
        self.space = false;
    }

    /// Ends the current line unless it is empty (blocks do not stack blank lines).
    fn block(&mut self) {
        if !self.line.is_empty() {
            self.newline();
        }
    }

    fn tag(&mut self, name: &str, closing: bool) {
        match name {
            "br" => self.newline(),
            "p" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "table" | "ul" | "ol" | "hr" => {
                self.block();
                if closing || name == "hr" {
                    // A paragraph's end leaves a blank line, as mail clients render it.
                    self.line_depth = self.depth;
                    self.newline();
                }
            }
            "blockquote" => {
                self.block();
                self.depth = if closing {
                    self.depth.saturating_sub(1)
                } else {
                    self.depth + 1
                };
                self.line_depth = self.depth;
            }
            "pre" => {
                self.block();
                self.pre = if closing {
                    self.pre.saturating_sub(1)
                } else {
                    self.pre + 1
                };
            }
            "li" if !closing => {
                self.block();
                self.push("- ");
            }
            "div" | "tr" | "li" | "dt" | "dd" | "center" | "section" | "article" | "header"
            | "footer" | "address" => self.block(),
            "td" | "th" if !closing && !self.line.is_empty() => self.line.push(' '),
            _ => {}
        }
    }

    fn finish(mut self) -> String {
        self.block();
        let mut out = String::new();
        let mut blank = 0;
        for line in self.out.lines() {
            let empty = line.trim_start_matches(['>', ' ']).is_empty();
            blank = if empty { blank + 1 } else { 0 };
            if blank <= 1 {
                out.push_str(line);
                out.push('\n');
            }
        }
        out.trim().to_string()
    }
}

/// Decodes the entities mail HTML uses; unknown ones stay as written.
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        // Entity names are short: looking further for the `;` would make "&&&…" quadratic.
        let end = rest.bytes().take(12).position(|b| b == b';');
        let decoded = end.and_then(|end| entity(&rest[1..end]).map(|c| (c, end)));
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code).map(|c| if c == '\u{a0}' { ' ' } else { c });
    }
    // A non-breaking space would survive `trim` checks as text; mail uses it as layout.
    if name == "nbsp" {
        return Some(' ');
    }
    let mut pairs = ENTITIES.split_whitespace();
    while let (Some(n), Some(c)) = (pairs.next(), pairs.next()) {
        if n == name {
            return c.chars().next();
        }
    }
    None
}

/// The named entities mail HTML uses, each name followed by its character.
const ENTITIES: &str = "amp & lt < gt > quot \" apos ' ndash – mdash — hellip … lsquo ‘ rsquo ’ \
    ldquo “ rdquo ” laquo « raquo » copy © reg ® euro € eacute é egrave è agrave à ccedil ç \
    auml ä ouml ö uuml ü szlig ß ntilde ñ";

/// Undoes RFC 3676 format=flowed: a line ending in a space continues on the next one (of the
/// same quote depth), and a leading space was added to protect the line ("space-stuffing").
pub(crate) fn unflow(text: &str, delsp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut para = String::new();
    let mut para_depth: Option<usize> = None;
    let flush = |out: &mut String, para: &mut String, depth: usize| {
        if depth > 0 {
            out.push_str(&">".repeat(depth));
            out.push(' ');
        }
        out.push_str(para);
        out.push('\n');
        para.clear();
    };
    for line in text.lines() {
        let depth = line.bytes().take_while(|b| *b == b'>').count();
        let content = &line[depth..];
        let content = content.strip_prefix(' ').unwrap_or(content);
        if let Some(d) = para_depth.filter(|d| *d != depth) {
            flush(&mut out, &mut para, d);
        }
        para_depth = Some(depth);
        let flowed = content.ends_with(' ') && content != "-- ";
        if flowed {
            para.push_str(if delsp {
                &content[..content.len() - 1]
            } else {
                content
            });
        } else {
            para.push_str(content);
            flush(&mut out, &mut para, depth);
            para_depth = None;
        }
    }
    if let Some(d) = para_depth {
        flush(&mut out, &mut para, d);
    }
    out
}

/// Cuts the quoted history a mail client appends to a reply: from an attribution line ("On …,
/// … wrote:", also wrapped over two lines, and its German, French and Spanish forms), an
/// "Original Message" separator or Outlook's From/Sent header block; then a trailing block of
/// `>` lines and a trailing `-- ` signature. Answers written between quoted lines are kept. If
/// nothing would be left, the untrimmed text is returned.
pub fn trim_quoted(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut end = history_start(&lines).unwrap_or(lines.len());

    // A trailing block of quoted lines, and the attribution above it.
    let mut cut = end;
    while cut > 0 && (is_quoted(lines[cut - 1]) || lines[cut - 1].trim().is_empty()) {
        cut -= 1;
    }
    if lines[cut..end].iter().any(|l| is_quoted(l)) {
        end = cut;
        if let Some(prev) = last_non_blank(&lines[..end]) {
            if prev > 0 && is_attribution(&join(lines[prev - 1], lines[prev]), true) {
                end = prev - 1;
            } else if is_attribution(lines[prev].trim(), false) {
                end = prev;
            }
        }
    }

    // The signature, when it is the last thing left.
    if let Some(sig) = lines[..end]
        .iter()
        .rposition(|l| *l == "-- " || l.trim_end() == "--")
    {
        if end - sig <= 20 {
            end = sig;
        }
    }

    let trimmed = lines[..end].join("\n").trim().to_string();
    if trimmed.is_empty() {
        text.trim().to_string()
    } else {
        trimmed
    }
}

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

fn last_non_blank(lines: &[&str]) -> Option<usize> {
    lines.iter().rposition(|l| !l.trim().is_empty())
}

fn join(a: &str, b: &str) -> String {
    format!("{} {}", a.trim(), b.trim())
}

/// Where the trailing history starts, by its first line, if it has one that says so.
fn history_start(lines: &[&str]) -> Option<usize> {
    // Facts about what follows each line, gathered backwards so the scan stays linear.
    let n = lines.len();
    let (mut text_after, mut inline_after, mut quote_next) =
        (vec![false; n + 1], vec![false; n + 1], vec![false; n + 1]);
    for i in (0..n).rev() {
        let (quoted, blank) = (is_quoted(lines[i]), lines[i].trim().is_empty());
        text_after[i] = text_after[i + 1] || (!quoted && !blank);
        // A quote with the sender's own text somewhere below it: an answer written inline.
        inline_after[i] = inline_after[i + 1] || (quoted && text_after[i + 1]);
        quote_next[i] = if blank { quote_next[i + 1] } else { quoted };
    }
    for i in 0..n {
        let line = lines[i].trim();
        if line.is_empty() || is_quoted(line) {
            continue;
        }
        if is_forward(line) {
            // What follows is the forwarded mail: the content the sender wants us to read.
            return None;
        }
        let next = lines.get(i + 1).map_or("", |l| l.trim());
        // A date has digits; "On Monday I wrote:" is prose.
        let strict = line.contains(|c: char| c.is_ascii_digit())
            && (is_attribution(line, true)
                || next.len() <= 100 && is_attribution(&join(line, next), true));
        // "Bob wrote:" alone is too common a phrase; it counts only before quoted lines.
        let loose = !strict && is_attribution(line, false) && quote_next[i + 1];
        if (strict || loose) && !inline_after[i + 1] {
            return Some(i);
        }
        if is_original_message(line) || is_header_block(&lines[i..]) {
            // Outlook puts a line of underscores above its header block.
            let above = last_non_blank(&lines[..i]);
            return Some(match above {
                Some(a) if is_rule(lines[a].trim()) => a,
                _ => i,
            });
        }
    }
    None
}

/// An attribution line. `strict` wants the "On <date>, <someone> wrote:" shape (or its German,
/// French or Spanish form); otherwise any line ending in "wrote:" and the like.
fn is_attribution(line: &str, strict: bool) -> bool {
    let l = line
        .trim()
        .trim_start_matches('*')
        .replace(['\u{a0}', '\u{202f}'], " ")
        .to_lowercase();
    if l.len() > 400 {
        return false;
    }
    let forms: [(&str, &[&str]); 4] = [
        ("on ", &["wrote:", "writes:"]),
        ("am ", &["schrieb:"]),
        ("le ", &["a écrit :", "a écrit:"]),
        ("el ", &["escribió:"]),
    ];
    forms.iter().any(|(start, ends)| {
        ends.iter().any(|end| {
            let ends_ok = l.ends_with(end)
                // "Am 4. März 2024 um 10:00 schrieb Max <max@example.de>:"
                || (*end == "schrieb:" && l.contains(" schrieb ") && l.ends_with(':'));
            ends_ok && (!strict || l.starts_with(start))
        })
    })
}

fn is_forward(line: &str) -> bool {
    let l = line.to_lowercase();
    [
        "forwarded message",
        "begin forwarded message",
        "weitergeleitete nachricht",
        "message transféré",
        "mensaje reenviado",
    ]
    .iter()
    .any(|m| l.contains(m))
        && (l.starts_with('-') || l.ends_with(':'))
}

fn is_rule(line: &str) -> bool {
    line.len() >= 10 && (line.chars().all(|c| c == '_') || line.chars().all(|c| c == '-'))
}

fn is_original_message(line: &str) -> bool {
    let inner = line
        .trim_matches(|c: char| c == '-' || c == ' ')
        .to_lowercase();
    line.starts_with("--")
        && matches!(
            inner.as_str(),
            "original message"
                | "ursprüngliche nachricht"
                | "original nachricht"
                | "message d'origine"
                | "message d’origine"
                | "mensaje original"
        )
}

/// Outlook's block: "From:" then, within a few lines, "Sent:" (or "Date:") and "Subject:", in
/// English, German, French or Spanish. A customer's "From: Berlin / Date: … / To: Paris" has no
/// subject line, so it stays.
fn is_header_block(lines: &[&str]) -> bool {
    let field = |l: &str, names: &str| {
        let lower = l
            .trim()
            .trim_start_matches('*')
            .replace('\u{a0}', " ")
            .to_lowercase();
        names.split(' ').any(|n| {
            lower
                .strip_prefix(n)
                .is_some_and(|r| r.trim_start_matches(['*', ' ']).starts_with(':'))
        })
    };
    let window = &lines[1..lines.len().min(8)];
    field(lines[0], "from von de")
        && window
            .iter()
            .any(|l| field(l, "sent date gesendet datum envoyé enviado fecha"))
        && window
            .iter()
            .any(|l| field(l, "subject betreff objet asunto"))
}
