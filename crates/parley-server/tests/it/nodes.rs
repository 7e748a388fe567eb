//! One node per database: a node that finds another alive on its database says so.

use serde_json::json;

use crate::harness::TestApp;
use crate::on_both;

on_both!(
    a_second_node_on_the_database_is_warned_about,
    |t: TestApp| async move {
        let (s, v) = t.get("/api/v1/health", "").await;
        assert_eq!((s, v), (200, json!({ "status": "ok" })));

        let second = t.second_node(|_| {}).await;
        let (s, v) = second.get("/api/v1/health", "").await;
        assert_eq!(s, 200);
        assert_eq!(v["status"], "ok");
        assert_eq!(v["other_nodes"], 1, "{v}");
        assert!(
            v["warning"]
                .as_str()
                .unwrap()
                .contains("run one node per database"),
            "{v}"
        );
        // The first node learns of the second at its next heartbeat.
        parley_server::jobs::nodes::beat(&t.app).await.unwrap();
        let (_, v) = t.get("/api/v1/health", "").await;
        assert_eq!(v["other_nodes"], 1, "{v}");

        // A node that stops says so: the other is alone again.
        parley_server::jobs::nodes::leave(&second.app).await;
        parley_server::jobs::nodes::beat(&t.app).await.unwrap();
        let (_, v) = t.get("/api/v1/health", "").await;
        assert_eq!(v, json!({ "status": "ok" }));
    }
);
