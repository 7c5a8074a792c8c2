//! API tokens found valid are believed for a short while without a database read
//! (`auth::TokenCache`): a revocation, or a change to a custom role a token holds, holds at once
//! on the server that made it, and on another server sharing the database once the cached copy
//! has expired. Both engines.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

mod common;

use axum::http::StatusCode;
use common::Api;
use threadline_domain::access::Role;
use threadline_server::AppState;
use threadline_server::auth::TokenCache;
use threadline_testkit::{TestStore, store_test};

store_test!(
    a_revoked_token_is_refused_by_every_server_sharing_the_database,
    |s: TestStore| async move {
        // Two servers over one database, as two processes behind a load balancer would be.
        let a = Api::new(&s).await;
        let b = Api::with_state(
            &s,
            AppState::new(s.store.clone()),
            "erp",
            &[Role::Warehouse],
        )
        .await;
        let erp_on_a = Api {
            router: a.router.clone(),
            auth: b.auth.clone(),
        };
        for api in [&b, &erp_on_a] {
            let me = api.get("/api/v1/me").await;
            assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
            assert_eq!(me.body["actor"], "token:erp");
        }
        // Its use is recorded even though later requests are answered from the cache.
        let tokens = a.get("/api/v1/tokens").await.body;
        let erp = tokens["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "erp")
            .unwrap();
        assert!(erp["last_used_at"].is_string(), "{erp}");

        assert_eq!(
            a.delete("/api/v1/tokens/erp").await.status,
            StatusCode::NO_CONTENT
        );
        // The server that revoked it refuses it at once, though it had just believed it.
        let r = erp_on_a.get("/api/v1/me").await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_token"))
        );
        // The other server, once its copy has expired.
        tokio::time::sleep(TokenCache::LIFETIME + std::time::Duration::from_millis(200)).await;
        let r = b.get("/api/v1/me").await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_token"))
        );
        // The admin's own token was never affected.
        assert_eq!(a.get("/api/v1/me").await.status, StatusCode::OK);
    }
);

store_test!(
    a_custom_roles_new_permissions_hold_at_once_on_its_server_and_soon_on_the_others,
    |s: TestStore| async move {
        let a = Api::new(&s).await;
        let r = a
            .post(
                "/api/v1/roles",
                serde_json::json!({"name": "reader", "label": "Reader", "permissions": ["read"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let r = a
            .post(
                "/api/v1/tokens",
                serde_json::json!({"name": "mes", "roles": ["reader"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let auth = format!("Bearer {}", r.body["secret"].as_str().unwrap());
        let mes_on_a = Api {
            router: a.router.clone(),
            auth: auth.clone(),
        };
        let mes_on_b = Api {
            router: threadline_server::app(AppState::new(s.store.clone())),
            auth,
        };
        // Both servers believe the token, with what its role grants now.
        for api in [&mes_on_a, &mes_on_b] {
            assert_eq!(api.get("/api/v1/products").await.status, StatusCode::OK);
            assert_eq!(
                api.get("/api/v1/webhooks").await.status,
                StatusCode::FORBIDDEN
            );
        }
        // The role loses `read` and gains `configure` on server A.
        let r = a
            .put(
                "/api/v1/roles/reader",
                "\"1\"",
                serde_json::json!({"label": "Reader", "permissions": ["configure"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        // Server A holds it from the next request, though it had just believed the token.
        assert_eq!(
            mes_on_a.get("/api/v1/products").await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            mes_on_a.get("/api/v1/webhooks").await.status,
            StatusCode::OK
        );
        // Server B, once its copy has expired.
        tokio::time::sleep(TokenCache::LIFETIME + std::time::Duration::from_millis(200)).await;
        assert_eq!(
            mes_on_b.get("/api/v1/products").await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            mes_on_b.get("/api/v1/webhooks").await.status,
            StatusCode::OK
        );
    }
);
