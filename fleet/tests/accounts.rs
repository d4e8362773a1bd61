//! End to end over real HTTP: every `/users/*` and `/vendors/*` route of
//! the contract, for every role, with every documented error, plus the
//! transport conventions and the operational endpoints.
mod support;

use std::process::ExitCode;
use std::sync::Arc;

use chrono::Utc;
use common::auth::Role;
use common::base64url::encode as base64_encode;
use common::cases;
use identity::tokens::{KeyPair, Signer};
use serde_json::{Value, json};
use support::{Ctx, PASSWORD, jwt_parts, race};

const NOT_PROVIDED: &str = "Authentication credentials were not provided.";
const NO_PERMISSION: &str = "You do not have permission to perform this action.";

fn main() -> ExitCode {
    support::run_suite(
        "accounts",
        cases![Ctx;
            register_customer_returns_the_user,
            register_vendor_accepts_upper_case_role,
            register_refuses_admin_role,
            register_requires_fields,
            register_password_mismatch_is_reported_on_confirm,
            register_refuses_weak_passwords,
            register_duplicate_email_is_400_case_insensitively,
            register_validates_email_and_phone,
            register_ignores_read_only_fields,
            concurrent_registrations_of_one_email_create_one_user,
            login_returns_tokens_with_documented_claims,
            login_with_bad_credentials_is_401,
            login_requires_fields,
            failed_logins_are_rate_limited_per_ip,
            failed_logins_are_rate_limited_per_email,
            a_burst_of_wrong_passwords_gets_exactly_the_limit,
            a_burst_of_right_passwords_is_never_throttled,
            refresh_rotates_and_reuse_revokes_the_family,
            concurrent_refreshes_of_one_token_rotate_once,
            refresh_refuses_garbage_and_access_tokens,
            refresh_requires_the_field,
            logout_revokes_the_family_and_is_idempotent,
            logout_errors,
            profile_requires_a_valid_token,
            tampered_tokens_are_refused,
            profile_patch_changes_only_names_and_phone,
            profile_patch_validates_phone,
            vendor_creates_a_pending_profile,
            only_vendors_create_profiles,
            second_vendor_profile_is_refused,
            concurrent_profile_creation_by_one_vendor_creates_one,
            concurrent_shop_names_are_unique,
            shop_name_is_validated,
            vendor_me_without_profile_is_404,
            vendor_me_get_and_patch,
            vendor_me_is_for_vendors_only,
            admin_verifies_vendors,
            verify_errors_by_role_and_input,
            vendor_list_shows_only_approved_and_paginates,
            slugs_get_numbered_suffixes,
            paths_without_trailing_slash_are_served,
            malformed_bodies_get_drf_errors,
            unknown_routes_and_verbs_are_json,
            operational_endpoints_answer,
            openapi_documents_every_route,
        ],
        |_| {},
    )
}

async fn register_customer_returns_the_user(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let email = ctx.unique_email("Mixed.Case");
    let body = api
        .post(
            "/users/register/",
            None,
            json!({"email": email.to_uppercase(), "password": PASSWORD, "password_confirm": PASSWORD,
                   "first_name": "Ann", "last_name": "Lee"}),
        )
        .await
        .expect(201);
    let mut keys: Vec<_> = body.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["created_at", "email", "first_name", "id", "is_active", "last_name", "phone", "role"]);
    assert_eq!(body["email"], json!(email.to_lowercase()));
    assert_eq!(body["role"], "customer");
    assert_eq!(body["phone"], Value::Null);
    assert_eq!(body["is_active"], true);
    assert_eq!(body["first_name"], "Ann");
    assert!(body["created_at"].as_str().expect("created_at").ends_with('Z'));
    assert!(body.get("password").is_none());
}

async fn register_vendor_accepts_upper_case_role(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let body = api.register(&ctx.unique_email("v"), "VENDOR").await.expect(201);
    assert_eq!(body["role"], "vendor");
}

async fn register_refuses_admin_role(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let body = api.register(&ctx.unique_email("a"), "admin").await.expect(400);
    assert!(body["role"][0].as_str().expect("message").contains("not a valid choice"));
}

async fn register_requires_fields(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let body = api.post("/users/register/", None, json!({})).await.expect(400);
    for field in ["email", "password", "password_confirm"] {
        assert_eq!(body[field], json!(["This field is required."]), "{field}");
    }
    let body = api.post("/users/register/", None, json!({"email": "", "password": "", "password_confirm": ""})).await;
    assert_eq!(body.expect(400)["email"], json!(["This field may not be blank."]));
}

async fn register_password_mismatch_is_reported_on_confirm(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let body = api
        .post(
            "/users/register/",
            None,
            json!({"email": ctx.unique_email("m"), "password": PASSWORD, "password_confirm": "Tr1cky-Horse-93"}),
        )
        .await
        .expect(400);
    assert_eq!(body, json!({"password_confirm": ["Passwords do not match."]}));
}

async fn register_refuses_weak_passwords(ctx: Arc<Ctx>) {
    let api = ctx.api();
    for (password, problem) in [
        ("Ab1!x", "too short"),
        ("password123", "too common"),
        ("83749261057", "entirely numeric"),
        ("zorbaquill7", "too similar"),
    ] {
        let email = format!("zorbaquill7-{}@example.com", uuid::Uuid::new_v4().simple());
        let body = api
            .post("/users/register/", None, json!({"email": email, "password": password, "password_confirm": password}))
            .await
            .expect(400);
        let messages = body["password"].to_string();
        assert!(messages.contains(problem), "{password}: {messages}");
    }
}

async fn register_duplicate_email_is_400_case_insensitively(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let email = ctx.unique_email("dup");
    api.register(&email, "customer").await.expect(201);
    let body = api.register(&email.to_uppercase(), "customer").await.expect(400);
    assert_eq!(body, json!({"email": ["user with this email already exists."]}));
}

async fn register_validates_email_and_phone(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let body = api
        .post(
            "/users/register/",
            None,
            json!({"email": "not-an-email", "password": PASSWORD, "password_confirm": PASSWORD, "phone": "12ab"}),
        )
        .await
        .expect(400);
    assert_eq!(body["email"], json!(["Enter a valid email address."]));
    assert!(body["phone"].is_array());

    let phone = format!("+1415{}", 1_000_000 + (uuid::Uuid::new_v4().as_u128() % 8_999_999) as u64);
    let with_phone = |email: String| json!({"email": email, "password": PASSWORD, "password_confirm": PASSWORD, "phone": phone.clone()});
    let body = api.post("/users/register/", None, with_phone(ctx.unique_email("p1"))).await.expect(201);
    assert_eq!(body["phone"], json!(phone));
    let body = api.post("/users/register/", None, with_phone(ctx.unique_email("p2"))).await.expect(400);
    assert_eq!(body, json!({"phone": ["user with this phone already exists."]}));

    let body = api
        .post(
            "/users/register/",
            None,
            json!({"email": ctx.unique_email("p3"), "password": PASSWORD, "password_confirm": PASSWORD, "phone": ""}),
        )
        .await
        .expect(201);
    assert_eq!(body["phone"], Value::Null);
}

async fn register_ignores_read_only_fields(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let body = api
        .post(
            "/users/register/",
            None,
            json!({"email": ctx.unique_email("ro"), "password": PASSWORD, "password_confirm": PASSWORD,
                   "is_active": false, "id": 1, "created_at": "2000-01-01T00:00:00Z", "is_staff": true, "extra": [1]}),
        )
        .await
        .expect(201);
    assert_eq!(body["is_active"], true);
    assert_ne!(body["id"], 1);
    assert!(!body["created_at"].as_str().expect("created_at").starts_with("2000"));
}

async fn concurrent_registrations_of_one_email_create_one_user(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let email = ctx.unique_email("race");
    let replies = race(20, |_| api.register(&email, "customer")).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    let refused = replies.iter().filter(|r| r.status == 400).count();
    assert_eq!((created, refused), (1, 19), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    for reply in replies.iter().filter(|r| r.status == 400) {
        assert_eq!(reply.body, json!({"email": ["user with this email already exists."]}));
    }
}

async fn login_returns_tokens_with_documented_claims(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let email = ctx.unique_email("claims");
    let user = api.register(&email, "vendor").await.expect(201);
    let tokens = api.login(&email.to_uppercase(), PASSWORD).await.expect(200);
    let (header, claims) = jwt_parts(tokens["access"].as_str().expect("access"));
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], json!(ctx.signing_key.kid));
    assert_eq!(claims["sub"], json!(user["id"].as_i64().expect("id").to_string()));
    assert_eq!(claims["role"], "vendor");
    assert!(claims["jti"].is_string());
    assert_eq!(claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"), 15 * 60);
    assert!(tokens["refresh"].as_str().is_some_and(|r| !r.is_empty()));
}

async fn login_with_bad_credentials_is_401(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let email = ctx.unique_email("bad");
    api.register(&email, "customer").await.expect(201);
    let expected = json!({"detail": "No active account found with the given credentials"});
    assert_eq!(api.login(&email, "Wrong-Horse-92").await.expect(401), expected);
    assert_eq!(api.login(&ctx.unique_email("nobody"), PASSWORD).await.expect(401), expected);
}

async fn login_requires_fields(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let body = api.post("/users/login/", None, json!({})).await.expect(400);
    assert_eq!(body, json!({"email": ["This field is required."], "password": ["This field is required."]}));
}

async fn failed_logins_are_rate_limited_per_ip(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let email = ctx.unique_email("limited");
    api.register(&email, "customer").await.expect(201);
    for _ in 0..10 {
        api.login(&ctx.unique_email("guess"), "Wrong-Horse-92").await.expect(401);
    }
    // The right password from that IP is refused too, with a wait.
    let reply = api.login(&email, PASSWORD).await;
    let retry_after: u64 = reply.header("retry-after").expect("Retry-After").parse().expect("seconds");
    assert!((1..=60).contains(&retry_after));
    let body = reply.expect(429);
    assert_eq!(body["detail"], json!(format!("Request was throttled. Expected available in {retry_after} seconds.")));
    // Another client is not affected.
    ctx.api().login(&email, PASSWORD).await.expect(200);
}

async fn failed_logins_are_rate_limited_per_email(ctx: Arc<Ctx>) {
    let email = ctx.unique_email("target");
    ctx.api().register(&email, "customer").await.expect(201);
    for _ in 0..10 {
        ctx.api().login(&email, "Wrong-Horse-92").await.expect(401);
    }
    ctx.api().login(&email, PASSWORD).await.expect(429);
}

/// The measured attack: 60 wrong passwords for one account at once. Each
/// attempt reserves its place before the password is checked, so exactly
/// the limit's worth are checked (401) and the rest are refused (429).
async fn a_burst_of_wrong_passwords_gets_exactly_the_limit(ctx: Arc<Ctx>) {
    let email = ctx.unique_email("burst");
    ctx.api().register(&email, "customer").await.expect(201);
    let replies = race(60, |_| {
        let api = ctx.api();
        let email = email.clone();
        async move { api.login(&email, "Wrong-Horse-92").await }
    })
    .await;
    let count = |status| replies.iter().filter(|r| r.status == status).count();
    assert_eq!((count(401), count(429)), (10, 50), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    assert!(replies.iter().filter(|r| r.status == 429).all(|r| r.header("retry-after").is_some()));
}

/// Attempts in flight count, but right passwords are waited for, not
/// refused: a burst of good logins from one client all succeed.
async fn a_burst_of_right_passwords_is_never_throttled(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let email = ctx.unique_email("crowd");
    api.register(&email, "customer").await.expect(201);
    let replies = race(25, |_| api.login(&email, PASSWORD)).await;
    assert!(replies.iter().all(|r| r.status == 200), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
}

async fn refresh_rotates_and_reuse_revokes_the_family(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let user = api.user("customer").await;
    let first = api.post("/users/token/refresh/", None, json!({"refresh": user.refresh})).await.expect(200);
    let second_refresh = first["refresh"].as_str().expect("refresh").to_owned();
    assert_ne!(second_refresh, user.refresh);
    api.get("/users/profile/", Some(first["access"].as_str().expect("access"))).await.expect(200);

    let invalid = json!({"detail": "Token is invalid or expired", "code": "token_not_valid"});
    let reused = api.post("/users/token/refresh/", None, json!({"refresh": user.refresh})).await.expect(401);
    assert_eq!(reused, invalid);
    // The reuse revoked the whole family, the live token included.
    let after = api.post("/users/token/refresh/", None, json!({"refresh": second_refresh})).await.expect(401);
    assert_eq!(after, invalid);
    // Another login is another family.
    let fresh = api.login(&user.email, PASSWORD).await.expect(200);
    api.post("/users/token/refresh/", None, json!({"refresh": fresh["refresh"]})).await.expect(200);
}

async fn concurrent_refreshes_of_one_token_rotate_once(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let user = api.user("customer").await;
    let replies = race(10, |_| api.post("/users/token/refresh/", None, json!({"refresh": user.refresh}))).await;
    let ok = replies.iter().filter(|r| r.status == 200).count();
    let refused = replies.iter().filter(|r| r.status == 401).count();
    assert_eq!((ok, refused), (1, 9), "{:?}", replies.iter().map(|r| (r.status, &r.body)).collect::<Vec<_>>());
}

async fn refresh_refuses_garbage_and_access_tokens(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let user = api.user("customer").await;
    for token in ["garbage", user.access.as_str(), "0000000000000000000000000000000000000000000000000000000000000000"] {
        let body = api.post("/users/token/refresh/", None, json!({"refresh": token})).await.expect(401);
        assert_eq!(body["code"], "token_not_valid");
    }
}

async fn refresh_requires_the_field(ctx: Arc<Ctx>) {
    let body = ctx.api().post("/users/token/refresh/", None, json!({})).await.expect(400);
    assert_eq!(body, json!({"refresh": ["This field is required."]}));
}

async fn logout_revokes_the_family_and_is_idempotent(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let user = api.user("customer").await;
    let body = api.post("/users/logout/", Some(&user.access), json!({"refresh": user.refresh})).await.expect(200);
    assert_eq!(body, json!({"detail": "Successfully logged out."}));
    api.post("/users/token/refresh/", None, json!({"refresh": user.refresh})).await.expect(401);
    api.post("/users/logout/", Some(&user.access), json!({"refresh": user.refresh})).await.expect(200);
    // Access tokens are stateless: they live out their 15 minutes.
    api.get("/users/profile/", Some(&user.access)).await.expect(200);
}

async fn logout_errors(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let user = api.user("customer").await;
    let other = api.user("customer").await;
    let body = api.post("/users/logout/", None, json!({"refresh": user.refresh})).await.expect(401);
    assert_eq!(body, json!({"detail": NOT_PROVIDED}));
    let body = api.post("/users/logout/", Some(&user.access), json!({})).await.expect(400);
    assert_eq!(body, json!({"refresh": ["This field is required."]}));
    let invalid = json!({"detail": "Token is invalid or expired", "code": "token_not_valid"});
    let body = api.post("/users/logout/", Some(&user.access), json!({"refresh": other.refresh})).await.expect(400);
    assert_eq!(body, invalid);
    let body = api.post("/users/logout/", Some(&user.access), json!({"refresh": "garbage"})).await.expect(400);
    assert_eq!(body, invalid);
    // The other user's token still works: a foreign logout revoked nothing.
    api.post("/users/token/refresh/", None, json!({"refresh": other.refresh})).await.expect(200);
}

async fn profile_requires_a_valid_token(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let reply = api.get("/users/profile/", None).await;
    assert_eq!(reply.header("www-authenticate"), Some("Bearer realm=\"api\""));
    assert_eq!(reply.expect(401), json!({"detail": NOT_PROVIDED}));
    let reply = api.get("/users/profile/", Some("not.a.jwt")).await;
    assert_eq!(reply.header("www-authenticate"), Some("Bearer realm=\"api\""));
    assert_eq!(
        reply.expect(401),
        json!({"detail": "Given token not valid for any token type", "code": "token_not_valid"})
    );
}

async fn tampered_tokens_are_refused(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let user = api.user("customer").await;
    let (header, mut claims) = jwt_parts(&user.access);

    // alg: none with the same claims, no signature.
    let none_header = json!({"alg": "none", "typ": "JWT", "kid": header["kid"]});
    let unsigned = format!(
        "{}.{}.",
        base64_encode(none_header.to_string().as_bytes()),
        base64_encode(claims.to_string().as_bytes())
    );
    // The payload changed to admin, the signature kept.
    claims["role"] = json!("admin");
    let parts: Vec<&str> = user.access.split('.').collect();
    let escalated = format!("{}.{}.{}", parts[0], base64_encode(claims.to_string().as_bytes()), parts[2]);
    // Signed by a stranger's key under the real kid.
    let stranger = KeyPair { kid: ctx.signing_key.kid.clone(), ..KeyPair::generate().expect("key") };
    let forged = Signer::new(&stranger, 900).expect("signer").access_token(user.id, Role::Admin, None, Utc::now());
    // Signed by the real key but long expired.
    let expired = Signer::new(&ctx.signing_key, 900).expect("signer").access_token(
        user.id,
        Role::Customer,
        None,
        Utc::now() - chrono::Duration::hours(1),
    );
    for token in [unsigned, escalated, forged.expect("forged"), expired.expect("expired"), user.refresh.clone()] {
        let body = api.get("/users/profile/", Some(&token)).await.expect(401);
        assert_eq!(body["code"], "token_not_valid", "{token}");
    }
}

async fn profile_patch_changes_only_names_and_phone(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let user = api.user("customer").await;
    let phone = format!("+4420{}", 10_000_000 + (uuid::Uuid::new_v4().as_u128() % 89_999_999) as u64);
    let body = api
        .patch(
            "/users/profile/",
            Some(&user.access),
            json!({"first_name": "Zoe", "phone": phone, "role": "admin", "email": "x@y.io", "is_active": false}),
        )
        .await
        .expect(200);
    assert_eq!(body["first_name"], "Zoe");
    assert_eq!(body["last_name"], "");
    assert_eq!(body["phone"], json!(phone));
    assert_eq!(body["role"], "customer");
    assert_eq!(body["email"], json!(user.email));
    assert_eq!(body["is_active"], true);
    let body = api.get("/users/profile/", Some(&user.access)).await.expect(200);
    assert_eq!(body["first_name"], "Zoe");
    let body = api.patch("/users/profile/", Some(&user.access), json!({"phone": ""})).await.expect(200);
    assert_eq!(body["phone"], Value::Null);
}

async fn profile_patch_validates_phone(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let first = api.user("customer").await;
    let second = api.user("customer").await;
    let phone = format!("+3361{}", 1_000_000 + (uuid::Uuid::new_v4().as_u128() % 8_999_999) as u64);
    api.patch("/users/profile/", Some(&first.access), json!({"phone": phone})).await.expect(200);
    let body = api.patch("/users/profile/", Some(&second.access), json!({"phone": phone})).await.expect(400);
    assert_eq!(body, json!({"phone": ["user with this phone already exists."]}));
    api.patch("/users/profile/", Some(&second.access), json!({"phone": "0123"})).await.expect(400);
    api.patch("/users/profile/", None, json!({"first_name": "X"})).await.expect(401);
}

async fn vendor_creates_a_pending_profile(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let vendor = api.user("vendor").await;
    let name = format!("Crème Brûlée {}", uuid::Uuid::new_v4().simple());
    let body = api
        .post(
            "/vendors/create/",
            Some(&vendor.access),
            json!({"shop_name": name, "description": "Desserts", "status": "approved", "user": 1}),
        )
        .await
        .expect(201);
    let mut keys: Vec<_> = body.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "created_at",
            "description",
            "id",
            "is_verified",
            "shop_name",
            "slug",
            "status",
            "updated_at",
            "user",
            "verified_at"
        ]
    );
    assert_eq!(body["status"], "pending");
    assert_eq!(body["is_verified"], false);
    assert_eq!(body["verified_at"], Value::Null);
    assert_eq!(body["user"], json!(vendor.id));
    assert!(body["slug"].as_str().expect("slug").starts_with("creme-brulee-"));
    // The token issued before the profile existed reaches it.
    let me = api.get("/vendors/me/", Some(&vendor.access)).await.expect(200);
    assert_eq!(me["id"], body["id"]);
}

async fn only_vendors_create_profiles(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let customer = api.user("customer").await;
    let admin = api.admin().await;
    let body = json!({"shop_name": "Nope Shop"});
    assert_eq!(api.post("/vendors/create/", None, body.clone()).await.expect(401), json!({"detail": NOT_PROVIDED}));
    let forbidden = json!({"detail": NO_PERMISSION});
    assert_eq!(api.post("/vendors/create/", Some(&customer.access), body.clone()).await.expect(403), forbidden);
    assert_eq!(api.post("/vendors/create/", Some(&admin.access), body).await.expect(403), forbidden);
}

async fn second_vendor_profile_is_refused(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (vendor, _) = api.vendor_with_profile().await;
    let body =
        api.post("/vendors/create/", Some(&vendor.access), json!({"shop_name": "Another One"})).await.expect(400);
    assert_eq!(body, json!({"detail": "Vendor profile already exists.", "code": "vendor_exists"}));
}

async fn concurrent_profile_creation_by_one_vendor_creates_one(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let vendor = api.user("vendor").await;
    let replies = race(10, |i| {
        api.post("/vendors/create/", Some(&vendor.access), json!({"shop_name": format!("Racer {} {i}", vendor.id)}))
    })
    .await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 9, "{statuses:?}");
}

async fn concurrent_shop_names_are_unique(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let mut vendors = Vec::new();
    for _ in 0..8 {
        vendors.push(api.user("vendor").await);
    }
    let name = format!("Contested {}", uuid::Uuid::new_v4().simple());
    let replies =
        race(vendors.len(), |i| api.post("/vendors/create/", Some(&vendors[i].access), json!({"shop_name": name})))
            .await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 7, "{statuses:?}");
    let other = api.user("vendor").await;
    let body =
        api.post("/vendors/create/", Some(&other.access), json!({"shop_name": name.to_uppercase()})).await.expect(400);
    assert!(body["shop_name"].is_array());
}

async fn shop_name_is_validated(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let vendor = api.user("vendor").await;
    let cases = [
        (json!({}), "This field is required."),
        (json!({"shop_name": ""}), "This field may not be blank."),
        (json!({"shop_name": "A"}), "Ensure this field has at least 2 characters."),
        (json!({"shop_name": "x".repeat(101)}), "Ensure this field has no more than 100 characters."),
    ];
    for (body, message) in cases {
        let reply = api.post("/vendors/create/", Some(&vendor.access), body).await.expect(400);
        assert_eq!(reply, json!({"shop_name": [message]}));
    }
    let body = json!({"shop_name": "Long Description", "description": "d".repeat(1001)});
    assert!(api.post("/vendors/create/", Some(&vendor.access), body).await.expect(400)["description"].is_array());
}

async fn vendor_me_without_profile_is_404(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let vendor = api.user("vendor").await;
    assert_eq!(api.get("/vendors/me/", Some(&vendor.access)).await.expect(404), json!({"detail": "Not found."}));
    api.patch("/vendors/me/", Some(&vendor.access), json!({"description": "x"})).await.expect(404);
}

async fn vendor_me_get_and_patch(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (vendor, profile) = api.vendor_with_profile().await;
    let (_, other_profile) = api.vendor_with_profile().await;
    let same_name = api
        .patch(
            "/vendors/me/",
            Some(&vendor.access),
            json!({"shop_name": profile["shop_name"], "description": "New words", "status": "approved"}),
        )
        .await
        .expect(200);
    assert_eq!(same_name["description"], "New words");
    assert_eq!(same_name["status"], "pending");
    assert_eq!(same_name["slug"], profile["slug"]);
    let renamed = format!("Renamed {}", uuid::Uuid::new_v4().simple());
    let body = api.patch("/vendors/me/", Some(&vendor.access), json!({"shop_name": renamed})).await.expect(200);
    assert_eq!(body["shop_name"], json!(renamed));
    assert_eq!(body["slug"], profile["slug"], "slugs are kept on rename");
    let taken = api.patch("/vendors/me/", Some(&vendor.access), json!({"shop_name": other_profile["shop_name"]})).await;
    assert!(taken.expect(400)["shop_name"].is_array());
}

async fn vendor_me_is_for_vendors_only(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let customer = api.user("customer").await;
    let admin = api.admin().await;
    api.get("/vendors/me/", None).await.expect(401);
    api.get("/vendors/me/", Some(&customer.access)).await.expect(403);
    api.get("/vendors/me/", Some(&admin.access)).await.expect(403);
    api.patch("/vendors/me/", Some(&customer.access), json!({})).await.expect(403);
}

async fn admin_verifies_vendors(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let (vendor, profile) = api.vendor_with_profile().await;
    let path = format!("/vendors/{}/verify/", profile["id"]);

    let approved = api.patch(&path, Some(&admin.access), json!({})).await.expect(200);
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["is_verified"], true);
    assert!(approved["verified_at"].is_string());
    let me = api.get("/vendors/me/", Some(&vendor.access)).await.expect(200);
    assert_eq!(me["status"], "approved");

    let suspended = api.patch(&path, Some(&admin.access), json!({"status": "SUSPENDED"})).await.expect(200);
    assert_eq!(suspended["status"], "suspended");
    assert_eq!(suspended["is_verified"], false);
    assert_eq!(suspended["verified_at"], Value::Null);

    let pending = api.patch(&path, Some(&admin.access), json!({"status": "pending"})).await.expect(200);
    assert_eq!(pending["status"], "pending");
}

async fn verify_errors_by_role_and_input(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let customer = api.user("customer").await;
    let (vendor, profile) = api.vendor_with_profile().await;
    let path = format!("/vendors/{}/verify/", profile["id"]);
    api.patch(&path, None, json!({})).await.expect(401);
    assert_eq!(api.patch(&path, Some(&customer.access), json!({})).await.expect(403), json!({"detail": NO_PERMISSION}));
    api.patch(&path, Some(&vendor.access), json!({})).await.expect(403);
    assert!(api.patch(&path, Some(&admin.access), json!({"status": "famous"})).await.expect(400)["status"].is_array());
    api.patch("/vendors/999999999/verify/", Some(&admin.access), json!({})).await.expect(404);
    api.patch("/vendors/abc/verify/", Some(&admin.access), json!({})).await.expect(404);
}

async fn vendor_list_shows_only_approved_and_paginates(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (_, approved) = api.approved_vendor().await;
    let (_, pending) = api.vendor_with_profile().await;
    let mut all = Vec::new();
    let mut next = Some(format!("{}/vendors/?limit=2", ctx.base));
    while let Some(url) = next {
        let reply = support::Api::reply(ctx.http.get(&url).send().await.expect("sent")).await;
        let page = reply.expect(200);
        assert!(page["count"].as_i64().expect("count") >= 1);
        let results = page["results"].as_array().expect("results");
        assert!(results.len() <= 2);
        all.extend(results.iter().cloned());
        next = page["next"].as_str().map(str::to_owned);
    }
    assert!(all.iter().any(|v| v["id"] == approved["id"]));
    assert!(!all.iter().any(|v| v["id"] == pending["id"]));
    assert!(all.iter().all(|v| v["status"] == "approved" && v["is_verified"] == true));
    let ids: Vec<i64> = all.iter().map(|v| v["id"].as_i64().expect("id")).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "by id ascending");

    let page = api.get("/vendors/?limit=1000&offset=0", None).await.expect(200);
    assert!(page["results"].as_array().expect("results").len() <= 100);
    assert_eq!(page["previous"], Value::Null);
}

async fn slugs_get_numbered_suffixes(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let base = format!("Twin {}", uuid::Uuid::new_v4().simple());
    let first = api.user("vendor").await;
    let second = api.user("vendor").await;
    let a =
        api.post("/vendors/create/", Some(&first.access), json!({"shop_name": format!("{base}!")})).await.expect(201);
    let b =
        api.post("/vendors/create/", Some(&second.access), json!({"shop_name": format!("{base}?")})).await.expect(201);
    assert_eq!(b["slug"], json!(format!("{}-2", a["slug"].as_str().expect("slug"))));
}

async fn paths_without_trailing_slash_are_served(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let email = ctx.unique_email("slash");
    api.post("/users/register", None, json!({"email": email, "password": PASSWORD, "password_confirm": PASSWORD}))
        .await
        .expect(201);
    let tokens = api.post("/users/login", None, json!({"email": email, "password": PASSWORD})).await.expect(200);
    api.get("/users/profile", tokens["access"].as_str()).await.expect(200);
    api.get("/vendors?limit=1", None).await.expect(200);
}

async fn malformed_bodies_get_drf_errors(ctx: Arc<Ctx>) {
    let url = format!("{}/users/login/", ctx.base);
    let send = |content_type: &'static str, body: Vec<u8>| {
        let request = ctx.http.post(&url).header("content-type", content_type).body(body);
        async move { support::Api::reply(request.send().await.expect("sent")).await }
    };
    let body = send("application/json", b"{\"email\": ".to_vec()).await.expect(400);
    assert!(body["detail"].as_str().expect("detail").starts_with("JSON parse error - "));
    let body = send("text/plain", b"email=x".to_vec()).await.expect(415);
    assert!(body["detail"].as_str().expect("detail").starts_with("Unsupported media type"));
    let mut big = b"{\"email\": \"".to_vec();
    big.extend(std::iter::repeat_n(b'a', 1024 * 1024 + 10));
    big.extend(b"\"}");
    let reply = send("application/json", big).await;
    assert_eq!(reply.status.as_u16(), 413);
    assert!(reply.body["detail"].is_string());
    let body = send("application/json", b"[1, 2]".to_vec()).await.expect(400);
    assert!(body["non_field_errors"].is_array());
    let body = send("application/json", b"{\"email\": [\"a\"], \"password\": null}".to_vec()).await.expect(400);
    assert_eq!(body, json!({"email": ["Not a valid string."], "password": ["This field may not be null."]}));
}

async fn unknown_routes_and_verbs_are_json(ctx: Arc<Ctx>) {
    let api = ctx.api();
    assert_eq!(api.get("/no/such/route/", None).await.expect(404), json!({"detail": "Not found."}));
    let reply = api.delete("/users/register/", None).await;
    assert_eq!(reply.header("allow"), Some("POST"));
    assert_eq!(reply.expect(405), json!({"detail": "Method \"DELETE\" not allowed."}));
    let reply = api.send(reqwest::Method::PUT, "/users/profile/", None, Some(json!({}))).await;
    let allow = reply.header("allow").expect("Allow").to_owned();
    assert!(allow.contains("GET") && allow.contains("PATCH"), "{allow}");
    reply.expect(405);
}

async fn operational_endpoints_answer(ctx: Arc<Ctx>) {
    let api = ctx.api();
    assert_eq!(api.get("/healthz", None).await.expect(200)["status"], "ok");
    let ready = api.get("/readyz", None).await.expect(200);
    assert_eq!(ready["services"]["identity"], "SERVING");
    api.get("/users/profile/", None).await.expect(401);
    let user = api.user("customer").await;
    api.get("/users/profile/", Some(&user.access)).await.expect(200);
    let reply = ctx.http.get(format!("{}/metrics", ctx.base)).send().await.expect("sent");
    let text = reply.text().await.expect("text");
    assert!(text.contains("http_requests_total"), "{text}");
    assert!(text.contains("route=\"/users/profile/\""), "{text}");
    assert!(text.contains("http_request_duration_seconds_bucket"));
    // The services' metrics: gRPC calls by method and code, and the
    // database pools (beside the gateway's when they share its process).
    let reply = ctx.http.get(&ctx.identity_metrics).send().await.expect("sent");
    let text = reply.text().await.expect("text");
    assert!(text.contains("grpc_requests_total"), "{text}");
    assert!(text.contains("method=\"/marketplace.identity.v1.Identity/GetProfile\""), "{text}");
    assert!(text.contains("grpc_request_duration_seconds_bucket"));
    assert!(text.contains("db_pool_connections"));
}

async fn openapi_documents_every_route(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let doc = api.get("/api/schema/", None).await.expect(200);
    assert!(doc["openapi"].as_str().expect("version").starts_with("3."));
    let paths = doc["paths"].as_object().expect("paths");
    for (path, verbs) in [
        ("/users/register/", &["post"][..]),
        ("/users/login/", &["post"]),
        ("/users/logout/", &["post"]),
        ("/users/token/refresh/", &["post"]),
        ("/users/profile/", &["get", "patch"]),
        ("/vendors/", &["get"]),
        ("/vendors/create/", &["post"]),
        ("/vendors/me/", &["get", "patch"]),
        ("/vendors/{id}/verify/", &["patch"]),
        ("/vendors/me/orders/", &["get"]),
        ("/products/categories/", &["get", "post"]),
        ("/products/categories/{id}/", &["get", "patch", "delete"]),
        ("/products/", &["get", "post"]),
        ("/products/{id}/", &["get", "patch", "delete"]),
        ("/products/vendor/", &["get"]),
        ("/carts/items/", &["get", "post"]),
        ("/carts/items/{id}/", &["patch", "delete"]),
        ("/carts/summary/", &["get"]),
        ("/orders/create/", &["post"]),
        ("/orders/", &["get"]),
        ("/orders/{id}/", &["get"]),
        ("/orders/{id}/refund/", &["post"]),
        ("/payments/initiate/", &["post"]),
        ("/payments/webhook/", &["post"]),
        ("/payments/{id}/", &["get"]),
        ("/payments/{id}/sandbox/complete/", &["post"]),
        ("/analytics/summary/", &["get"]),
        ("/analytics/vendors/", &["get"]),
    ] {
        for verb in verbs {
            assert!(paths[path][verb].is_object(), "{verb} {path} undocumented");
        }
    }
    // OpenAPI requires a description on every response object.
    for (path, verbs) in paths {
        for (verb, operation) in verbs.as_object().expect("operations") {
            for (status, response) in operation["responses"].as_object().expect("responses") {
                assert!(response["description"].is_string(), "{verb} {path} {status} lacks a description");
            }
        }
    }
    // The project's own info: its licence, and no stranger as contact.
    assert_eq!(doc["info"]["title"], "Marketplace API");
    assert_eq!(doc["info"]["license"]["identifier"], "MIT");
    assert!(doc["info"].get("contact").is_none(), "{}", doc["info"]);
    assert!(!doc.to_string().contains("Kukkonen"), "utoipa's author named in the document");
    // Statuses the server answers beyond the happy path.
    for (path, verb, statuses) in [
        ("/users/login/", "post", &["400", "401", "429", "503"][..]),
        ("/users/register/", "post", &["400", "429", "503"]),
        ("/users/token/refresh/", "post", &["400", "401"]),
        ("/orders/create/", "post", &["400", "401", "403", "409", "422", "503", "504"]),
        ("/orders/{id}/refund/", "post", &["400", "404", "409", "422"]),
        ("/payments/initiate/", "post", &["400", "409", "422"]),
        ("/payments/webhook/", "post", &["400"]),
        ("/payments/{id}/sandbox/complete/", "post", &["404"]),
        ("/products/", "get", &["400", "404"]),
        ("/products/vendor/", "get", &["400", "404"]),
        ("/vendors/", "get", &["400"]),
    ] {
        for status in statuses {
            assert!(paths[path][verb]["responses"][status].is_object(), "{verb} {path} does not document {status}");
        }
    }
    for (path, verbs) in paths {
        for (verb, operation) in verbs.as_object().expect("operations") {
            for status in ["503", "504"] {
                assert!(operation["responses"][status].is_object(), "{verb} {path} does not document {status}");
            }
        }
    }
    let retry_after = &paths["/users/login/"]["post"]["responses"]["429"]["headers"]["Retry-After"];
    assert!(retry_after.is_object(), "429 without Retry-After");
    // The YAML is the same document, from a YAML serializer: parsed, it
    // equals the JSON, and `openapi` comes first.
    let yaml = ctx.http.get(format!("{}/api/schema/?format=yaml", ctx.base)).send().await.expect("sent");
    assert_eq!(yaml.headers()["content-type"], "application/yaml");
    let text = yaml.text().await.expect("text");
    assert!(text.starts_with("openapi: 3.1"), "{}", &text[..text.len().min(80)]);
    let parsed: Value = yaml_serde::from_str(&text).expect("the YAML parses");
    assert_eq!(parsed, doc);
    let docs = ctx.http.get(format!("{}/api/docs/", ctx.base)).send().await.expect("sent");
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.expect("html").contains("swagger"));
}
