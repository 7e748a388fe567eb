//! "Test connection": one read that changes nothing, and what the provider's answer says about
//! the credentials, in the words an admin sees.

use crate::net::RequestBuilder;

/// Sends a provider's probe and reads its answer: which account accepted the credentials, or
/// why they were refused.
pub(crate) async fn ask(provider: &str, req: RequestBuilder) -> Result<String, String> {
    let resp = match req.header("accept", "application/json").send().await {
        Ok(r) => r,
        Err(e) => {
            let why = match e.refused() {
                Some(r) => format!("refused: {r}"),
                None if e.is_timeout() => "it did not answer in time".into(),
                None => "the connection failed".into(),
            };
            return Err(format!("could not reach {provider}: {why}"));
        }
    };
    let status = resp.status();
    let body = crate::net::json_capped(resp).await;
    if !status.is_success() || body["ok"] == false {
        // Providers say why in different places; the first that is there is shown.
        let said = [
            &body["message"],
            &body["description"],
            &body["error"]["message"],
        ]
        .into_iter()
        .find_map(|v| v.as_str())
        .unwrap_or("no reason given");
        let said: String = said.chars().take(200).collect();
        return Err(format!(
            "{provider} refused the credentials ({}): {said}",
            status.as_u16()
        ));
    }
    let name = [
        &body["friendly_name"],
        &body["result"]["username"],
        &body["display_phone_number"],
        &body["verified_name"],
        &body["name"],
        &body["displayName"],
        &body["username"],
    ]
    .into_iter()
    .find_map(|v| v.as_str())
    .unwrap_or("the account");
    Ok(format!("{provider} accepted the credentials of {name}"))
}
