//! The survey's pages: the one-question form a customer opens from their link, and the answer
//! they post back. Links that are not ours answer a "not found" page, expired ones a 410.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use parley_store::{ConversationView, InboxRow};
use serde::Deserialize;

use crate::conversations::survey::{self, SurveyError, MAX_COMMENT_CHARS};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Path;
use crate::state::App;

impl From<SurveyError> for ApiError {
    fn from(e: SurveyError) -> Self {
        match e {
            SurveyError::NoLinkOnce | SurveyError::LinkInReply | SurveyError::MessageTooLong => {
                ApiError::invalid("message", e.to_string())
            }
            SurveyError::NotFound => ApiError::NotFound,
            SurveyError::Expired => ApiError::Unprocessable {
                code: "survey_expired",
                message: e.to_string(),
                field: None,
            },
            SurveyError::Rating => ApiError::invalid("rating", e.to_string()),
            SurveyError::CommentTooLong => ApiError::invalid("comment", e.to_string()),
            SurveyError::Store(e) => e.into(),
        }
    }
}

/// A survey link's query: when it was sent (ms) and its signature.
#[derive(Deserialize, Default)]
pub struct LinkQuery {
    at: Option<i64>,
    sig: Option<String>,
}

/// The conversation the link names (see [`survey::answerable`]). Other parameters (a mail
/// client's tracking tags) are let be: the link is the customer's.
async fn open(
    app: &App,
    inbox: &str,
    conv: &str,
    query: Option<&str>,
) -> Result<(InboxRow, ConversationView, i64), SurveyError> {
    let link: LinkQuery = crate::http::query::read_query(query).unwrap_or_default();
    survey::answerable(app, inbox, conv, link.at, link.sig.as_deref()).await
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"../../static/style.css\"></head>\
         <body><main class=\"survey\"><h1>{title}</h1>{body}</main></body></html>"
    );
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        page,
    )
        .into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /survey/{inbox_id}/{conversation_id}?at=&sig=`: the one-question page the customer opens.
pub async fn page(
    State(app): State<App>,
    Path((inbox, conv)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    match open(&app, &inbox, &conv, query.as_deref()).await {
        Ok((row, _, _)) => {
            let choices: String = [
                (5, "Very good"),
                (4, "Good"),
                (3, "OK"),
                (2, "Poor"),
                (1, "Very poor"),
            ]
            .iter()
            .map(|(n, label)| {
                format!(
                    "<label class=\"inline\"><input type=\"radio\" name=\"rating\" value=\"{n}\" required> {n} · {label}</label>"
                )
            })
            .collect();
            html(
                StatusCode::OK,
                &format!("How did {} do?", escape(&row.name)),
                &format!(
                    // An empty action posts back to this very address, signature and all, wherever
                    // Parley is mounted.
                    "<form method=\"post\" action=\"\" class=\"stack\"><fieldset><legend>Your rating</legend>{choices}</fieldset>\
                     <label>Anything to add? (optional)<textarea name=\"comment\" rows=\"4\" maxlength=\"{MAX_COMMENT_CHARS}\"></textarea></label>\
                     <button>Send</button></form>"
                ),
            )
        }
        Err(e @ SurveyError::Expired) => html(
            StatusCode::GONE,
            "This survey has closed",
            &format!("<p>{}</p>", escape(&e.to_string())),
        ),
        Err(_) => html(
            StatusCode::NOT_FOUND,
            "Survey not found",
            "<p>This link is not a survey of ours, or it was mistyped.</p>",
        ),
    }
}

/// `POST /survey/{inbox_id}/{conversation_id}?at=&sig=` (a form: `rating` 1–5, `comment`): records
/// the answer on the conversation's timeline. A link takes one answer.
pub async fn answer(
    State(app): State<App>,
    Path((inbox, conv)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let (row, c, sent_at) = open(&app, &inbox, &conv, query.as_deref()).await?;
    survey::record_answer(&app, &row, &c, sent_at, &body).await?;
    Ok(html(
        StatusCode::OK,
        "Thank you!",
        "<p>Your answer reached the team. You can close this page.</p>",
    ))
}
