//! What a draft would cost as SMS, for the composer: its encoding (GSM-7 or UCS-2), units and
//! segments.

use parley_core::sms::Segments;
use serde::Deserialize;

use crate::http::caller::Auth;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Json;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftRequest {
    text: String,
}

/// `POST /api/v1/sms/segments`.
pub async fn sms_segments(
    Auth(_): Auth,
    Json(req): Json<DraftRequest>,
) -> ApiResult<Json<Segments>> {
    if req.text.chars().count() > parley_core::message::MAX_BODY_CHARS {
        return Err(ApiError::invalid("text", "too long to be a message"));
    }
    Ok(Json(parley_core::sms::segments(&req.text)))
}
