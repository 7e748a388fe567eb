//! The S3 store against AWS's published signing example and against a fake S3 that checks
//! every signature with its own SigV4, written from AWS's specification.

#![allow(clippy::unwrap_used)]
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::http::{Method, StatusCode};

use super::*;

mod fake;
use fake::{fake_client, md5_base64, presigned_signature, start_fake, FAKE_BUCKET, FAKE_SECRET};

// The example credentials of AWS's SigV4 documentation.
const AWS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// 2013-05-24T00:00:00Z, the instant of AWS's examples.
fn aws_example_time() -> Timestamp {
    Timestamp::from_second(1_369_353_600).unwrap()
}

/// The URL of AWS's page "Authenticating Requests: Using Query Parameters (AWS Signature
/// Version 4)", section "An Example", computed by AWS and not by this code.
const AWS_PRESIGNED_GET: &str = "https://examplebucket.s3.amazonaws.com/test.txt\
    ?X-Amz-Algorithm=AWS4-HMAC-SHA256\
    &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
    &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
    &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

#[test]
fn signs_the_aws_presigned_get_example() {
    let s3 = S3::new(
        config("https://s3.amazonaws.com", "examplebucket", false),
        reqwest::Client::new(),
    )
    .unwrap();
    // The example is valid for a day; the store's own requests for less (see below).
    let url = s3
        .bucket
        .get_object(Some(&s3.credentials), "test.txt")
        .sign_with_time(Duration::from_secs(86400), &aws_example_time());
    assert_eq!(url.as_str(), AWS_PRESIGNED_GET);
    // The fake's own signer agrees with AWS too, so its verdicts below can be trusted.
    let url = reqwest::Url::parse(AWS_PRESIGNED_GET).unwrap();
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(
        presigned_signature(
            "GET",
            "/test.txt",
            &query,
            &[("host", "examplebucket.s3.amazonaws.com")],
            AWS_SECRET
        )
        .as_deref(),
        Some("aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    );
}

#[test]
fn reads_the_code_of_an_s3_error_body() {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>\
                <Message>The key &lt;x&gt; does not exist</Message></Error>";
    assert_eq!(
        s3_error(body),
        (
            Some("NoSuchKey".into()),
            Some("The key <x> does not exist".into())
        )
    );
    assert_eq!(s3_error("<html>Bad Gateway</html>"), (None, None));
    let err = status_error("GET k", reqwest::StatusCode::BAD_GATEWAY, None, None);
    assert_eq!(err.to_string(), "S3 GET k: HTTP 502 (no S3 error code)");
}

fn config(endpoint: &str, bucket: &str, path_style: bool) -> S3Config {
    S3Config {
        endpoint: endpoint.into(),
        region: "us-east-1".into(),
        bucket: bucket.into(),
        access_key_id: AWS_KEY.into(),
        secret_access_key: AWS_SECRET.into(),
        path_style,
        prefix: None,
    }
}

/// What AWS's own SDK signs for the same requests: botocore 1.43's `S3SigV4QueryAuth` with the
/// AWS example credentials, 900 s, at [`aws_example_time`] (and `Content-MD5` on the PUT).
const BOTOCORE_GET: &str = "https://examplebucket.s3.amazonaws.com/test.txt\
    ?X-Amz-Algorithm=AWS4-HMAC-SHA256\
    &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
    &X-Amz-Date=20130524T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host\
    &X-Amz-Signature=48fe7214bdb5177ffc88bb6753db570c585be48e6ea48062c7778215649b0d7e";
const BOTOCORE_PUT: &str = "http://127.0.0.1:9000/attachments/parley/files/ws/a.png\
    ?X-Amz-Algorithm=AWS4-HMAC-SHA256\
    &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
    &X-Amz-Date=20130524T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=content-md5%3Bhost\
    &X-Amz-Signature=34f8182d3468a4abc3c8b4c2139274b41ccb603a6a3df7ea0856d382204f68dc";
const BOTOCORE_DELETE: &str = "https://b1.s3.example.com/k\
    ?X-Amz-Algorithm=AWS4-HMAC-SHA256\
    &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
    &X-Amz-Date=20130524T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host\
    &X-Amz-Signature=2e5f69546572357aa92e386040ce2d0723c4344e3a282733706a49348aa5c01a";

#[test]
fn builds_virtual_host_and_path_style_requests() {
    let at = aws_example_time();
    let s3 = S3::new(
        config("https://s3.amazonaws.com", "examplebucket", false),
        reqwest::Client::new(),
    )
    .unwrap();
    let req = s3.request("test.txt", Op::Get, &at).build().unwrap();
    assert_eq!(req.method(), Method::GET);
    assert_eq!(req.url().as_str(), BOTOCORE_GET);
    assert!(req.headers().get("content-length").is_none());
    assert!(req.body().is_none());

    let s3 = S3::new(
        S3Config {
            prefix: Some("/parley/files/".into()),
            ..config("http://127.0.0.1:9000", "attachments", true)
        },
        reqwest::Client::new(),
    )
    .unwrap();
    let req = s3
        .request("ws/a.png", Op::Put(b"png".to_vec()), &at)
        .build()
        .unwrap();
    assert_eq!(req.method(), Method::PUT);
    // The digest is signed (`content-md5;host`), so it cannot be swapped along with the body.
    assert_eq!(req.url().as_str(), BOTOCORE_PUT);
    let h = req.headers();
    assert_eq!(h["content-length"], "3");
    assert_eq!(h["content-md5"], md5_base64(b"png").as_str());

    // A scheme's default port is left out of the URL, so of the Host header and what is signed.
    let s3 = S3::new(
        config("https://s3.example.com:443/", "b1", false),
        reqwest::Client::new(),
    )
    .unwrap();
    let req = s3.request("k", Op::Delete, &at).build().unwrap();
    assert_eq!(req.method(), Method::DELETE);
    assert_eq!(req.url().as_str(), BOTOCORE_DELETE);
}

#[test]
fn refuses_bad_configs_with_clear_messages() {
    let ok = || config("https://s3.us-east-1.amazonaws.com", "attachments", false);
    let cases = [
        (config("s3.amazonaws.com", "b", true), "not an absolute URL"),
        (
            config("ftp://s3.example.com", "b", true),
            "http:// or https://",
        ),
        (
            config("https://u:p@s3.example.com", "b", true),
            "credentials",
        ),
        (
            config("https://s3.example.com/b", "b", true),
            "without a path",
        ),
        (
            config("https://s3.example.com/?x=1", "b", true),
            "without a path",
        ),
        (
            config("http://127.0.0.1:9000", "b", false),
            "set path_style = true",
        ),
        (
            config("https://s3.example.com", "My_Bucket", false),
            "set path_style = true",
        ),
        (
            S3Config {
                region: "".into(),
                ..ok()
            },
            "region",
        ),
        (
            S3Config {
                region: "us east".into(),
                ..ok()
            },
            "region",
        ),
        (
            S3Config {
                bucket: " ".into(),
                ..ok()
            },
            "bucket is empty",
        ),
        (
            S3Config {
                bucket: "a/b".into(),
                ..ok()
            },
            "bucket \"a/b\"",
        ),
        (
            S3Config {
                access_key_id: "".into(),
                ..ok()
            },
            "access_key_id is empty",
        ),
        (
            S3Config {
                access_key_id: "AK/X".into(),
                ..ok()
            },
            "access_key_id may only",
        ),
        (
            S3Config {
                secret_access_key: "".into(),
                ..ok()
            },
            "secret_access_key is empty",
        ),
        (
            S3Config {
                secret_access_key: "abc\n".into(),
                ..ok()
            },
            "whitespace",
        ),
        (
            S3Config {
                prefix: Some("a/../b".into()),
                ..ok()
            },
            "prefix",
        ),
    ];
    for (cfg, want) in cases {
        let shown = format!("{cfg:?}");
        let msg = S3::new(cfg, reqwest::Client::new())
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("S3 config: ") && msg.contains(want),
            "{shown}: {msg}"
        );
    }

    assert!(S3::new(ok(), reqwest::Client::new()).is_ok());
    let r2 = S3Config {
        region: "auto".into(),
        prefix: Some("/".into()),
        ..config(
            "https://0123abcd.r2.cloudflarestorage.com",
            "Parley_Files",
            true,
        )
    };
    let s3 = S3::new(r2, reqwest::Client::new()).unwrap();
    assert_eq!(s3.prefix, None);
    // Neither the config nor the store shows the secret when printed.
    let shown = format!("{:?} {s3:?}", ok());
    assert!(!shown.contains(AWS_SECRET), "{shown}");
}

fn io_message(r: Result<impl fmt::Debug, BlobError>) -> String {
    match r {
        Err(BlobError::Io(msg)) => msg,
        other => panic!("expected BlobError::Io, got {other:?}"),
    }
}

#[tokio::test]
async fn stores_and_reads_through_a_fake_s3() {
    let (fake, addr) = start_fake().await;
    let s3 = fake_client(addr, FAKE_SECRET, FAKE_BUCKET, Some("parley"));
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    s3.put("ws/conv/a1.png", bytes.clone()).await.unwrap();
    assert_eq!(s3.get("ws/conv/a1.png").await.unwrap(), bytes);
    assert_eq!(fake.objects.lock().unwrap()["parley/ws/conv/a1.png"], bytes);

    s3.put("ws/conv/empty", Vec::new()).await.unwrap();
    assert_eq!(s3.get("ws/conv/empty").await.unwrap(), b"");
    assert!(matches!(
        s3.get("ws/conv/none").await,
        Err(BlobError::NotFound)
    ));

    // Another store on the same bucket (a restart) finds what was written.
    let again = fake_client(addr, FAKE_SECRET, FAKE_BUCKET, Some("parley"));
    assert_eq!(again.get("ws/conv/a1.png").await.unwrap(), bytes);

    s3.delete("ws/conv/empty").await.unwrap();
    assert!(!fake
        .objects
        .lock()
        .unwrap()
        .contains_key("parley/ws/conv/empty"));
    assert!(matches!(
        s3.get("ws/conv/empty").await,
        Err(BlobError::NotFound)
    ));
    s3.delete("ws/conv/empty").await.unwrap();
}

#[tokio::test]
async fn a_wrong_secret_is_an_io_error_naming_the_s3_code() {
    let (fake, addr) = start_fake().await;
    let s3 = fake_client(addr, "not-the-secret", FAKE_BUCKET, None);
    let msg = io_message(s3.put("ws/a", b"x".to_vec()).await);
    assert!(
        msg.contains("SignatureDoesNotMatch") && msg.contains("403"),
        "{msg}"
    );
    assert!(msg.starts_with("S3 PUT ws/a: "), "{msg}");
    // Refused, not "not found": a missing key and a bad credential must not look alike.
    let msg = io_message(s3.get("ws/a").await);
    assert!(msg.contains("SignatureDoesNotMatch"), "{msg}");
    assert!(fake.objects.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_missing_bucket_is_an_io_error_not_a_missing_blob() {
    let (_fake, addr) = start_fake().await;
    let s3 = fake_client(addr, FAKE_SECRET, "other-bucket", None);
    let msg = io_message(s3.get("ws/a").await);
    assert!(msg.contains("404 NoSuchBucket"), "{msg}");
}

async fn execute(req: reqwest::Request) -> (StatusCode, String) {
    let resp = reqwest::Client::new().execute(req).await.unwrap();
    let status = resp.status();
    (status, resp.text().await.unwrap())
}

#[tokio::test]
async fn the_fake_refuses_tampered_requests() {
    let (fake, addr) = start_fake().await;
    let s3 = fake_client(addr, FAKE_SECRET, FAKE_BUCKET, None);
    let signed_at = |at: &Timestamp| {
        s3.request("ws/t", Op::Put(b"original".to_vec()), at)
            .build()
            .unwrap()
    };
    let signed = || signed_at(&Timestamp::now());

    // Another body of the same length: it no longer matches the signed digest.
    let mut req = signed();
    *req.body_mut() = Some(b"tampered".to_vec().into());
    let (status, body) = execute(req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("<Code>BadDigest</Code>"), "{body}");

    // The digest changed with it: the signature no longer matches the headers.
    let mut req = signed();
    *req.body_mut() = Some(b"tampered".to_vec().into());
    let digest = md5_base64(b"tampered").parse().unwrap();
    req.headers_mut().insert("content-md5", digest);
    let (status, body) = execute(req).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{body}"
    );

    // Sent to another key: the signature covers the path.
    let mut req = signed();
    let query = req.url().query().unwrap().to_string();
    *req.url_mut() = format!("http://{addr}/{FAKE_BUCKET}/ws/u?{query}")
        .parse()
        .unwrap();
    let (status, body) = execute(req).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{body}"
    );

    // Unsigned.
    let mut req = signed();
    req.url_mut().set_query(None);
    let (status, body) = execute(req).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // Signed longer ago than a signature lives.
    let long_ago = Timestamp::now() - SIGNATURE_LIFETIME - Duration::from_secs(60);
    let (status, body) = execute(signed_at(&long_ago)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(fake.objects.lock().unwrap().is_empty());

    // The same request untouched is taken, so the refusals above came from the tampering.
    let (status, body) = execute(signed()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(fake.objects.lock().unwrap()["ws/t"], b"original");
}

#[tokio::test]
async fn bad_keys_are_refused_before_any_request() {
    let (fake, addr) = start_fake().await;
    let s3 = fake_client(addr, FAKE_SECRET, FAKE_BUCKET, None);
    for bad in [
        "../x",
        "/etc/passwd",
        "a//b",
        "a/./b",
        "a b",
        "",
        "a?b",
        "a%2Fb",
    ] {
        assert!(
            matches!(s3.put(bad, vec![1]).await, Err(BlobError::BadKey(_))),
            "{bad}"
        );
        assert!(
            matches!(s3.get(bad).await, Err(BlobError::BadKey(_))),
            "{bad}"
        );
    }
    assert_eq!(fake.requests.load(Ordering::SeqCst), 0);
    // A good key does reach the server, so the count above can move.
    assert!(matches!(s3.get("ok").await, Err(BlobError::NotFound)));
    assert_eq!(fake.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_io_errors() {
    // A server that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    let s3 =
        fake_client(addr, FAKE_SECRET, FAKE_BUCKET, None).with_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let msg = io_message(s3.get("ws/a").await);
    assert!(msg.contains("within 300ms"), "{msg}");
    assert!(started.elapsed() < Duration::from_secs(10));
    silent.abort();

    // Nobody listens on a port just released.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let s3 = fake_client(addr, FAKE_SECRET, FAKE_BUCKET, None);
    let msg = io_message(s3.put("ws/a", b"x".to_vec()).await);
    assert!(
        msg.starts_with("S3 PUT ws/a: ") && msg.contains("refused"),
        "{msg}"
    );
    // The signed URL is a credential for a while: an error message, which is logged, leaves it out.
    assert!(!msg.contains("X-Amz-Signature"), "{msg}");
}
