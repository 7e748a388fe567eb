//! What a browser downloads: the app's files and API answers gzipped when it accepts that, and
//! files revalidated by ETag so a reload fetches nothing unchanged.

use std::io::Read;

use crate::harness::TestApp;
use crate::on_both;

const APP_JS: &str = include_str!("../../../../web/app.js");

async fn get(t: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(t.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .expect("a gzip stream");
    text
}

on_both!(
    files_and_answers_are_gzipped_for_clients_that_accept_it,
    |t: TestApp| async move {
        let plain = get(&t, "/static/app.js", &[]).await;
        assert_eq!(plain.headers().get("content-encoding"), None);
        assert_eq!(plain.text().await.unwrap(), APP_JS);

        let r = get(
            &t,
            "/static/app.js",
            &[("accept-encoding", "gzip, deflate, br")],
        )
        .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-encoding"], "gzip");
        assert_eq!(r.headers()["vary"], "accept-encoding");
        let zipped = r.bytes().await.unwrap();
        assert!(
            zipped.len() * 2 < APP_JS.len(),
            "{} bytes gzipped of {}",
            zipped.len(),
            APP_JS.len()
        );
        assert_eq!(gunzip(&zipped), APP_JS);

        // An API answer too.
        let auth = format!("Bearer {}", t.admin_token);
        let r = get(
            &t,
            "/api/v1/openapi.json",
            &[("accept-encoding", "gzip"), ("authorization", &auth)],
        )
        .await;
        assert_eq!(r.headers()["content-encoding"], "gzip");
        let doc: serde_json::Value =
            serde_json::from_str(&gunzip(&r.bytes().await.unwrap())).unwrap();
        assert!(doc["paths"].is_object());

        // The realtime socket still opens for a browser that offers gzip on its upgrade request.
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = format!("ws://{}/api/v1/realtime?token={}", t.addr, t.admin_token)
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("accept-encoding", "gzip, deflate, br".parse().unwrap());
        let (mut ws, answer) = tokio_tungstenite::connect_async(req).await.unwrap();
        assert_eq!(answer.headers().get("content-encoding"), None);
        let first = ws.next().await.unwrap().unwrap();
        let ready: serde_json::Value = serde_json::from_str(first.to_text().unwrap()).unwrap();
        assert_eq!(ready["type"], "ready");
    }
);

on_both!(
    a_reload_revalidates_files_by_etag,
    |t: TestApp| async move {
        for path in ["/", "/static/app.js", "/static/style.css", "/widget.js"] {
            let first = get(&t, path, &[("accept-encoding", "gzip")]).await;
            assert_eq!(first.status(), 200);
            assert_eq!(first.headers()["cache-control"], "no-cache");
            let etag = first.headers()["etag"].to_str().unwrap().to_string();
            let again = get(
                &t,
                path,
                &[("accept-encoding", "gzip"), ("if-none-match", &etag)],
            )
            .await;
            assert_eq!(again.status(), 304, "{path}");
            assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
            assert!(again.bytes().await.unwrap().is_empty());
            // Another version's tag (a file changed by an upgrade) gets the file.
            let stale = get(&t, path, &[("if-none-match", "W/\"0123\"")]).await;
            assert_eq!(stale.status(), 200, "{path}");
            assert!(!stale.bytes().await.unwrap().is_empty());
        }
        let a = get(&t, "/static/app.js", &[]).await.headers()["etag"].clone();
        let b = get(&t, "/static/style.css", &[]).await.headers()["etag"].clone();
        assert_ne!(a, b, "each file has its own tag");
    }
);
