//! The OpenAPI 3.1 document at `/api/v1/openapi.json`, generated from the route table; request
//! and answer schemas are derived (schemars) from the types the handlers read and return.

use axum::extract::State;
use schemars::generate::{Contract, SchemaGenerator, SchemaSettings};
use serde_json::{json, Map, Value};

use crate::http::extract::Json;
use crate::http::routes::{routes, Access, Answer, Route};
use crate::state::App;

/// A generator whose named schemas go to `components/schemas`; requests are described as they
/// are read, answers as they are written (a skipped field is optional, a defaulted one too).
fn generator(contract: Contract) -> SchemaGenerator {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    settings.meta_schema = None;
    settings.contract = contract;
    settings.into_generator()
}

/// The whole document, its links to the API under `server_url`.
pub fn document(server_url: &str) -> Value {
    let mut requests = generator(Contract::Deserialize);
    let mut answers = generator(Contract::Serialize);
    let mut paths: Map<String, Value> = Map::new();
    for r in routes() {
        let op = operation(&r, &mut requests, &mut answers);
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.method] = op;
    }
    let mut schemas = requests.take_definitions(true);
    for (name, schema) in answers.take_definitions(true) {
        schemas.entry(name).or_insert(schema);
    }
    schemas.insert("Error".into(), error_schema());
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Parley API", "version": env!("CARGO_PKG_VERSION") },
        "servers": [{ "url": server_url }],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "token": { "type": "http", "scheme": "bearer", "description": "A personal API token (pat_…)" },
                "session": { "type": "apiKey", "in": "cookie", "name": crate::http::caller::SESSION_COOKIE, "description": "Writes also need the X-CSRF-Token header" },
                "signature": { "type": "apiKey", "in": "header", "name": "X-Parley-Signature", "description": "sha256=<hex HMAC-SHA256 of the raw body under the inbox secret>" }
            },
            "schemas": schemas
        }
    })
}

/// One route's operation: parameters, body, answers, who may call it.
fn operation(r: &Route, requests: &mut SchemaGenerator, answers: &mut SchemaGenerator) -> Value {
    let params = parameters(r);
    let mut op = json!({
        "summary": r.summary,
        "tags": [r.tag],
        "operationId": format!("{}_{}", r.method, r.path.trim_start_matches('/').replace(['/', '{', '}', '.', '-'], "_")),
        "responses": {
            "4XX": { "description": "an error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
        }
    });
    let (status, success) = success(r.answer, answers);
    op["responses"][status.to_string()] = success;
    if !params.is_empty() {
        op["parameters"] = json!(params);
    }
    if let Some(schema) = r.body {
        op["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": schema(requests) } } });
    }
    op["security"] = match r.access {
        Access::Public => json!([]),
        Access::Signature => json!([{ "signature": [] }]),
        Access::Member | Access::Supervisor | Access::Admin => {
            json!([{ "token": [] }, { "session": [] }])
        }
    };
    match r.access {
        Access::Admin => op["description"] = json!("Admins only."),
        Access::Supervisor => op["description"] = json!("Supervisors and admins only."),
        _ => {}
    }
    op
}

/// The route's path parameters, then its query parameters.
fn parameters(r: &Route) -> Vec<Value> {
    r.path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .chain(r.query.iter().zip((r.query_types)()).map(|(name, ty)| json!({ "name": name, "in": "query", "required": false, "schema": { "type": ty } })))
        .collect()
}

/// The status and description of a route's success.
fn success(answer: Answer, answers: &mut SchemaGenerator) -> (u16, Value) {
    match answer {
        Answer::Json(status, schema) => (
            status,
            json!({ "description": if status == 201 { "created" } else { "success" }, "content": { "application/json": { "schema": schema(answers) } } }),
        ),
        Answer::NoContent => (204, json!({ "description": "done; no body" })),
        Answer::Other(media) => (
            200,
            json!({ "description": "success", "content": { media: {} } }),
        ),
        Answer::Undescribed => (200, json!({ "description": "success" })),
    }
}

fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": { "error": { "type": "object", "required": ["code", "message"], "properties": {
            "code": { "type": "string" }, "message": { "type": "string" }, "field": { "type": "string", "description": "The field at fault, as a path into the body (`template.name`, `choices[0].id`)" } } } }
    })
}

pub async fn openapi_json(State(app): State<App>) -> Json<Value> {
    Json(document(&app.config.public_url))
}

/// A JSON Schema object with the given required and optional properties.
pub(crate) fn obj(
    required: &[(&str, serde_json::Value)],
    optional: &[(&str, serde_json::Value)],
) -> serde_json::Value {
    let mut props = serde_json::Map::new();
    for (k, v) in required.iter().chain(optional) {
        props.insert((*k).to_string(), v.clone());
    }
    let req: Vec<&str> = required.iter().map(|(k, _)| *k).collect();
    serde_json::json!({ "type": "object", "properties": props, "required": req })
}

pub(crate) fn string() -> serde_json::Value {
    serde_json::json!({ "type": "string" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r);
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    #[test]
    fn every_schema_reference_resolves_and_typed_answers_are_described() {
        let doc = document("http://localhost");
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let name = r
                .strip_prefix("#/components/schemas/")
                .expect("a component");
            assert!(doc["components"]["schemas"].get(name).is_some(), "{r}");
        }
        for r in routes() {
            if let Answer::Json(status, _) = r.answer {
                let answer = &doc["paths"][r.path][r.method]["responses"][status.to_string()];
                assert!(
                    answer["content"]["application/json"]["schema"].is_object(),
                    "{} {}",
                    r.method,
                    r.path
                );
            }
        }
    }

    #[test]
    fn every_api_route_describes_its_answer() {
        let undescribed: Vec<String> = routes()
            .into_iter()
            .filter(|r| r.path.starts_with("/api/v1/") && matches!(r.answer, Answer::Undescribed))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert!(
            undescribed.is_empty(),
            "answers not described: {undescribed:#?}"
        );
    }
}
