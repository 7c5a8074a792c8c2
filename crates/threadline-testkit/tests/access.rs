//! The store's part of access control — users, lockout counters, API tokens, sessions, custom
//! roles — on SQLite and PostgreSQL alike.

#![allow(clippy::unwrap_used)] // tests unwrap: a panic is the failure report

use chrono::Duration;
use threadline_domain::LocationCode;
use threadline_domain::access::{
    Credential, CredentialKind, LockoutPolicy, Permission, Role, RoleDefinition, RoleName, Roles,
    TokenName, UserName,
};
use threadline_store::{AccessChange, CustomRole, NewSession, NewToken, NewUser, StoreError};
use threadline_testkit::fixtures::now;
use threadline_testkit::{TestStore, store_test};
use uuid::Uuid;

fn new_user(name: &str, roles: &[&str]) -> NewUser {
    NewUser {
        name: UserName::parse(name).unwrap(),
        password_hash: format!("hash-of-{name}"),
        roles: Roles::parse(roles).unwrap(),
        site: None,
        party: None,
        created_at: now(),
    }
}

fn new_token(name: &str, seed: u8) -> (NewToken, Credential) {
    let secret = Credential::new(CredentialKind::ApiToken, [seed; 32]);
    (
        NewToken {
            id: Uuid::now_v7(),
            name: TokenName::parse(name).unwrap(),
            secret_digest: secret.digest(),
            roles: Roles::one(Role::Production),
            site: Some(LocationCode::parse("SZ").unwrap()),
            party: None,
            created_at: now(),
            created_by: "admin".into(),
        },
        secret,
    )
}

fn new_session(user: &str, seed: u8, minutes: i64) -> (NewSession, [u8; 32]) {
    let id = Credential::new(CredentialKind::Session, [seed; 32]).digest();
    (
        NewSession {
            id_digest: id,
            user: user.into(),
            csrf_token: format!("csrf-{seed}"),
            created_at: now(),
            expires_at: now() + Duration::minutes(minutes),
        },
        id,
    )
}

fn conflict_field(e: StoreError) -> Option<String> {
    match e {
        StoreError::Conflict(f) => f.field,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

store_test!(
    users_are_created_listed_and_changed,
    |s: TestStore| async move {
        assert_eq!(s.user_count().await.unwrap(), 0);
        s.create_user(new_user("zhang.wei", &["warehouse"]))
            .await
            .unwrap();
        let mut li = new_user("li.na", &["qc", "production"]);
        li.site = Some(LocationCode::parse("SZ").unwrap());
        s.create_user(li).await.unwrap();
        let e = s
            .create_user(new_user("li.na", &["admin"]))
            .await
            .unwrap_err();
        assert_eq!(conflict_field(e), Some("name".into()));
        assert_eq!(s.user_count().await.unwrap(), 2);

        let u = s.user("li.na").await.unwrap().unwrap();
        assert_eq!(u.roles.shipped(), &[Role::Production, Role::Qc]);
        assert_eq!(u.site.as_deref(), Some("SZ"));
        assert_eq!(
            (u.disabled, u.failed_logins, u.locked_until),
            (false, 0, None)
        );
        assert_eq!(u.created_at, now());
        assert_eq!(u.password_hash, "hash-of-li.na");
        assert!(s.user("LI.NA").await.unwrap().is_none(), "names are exact");
        assert!(s.user("nobody\0").await.unwrap().is_none());

        let names: Vec<String> = s
            .users()
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.name)
            .collect();
        assert_eq!(names, ["li.na", "zhang.wei"]);

        s.set_user_access("li.na", &Roles::one(Role::Quality), None, None)
            .await
            .unwrap();
        let u = s.user("li.na").await.unwrap().unwrap();
        assert_eq!((u.roles.shipped(), u.site), (&[Role::Quality][..], None));
        assert!(matches!(
            s.set_user_access("ghost", &Roles::one(Role::Qc), None, None)
                .await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.set_password("ghost", "h".into(), now(), None).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.set_user_disabled("ghost", true).await,
            Err(StoreError::NotFound(_))
        ));
    }
);

store_test!(
    failed_sign_ins_lock_an_account_and_success_clears_them,
    |s: TestStore| async move {
        s.create_user(new_user("op", &["production"]))
            .await
            .unwrap();
        let policy = LockoutPolicy::default();
        for n in 1..=4 {
            let f = s.login_failed("op", now(), policy).await.unwrap();
            assert_eq!((f.failures, f.locked_until), (n, None));
        }
        s.login_succeeded("op").await.unwrap();
        assert_eq!(s.user("op").await.unwrap().unwrap().failed_logins, 0);

        for _ in 1..=4 {
            s.login_failed("op", now(), policy).await.unwrap();
        }
        let f = s.login_failed("op", now(), policy).await.unwrap();
        let until = now() + Duration::minutes(15);
        assert_eq!((f.failures, f.locked_until), (0, Some(until)));
        let u = s.user("op").await.unwrap().unwrap();
        assert!(u.locked_out_at(now()) && !u.locked_out_at(until));

        // A failure during the lockout counts again but does not extend it.
        let f = s
            .login_failed("op", now() + Duration::minutes(1), policy)
            .await
            .unwrap();
        assert_eq!((f.failures, f.locked_until), (1, None));
        assert_eq!(
            s.user("op").await.unwrap().unwrap().locked_until,
            Some(until)
        );

        // An administrator's unlock clears the lockout and the count.
        s.set_user_disabled("op", false).await.unwrap();
        let u = s.user("op").await.unwrap().unwrap();
        assert_eq!((u.failed_logins, u.locked_until), (0, None));
        assert!(matches!(
            s.login_failed("ghost", now(), policy).await,
            Err(StoreError::NotFound(_))
        ));
    }
);

store_test!(
    concurrent_failures_are_all_counted,
    |s: TestStore| async move {
        s.create_user(new_user("op", &["production"]))
            .await
            .unwrap();
        let policy = LockoutPolicy {
            max_failures: 1000,
            lock_for: Duration::minutes(1),
        };
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let store = s.store.clone();
                tokio::spawn(async move { store.login_failed("op", now(), policy).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(s.user("op").await.unwrap().unwrap().failed_logins, 20);
    }
);

store_test!(
    tokens_are_found_by_digest_revoked_and_never_renamed,
    |s: TestStore| async move {
        let (erp, erp_secret) = new_token("erp", 1);
        let erp_id = erp.id;
        s.create_token(erp).await.unwrap();
        let (plc, _) = new_token("line-1-plc", 2);
        s.create_token(plc).await.unwrap();

        let t = s
            .token_by_digest(&erp_secret.digest())
            .await
            .unwrap()
            .unwrap();
        assert_eq!((t.id, t.name.as_str()), (erp_id, "erp"));
        assert_eq!(t.roles.shipped(), &[Role::Production]);
        assert_eq!(t.site.as_deref(), Some("SZ"));
        assert_eq!((t.created_by.as_str(), t.created_at), ("admin", now()));
        assert_eq!((t.last_used_at, t.revoked_at), (None, None));
        let other = Credential::new(CredentialKind::ApiToken, [9; 32]);
        assert!(s.token_by_digest(&other.digest()).await.unwrap().is_none());

        // Last use moves forward only.
        let later = now() + Duration::minutes(5);
        s.token_used(erp_id, later).await.unwrap();
        s.token_used(erp_id, now()).await.unwrap();
        let t = s
            .token_by_digest(&erp_secret.digest())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(t.last_used_at, Some(later));

        // Revoking keeps the row and the first revocation time.
        s.revoke_token("erp", later).await.unwrap();
        s.revoke_token("erp", later + Duration::hours(1))
            .await
            .unwrap();
        let t = s
            .token_by_digest(&erp_secret.digest())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(t.revoked_at, Some(later));
        assert!(matches!(
            s.revoke_token("ghost", later).await,
            Err(StoreError::NotFound(_))
        ));

        // A name is never reused, so `token:erp` in the ledger names one token forever.
        let (again, _) = new_token("erp", 3);
        let e = s.create_token(again).await.unwrap_err();
        assert_eq!(conflict_field(e), Some("name".into()));

        let names: Vec<String> = s
            .tokens()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["erp", "line-1-plc"]);
    }
);

store_test!(
    sessions_belong_to_users_and_end,
    |s: TestStore| async move {
        s.create_user(new_user("clerk", &["warehouse"]))
            .await
            .unwrap();
        s.create_user(new_user("other", &["qc"])).await.unwrap();
        let (a, a_id) = new_session("clerk", 1, 60);
        let (b, b_id) = new_session("clerk", 2, 60);
        let (c, c_id) = new_session("other", 3, 60);
        for x in [a, b, c] {
            s.create_session(x).await.unwrap();
        }
        let got = s.session(&a_id).await.unwrap().unwrap();
        assert_eq!(got.user.name, "clerk");
        assert_eq!(got.user.roles.shipped(), &[Role::Warehouse]);
        assert_eq!(got.csrf_token, "csrf-1");
        assert_eq!((got.created_at, got.last_seen_at), (now(), now()));
        assert_eq!(got.expires_at, now() + Duration::minutes(60));

        let later = now() + Duration::minutes(3);
        s.touch_session(&a_id, later).await.unwrap();
        s.touch_session(&a_id, now()).await.unwrap();
        assert_eq!(s.session(&a_id).await.unwrap().unwrap().last_seen_at, later);

        // A password change ends every other session of that user only.
        s.set_password("clerk", "new-hash".into(), later, Some(a_id))
            .await
            .unwrap();
        assert!(s.session(&a_id).await.unwrap().is_some());
        assert!(s.session(&b_id).await.unwrap().is_none());
        assert!(s.session(&c_id).await.unwrap().is_some());
        let u = s.user("clerk").await.unwrap().unwrap();
        assert_eq!(
            (u.password_hash.as_str(), u.password_changed_at),
            ("new-hash", Some(later))
        );
        // An administrator's reset ends them all.
        s.set_password("clerk", "reset".into(), later, None)
            .await
            .unwrap();
        assert!(s.session(&a_id).await.unwrap().is_none());

        // Locking a user ends its sessions.
        s.set_user_disabled("other", true).await.unwrap();
        assert!(s.session(&c_id).await.unwrap().is_none());
        assert!(s.user("other").await.unwrap().unwrap().disabled);

        // Sign-out; ending twice is fine.
        let (d, d_id) = new_session("clerk", 4, 60);
        s.create_session(d).await.unwrap();
        s.end_session(&d_id).await.unwrap();
        s.end_session(&d_id).await.unwrap();
        assert!(s.session(&d_id).await.unwrap().is_none());

        // Sessions past their absolute expiry are forgotten when a new one starts.
        let (old, old_id) = new_session("clerk", 5, -1);
        s.create_session(old).await.unwrap();
        let (fresh, _) = new_session("clerk", 6, 60);
        s.create_session(fresh).await.unwrap();
        assert!(s.session(&old_id).await.unwrap().is_none());
    }
);

fn custom_role(name: &str, permissions: &[&str], version: u32) -> CustomRole {
    CustomRole {
        def: RoleDefinition::parse(name, "Line inspector", Some("at the line"), permissions)
            .unwrap(),
        version,
        created_at: now(),
        created_by: "admin".into(),
        updated_at: now() + Duration::minutes(i64::from(version)),
        updated_by: "admin".into(),
    }
}

fn refusal(e: StoreError) -> (&'static str, Option<String>) {
    match e {
        StoreError::Conflict(f) => (f.code, f.field),
        StoreError::Invalid(v) => (v[0].code, v[0].field.clone()),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

store_test!(
    custom_roles_are_stored_changed_by_version_and_kept_while_held,
    |s: TestStore| async move {
        assert!(s.custom_roles().await.unwrap().is_empty());
        let role = custom_role("line-inspector", &["read", "inspect"], 1);
        s.change_access(AccessChange::CreateRole(role.clone()), None)
            .await
            .unwrap();
        assert_eq!(s.custom_roles().await.unwrap(), std::slice::from_ref(&role));
        let e = s
            .change_access(AccessChange::CreateRole(role.clone()), None)
            .await
            .unwrap_err();
        assert_eq!(refusal(e), ("already_exists", Some("name".into())));

        // Replaced at the version it was read at, and only then.
        let v2 = custom_role("line-inspector", &["read", "inspect", "hold"], 2);
        let stale = AccessChange::ReplaceRole {
            role: v2.clone(),
            replaces: 5,
        };
        assert_eq!(
            refusal(s.change_access(stale, None).await.unwrap_err()),
            ("version_mismatch", Some("If-Match".into()))
        );
        let change = AccessChange::ReplaceRole {
            role: v2.clone(),
            replaces: 1,
        };
        s.change_access(change, None).await.unwrap();
        assert_eq!(s.custom_roles().await.unwrap(), std::slice::from_ref(&v2));
        let missing = AccessChange::ReplaceRole {
            role: custom_role("night-shift", &["read"], 2),
            replaces: 1,
        };
        assert!(matches!(
            s.change_access(missing, None).await,
            Err(StoreError::NotFound(_))
        ));

        // Given only while defined.
        let mut ghost = new_user("ghost", &["qc", "night-shift"]);
        ghost.site = None;
        assert_eq!(
            refusal(s.create_user(ghost).await.unwrap_err()),
            ("unknown_role", Some("roles".into()))
        );
        assert!(s.user("ghost").await.unwrap().is_none());
        s.create_user(new_user("wang", &["line-inspector", "qc"]))
            .await
            .unwrap();
        let wang = s.user("wang").await.unwrap().unwrap();
        assert_eq!(wang.roles.to_stored(), "qc line-inspector");
        let defined: Vec<RoleDefinition> = s
            .custom_roles()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.def)
            .collect();
        assert!(wang.roles.permissions(&defined).contains(Permission::Hold));
        let (mut tok, _) = new_token("qc-1", 9);
        tok.roles = Roles::parse(&["line-inspector"]).unwrap();
        s.create_token(tok).await.unwrap();

        // Kept while a user or an unrevoked token holds it; a name inside another's is not it.
        s.change_access(
            AccessChange::CreateRole(custom_role("line", &["read"], 1)),
            None,
        )
        .await
        .unwrap();
        let delete = |name: &str| AccessChange::DeleteRole {
            name: RoleName::parse(name).unwrap(),
        };
        let e = s
            .change_access(delete("line-inspector"), None)
            .await
            .unwrap_err();
        assert_eq!(refusal(e), ("role_in_use", Some("name".into())));
        s.change_access(delete("line"), None).await.unwrap();
        s.set_user_access("wang", &Roles::parse(&["qc"]).unwrap(), None, None)
            .await
            .unwrap();
        let e = s
            .change_access(delete("line-inspector"), None)
            .await
            .unwrap_err();
        assert_eq!(refusal(e), ("role_in_use", Some("name".into())));
        s.revoke_token("qc-1", now()).await.unwrap();
        s.change_access(delete("line-inspector"), None)
            .await
            .unwrap();
        assert!(s.custom_roles().await.unwrap().is_empty());
        assert!(matches!(
            s.change_access(delete("line-inspector"), None).await,
            Err(StoreError::NotFound(_))
        ));
        // The revoked token's stored roles still read; the gone role grants nothing.
        let tokens = s.tokens().await.unwrap();
        assert_eq!(tokens[0].roles.to_stored(), "line-inspector");
        assert!(tokens[0].roles.permissions(&[]).is_empty());
    }
);
