//! A WhatsApp inbox's approved message templates, read from the Graph API's
//! `/{waba-id}/message_templates` as the composer offers them.

use serde_json::{json, Value};

use crate::net::Client;
use crate::settings::MetaSettings;

/// How many pages of templates (100 each) are read from the Graph API at most.
const TEMPLATE_PAGES: usize = 5;

/// Name, language, category, the body text and the names of its parameters in order (`1`, `2`,
/// … for positional ones), sorted by name and language. A page link pointing elsewhere than the
/// inbox's Graph address is not followed, so the token goes nowhere else. The error is the
/// reason, for the admin.
pub async fn templates(http: &Client, s: &MetaSettings<'_>) -> Result<Vec<Value>, String> {
    let waba = s.waba_id;
    if waba.is_empty() {
        return Err(
            "give this inbox its WhatsApp Business Account ID (Settings → Inboxes → Edit) to list its templates".into(),
        );
    }
    let base = s.api_base_url.trim_end_matches('/');
    let version = s.graph_version.trim_matches('/');
    let mut url = format!(
        "{base}/{version}/{waba}/message_templates?fields=name,language,status,category,components,parameter_format&status=APPROVED&limit=100"
    );
    let mut out = Vec::new();
    for _ in 0..TEMPLATE_PAGES {
        let resp = http
            .get(&url)
            .bearer_auth(s.credentials.access_token)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| match e.refused() {
                Some(r) => format!("could not reach WhatsApp to list the templates: refused: {r}"),
                None => "could not reach WhatsApp to list the templates".into(),
            })?;
        let status = resp.status();
        let body = crate::net::json_capped(resp).await;
        if !status.is_success() {
            let said: String = body["error"]["message"]
                .as_str()
                .unwrap_or("no reason given")
                .chars()
                .take(200)
                .collect();
            return Err(format!(
                "WhatsApp refused to list the templates ({}): {said}",
                status.as_u16()
            ));
        }
        out.extend(
            body["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(offered),
        );
        match body["paging"]["next"].as_str() {
            Some(next) if next.starts_with(&format!("{base}/")) => url = next.to_string(),
            _ => break,
        }
    }
    out.sort_by(|a, b| {
        (a["name"].as_str(), a["language"].as_str())
            .cmp(&(b["name"].as_str(), b["language"].as_str()))
    });
    Ok(out)
}

/// One approved template as the composer shows it; `None` for others and unreadable ones.
fn offered(t: &Value) -> Option<Value> {
    if t["status"].as_str().is_some_and(|s| s != "APPROVED") {
        return None;
    }
    let (name, language) = (t["name"].as_str()?, t["language"].as_str()?);
    let text = t["components"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| {
            c["type"]
                .as_str()
                .is_some_and(|k| k.eq_ignore_ascii_case("body"))
        })
        .and_then(|c| c["text"].as_str())
        .unwrap_or_default();
    let named = t["parameter_format"].as_str() == Some("NAMED");
    Some(json!({
        "name": name,
        "language": language,
        "category": t["category"],
        "body": text,
        "params": template_params(text),
        "named": named,
    }))
}

/// The parameters a template's body names, each once, in order: `{{1}}`, `{{first_name}}`.
fn template_params(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        if !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !out.iter().any(|n| n == name)
        {
            out.push(name.to_string());
        }
        rest = &after[end + 2..];
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_body_names_its_parameters_once_in_order() {
        assert_eq!(
            super::template_params(
                "Hi {{1}}, order {{2}} ships {{ 3 }}; {{1}} again {{bad name}} {{"
            ),
            ["1", "2", "3"]
        );
        assert_eq!(
            super::template_params("Dear {{first_name}}, your {{order_id}}"),
            ["first_name", "order_id"]
        );
        assert!(super::template_params("No parameters").is_empty());
    }
}
