//! Templates with merge fields: `Hi {{first_name | there}}, your order {{order_id}} shipped.`
//! A template is parsed once (`Template::parse`), lists the fields it uses so it can be checked
//! when it is saved (`Template::check`), and renders from whatever context the caller assembles
//! (contact, conversation, agent, workspace), saying which fields fell back. Pure.

use crate::Invalid;

/// The fields every template may use besides the contact's custom fields (by their key).
pub const BUILT_IN: &[&str] = &[
    "first_name",
    "last_name",
    "name",
    "business_name",
    "expected_wait",
    "agent.first_name",
    "agent.name",
    "conversation.id",
    "inbox.name",
];

/// The longest template, in characters: a message body's limit with room for its fields.
pub const MAX_CHARS: usize = 8_000;

/// A parsed template: text and merge fields in the order they appear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field {
        key: String,
        fallback: Option<String>,
    },
}

/// A rendered template: its text, and the fields that had no value (each replaced by its
/// fallback, or by nothing when it has none), in the order they first appear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub fell_back: Vec<String>,
}

impl Template {
    /// Parses `{{key}}` and `{{key | fallback}}` fields (spaces around the key and the fallback
    /// are ignored). A `{{` that does not close, or a field with no key, is refused; a single
    /// brace is ordinary text.
    pub fn parse(text: &str) -> Result<Template, Invalid> {
        if text.chars().count() > MAX_CHARS {
            return Err(Invalid::new(
                "text",
                format!("must be at most {MAX_CHARS} characters"),
            ));
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let inner_start = open + 2;
            let close = rest[inner_start..].find("}}").ok_or_else(|| {
                Invalid::new(
                    "text",
                    format!("a field is not closed: {}", excerpt(&rest[open..])),
                )
            })?;
            parts.push(field(&rest[inner_start..inner_start + close])?);
            rest = &rest[inner_start + close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// The keys of the fields the template uses, each once, in the order they first appear.
    pub fn fields(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for p in &self.parts {
            if let Part::Field { key, .. } = p {
                if !out.contains(&key.as_str()) {
                    out.push(key);
                }
            }
        }
        out
    }

    /// Refuses the first field that is neither built in nor one of `custom` (the workspace's
    /// custom field keys), naming it.
    pub fn check<'a>(
        &self,
        custom: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Result<(), Invalid> {
        for key in self.fields() {
            let known = BUILT_IN.contains(&key) || custom.clone().into_iter().any(|c| c == key);
            if !known {
                return Err(Invalid::new(
                    "text",
                    format!(
                        "{{{{{key}}}}} is not a field: use {} or a contact field's key",
                        BUILT_IN.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Renders with `value` giving each field's value (`None` or blank: no value).
    pub fn render(&self, value: impl Fn(&str) -> Option<String>) -> Rendered {
        let mut text = String::new();
        let mut fell_back: Vec<String> = Vec::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => text.push_str(t),
                Part::Field { key, fallback } => {
                    match value(key).filter(|v| !v.trim().is_empty()) {
                        Some(v) => text.push_str(&v),
                        None => {
                            text.push_str(fallback.as_deref().unwrap_or(""));
                            if !fell_back.contains(key) {
                                fell_back.push(key.clone());
                            }
                        }
                    }
                }
            }
        }
        Rendered { text, fell_back }
    }
}

/// One field's inside: `key` or `key | fallback`.
fn field(inner: &str) -> Result<Part, Invalid> {
    let (key, fallback) = match inner.split_once('|') {
        Some((k, f)) => (k.trim(), Some(f.trim().to_string())),
        None => (inner.trim(), None),
    };
    if key.is_empty() {
        return Err(Invalid::new(
            "text",
            "a field has no name: write {{first_name}}",
        ));
    }
    if key.contains('{') || key.chars().count() > 64 {
        return Err(Invalid::new(
            "text",
            format!("{} is not a field name", excerpt(key)),
        ));
    }
    Ok(Part::Field {
        key: key.to_string(),
        fallback,
    })
}

/// The start of `s`, short enough for an error message.
fn excerpt(s: &str) -> String {
    let short: String = s.chars().take(24).collect();
    if short.len() < s.len() {
        format!("{short:?}…")
    } else {
        format!("{short:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(key: &str) -> Option<String> {
        match key {
            "first_name" => Some("Maya".into()),
            "order_id" => Some("A-1009".into()),
            "blank" => Some("  ".into()),
            _ => None,
        }
    }

    #[test]
    fn fields_render_with_their_values_and_fallbacks() {
        let t = Template::parse(
            "Hi {{ first_name | there }}, order {{order_id}} for {{last_name|you}}{{nick}}.",
        )
        .unwrap();
        assert_eq!(t.fields(), ["first_name", "order_id", "last_name", "nick"]);
        let r = t.render(values);
        assert_eq!(r.text, "Hi Maya, order A-1009 for you.");
        assert_eq!(r.fell_back, ["last_name", "nick"]);
    }

    #[test]
    fn a_blank_value_falls_back_and_each_field_is_reported_once() {
        let t = Template::parse("{{blank|x}} {{blank|y}} {{first_name}}").unwrap();
        let r = t.render(values);
        assert_eq!(r.text, "x y Maya");
        assert_eq!(r.fell_back, ["blank"]);
    }

    #[test]
    fn text_without_fields_and_single_braces_stay_as_they_are() {
        let t = Template::parse("Use {code} or }} as you like {").unwrap();
        assert!(t.fields().is_empty());
        assert_eq!(t.render(values).text, "Use {code} or }} as you like {");
    }

    #[test]
    fn malformed_fields_are_refused_with_the_place() {
        let e = Template::parse("Hi {{first_name, welcome").unwrap_err();
        assert!(
            e.reason.contains("not closed") && e.reason.contains("first_name"),
            "{e}"
        );
        let e = Template::parse("Hi {{ | there}}").unwrap_err();
        assert!(e.reason.contains("no name"), "{e}");
        let e = Template::parse("Hi {{ {{x}}").unwrap_err();
        assert!(e.reason.contains("not a field name"), "{e}");
        assert!(Template::parse(&"a".repeat(MAX_CHARS + 1)).is_err());
    }

    #[test]
    fn unknown_fields_are_refused_by_name_and_custom_keys_are_known() {
        let t = Template::parse("{{agent.first_name}} {{loyalty_program}} {{shoe_size}}").unwrap();
        let e = t.check(["loyalty_program"]).unwrap_err();
        assert!(e.reason.starts_with("{{shoe_size}} is not a field"), "{e}");
        assert!(t.check(["loyalty_program", "shoe_size"]).is_ok());
    }

    #[test]
    fn a_value_is_inserted_as_written_never_parsed_again() {
        let t = Template::parse("{{first_name}}").unwrap();
        let r = t.render(|_| Some("{{order_id}}".into()));
        assert_eq!(r.text, "{{order_id}}");
        assert!(r.fell_back.is_empty());
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_is_refused_and_text_without_fields_renders_unchanged(s in "\\PC{0,200}") {
            if let Ok(t) = Template::parse(&s) {
                let r = t.render(|_| None);
                if !s.contains("{{") {
                    proptest::prop_assert_eq!(r.text, s);
                }
            }
        }
    }
}
