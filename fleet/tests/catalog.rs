//! End to end over real HTTP: the Categories and Products routes of the
//! contract for every role and documented error, cursor walks under
//! concurrent writes, cache and index freshness, tree races and SKU races,
//! relevance and facets.
mod catalog_import;
mod support;

use std::collections::{HashMap, HashSet};
use std::process::ExitCode;
use std::sync::Arc;

use catalog_import::*;
use common::cases;
use serde_json::{Value, json};
use support::{Api, Ctx, User, race};

const NO_PERMISSION: &str = "You do not have permission to perform this action.";

fn main() -> ExitCode {
    support::run_suite(
        "catalog",
        cases![Ctx;
            admin_creates_categories_with_unique_names_and_slugs,
            category_writes_are_for_admins,
            categories_list_flat_by_name,
            category_parents_must_exist_and_never_cycle,
            concurrent_reparenting_never_forms_a_cycle,
            deleting_a_category_moves_children_up_and_unlinks_products,
            approved_vendor_creates_a_product,
            only_approved_vendors_create_products,
            product_fields_are_validated,
            skus_are_unique_per_vendor,
            concurrent_duplicate_skus_create_one,
            inactive_products_are_seen_by_owner_and_admin_only,
            product_updates_by_owner_admin_and_strangers,
            deleted_products_leave_every_read,
            listing_filters_and_bad_parameters,
            cursor_walks_survive_concurrent_writes_in_every_ordering,
            previous_links_walk_back,
            writes_are_visible_on_the_very_next_list,
            suspended_vendors_products_leave_public_reads_at_once,
            vendor_products_route_shows_own_products_only,
            search_ignores_case_and_accents,
            relevance_ranks_name_matches_first_then_newest,
            relevance_pages_walk_both_ways,
            facet_counts_match_walking_the_pages,
            facets_take_the_filters_of_listings,
            every_kind_of_write_is_on_the_next_list_under_listing_load,
            import_creates_every_line_in_one_go,
            an_invalid_line_writes_nothing_and_errors_read_like_a_create,
            import_skus_are_unique_in_the_file_and_the_shop,
            racing_imports_of_one_sku_create_one,
            imports_are_bounded_before_any_work,
        ],
        |_| {},
    )
}

fn ids(products: &[Value]) -> Vec<i64> {
    products.iter().map(|p| p["id"].as_i64().expect("id")).collect()
}

fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

async fn admin_creates_categories_with_unique_names_and_slugs(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let t = tag();
    let first = api.category(&admin, &format!("Home & Garden {t}"), None).await;
    let mut keys: Vec<_> = first.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["children", "created_at", "id", "name", "parent", "slug"]);
    assert_eq!(first["slug"], json!(format!("home-garden-{t}")));
    assert_eq!(first["parent"], Value::Null);
    let duplicate = api
        .post("/products/categories/", Some(&admin.access), json!({"name": format!("HOME & GARDEN {t}")}))
        .await
        .expect(400);
    assert!(duplicate["name"].is_array());
    let twin = api.category(&admin, &format!("Home Garden {t}"), None).await;
    assert_eq!(twin["slug"], json!(format!("home-garden-{t}-2")));
    let blank = api.post("/products/categories/", Some(&admin.access), json!({"name": " "})).await.expect(400);
    assert_eq!(blank, json!({"name": ["This field may not be blank."]}));
    api.post("/products/categories/", Some(&admin.access), json!({})).await.expect(400);
}

async fn category_writes_are_for_admins(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let customer = api.user("customer").await;
    let (vendor, _) = api.approved_vendor().await;
    let category = api.category(&admin, &format!("Guarded {}", tag()), None).await;
    let path = format!("/products/categories/{}/", category["id"]);
    let body = json!({"name": "Renamed"});
    api.post("/products/categories/", None, body.clone()).await.expect(401);
    for user in [&customer, &vendor] {
        let reply = api.post("/products/categories/", Some(&user.access), body.clone()).await.expect(403);
        assert_eq!(reply, json!({"detail": NO_PERMISSION}));
        api.patch(&path, Some(&user.access), body.clone()).await.expect(403);
        api.delete(&path, Some(&user.access)).await.expect(403);
    }
    api.patch(&path, None, body).await.expect(401);
    api.delete(&path, None).await.expect(401);
    assert_eq!(api.get(&path, None).await.expect(200)["id"], category["id"]);
    api.get("/products/categories/999999999/", None).await.expect(404);
    api.get("/products/categories/nope/", None).await.expect(404);
    api.patch("/products/categories/999999999/", Some(&admin.access), json!({"name": "x"})).await.expect(404);
    api.delete("/products/categories/999999999/", Some(&admin.access)).await.expect(404);
}

async fn categories_list_flat_by_name(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let t = tag();
    let b = api.category(&admin, &format!("b-sort {t}"), None).await;
    let a = api.category(&admin, &format!("A-sort {t}"), Some(b["id"].as_i64().expect("id"))).await;
    let list = api.get("/products/categories/", None).await.expect(200);
    let list = list.as_array().expect("a bare array");
    let names: Vec<String> = list.iter().map(|c| c["name"].as_str().expect("name").to_lowercase()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "ordered by name, case-insensitively");
    let parent = list.iter().find(|c| c["id"] == b["id"]).expect("listed");
    assert_eq!(parent["children"], json!([a["id"]]));
}

async fn category_parents_must_exist_and_never_cycle(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let t = tag();
    let root = api.category(&admin, &format!("Root {t}"), None).await;
    let root_id = root["id"].as_i64().expect("id");
    let child = api.category(&admin, &format!("Child {t}"), Some(root_id)).await;
    let child_id = child["id"].as_i64().expect("id");
    let grandchild = api.category(&admin, &format!("Grandchild {t}"), Some(child_id)).await;
    assert_eq!(
        api.get(&format!("/products/categories/{root_id}/"), None).await.expect(200)["children"],
        json!([child_id])
    );

    let missing = api
        .post("/products/categories/", Some(&admin.access), json!({"name": format!("Orphan {t}"), "parent": 999999999}))
        .await
        .expect(400);
    assert!(missing["parent"].is_array());
    let path = format!("/products/categories/{root_id}/");
    assert!(api.patch(&path, Some(&admin.access), json!({"parent": root_id})).await.expect(400)["parent"].is_array());
    for below in [child_id, grandchild["id"].as_i64().expect("id")] {
        let reply = api.patch(&path, Some(&admin.access), json!({"parent": below})).await.expect(400);
        assert!(reply["parent"].is_array());
    }
    // Moving a leaf to the root is fine, and null makes it a root again.
    let grand_path = format!("/products/categories/{}/", grandchild["id"]);
    assert_eq!(
        api.patch(&grand_path, Some(&admin.access), json!({"parent": root_id})).await.expect(200)["parent"],
        root_id
    );
    assert_eq!(
        api.patch(&grand_path, Some(&admin.access), json!({"parent": null})).await.expect(200)["parent"],
        Value::Null
    );
}

async fn concurrent_reparenting_never_forms_a_cycle(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    for round in 0..5 {
        let t = tag();
        let a = api.category(&admin, &format!("Ring A {round} {t}"), None).await["id"].as_i64().expect("id");
        let b = api.category(&admin, &format!("Ring B {round} {t}"), None).await["id"].as_i64().expect("id");
        let (path_a, path_b) = (format!("/products/categories/{a}/"), format!("/products/categories/{b}/"));
        let (first, second) = futures::join!(
            api.patch(&path_a, Some(&admin.access), json!({"parent": b})),
            api.patch(&path_b, Some(&admin.access), json!({"parent": a})),
        );
        let mut statuses = [first.status.as_u16(), second.status.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 400], "exactly one move wins");
        let parent_of = |id| {
            let api = api.clone();
            async move { api.get(&format!("/products/categories/{id}/"), None).await.expect(200)["parent"].clone() }
        };
        let (pa, pb) = (parent_of(a).await, parent_of(b).await);
        assert!(pa.is_null() || pb.is_null(), "no cycle: {pa} {pb}");
    }
}

async fn deleting_a_category_moves_children_up_and_unlinks_products(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let (vendor, _) = api.approved_vendor().await;
    let t = tag();
    let top = api.category(&admin, &format!("Top {t}"), None).await["id"].as_i64().expect("id");
    let middle = api.category(&admin, &format!("Middle {t}"), Some(top)).await["id"].as_i64().expect("id");
    let bottom = api.category(&admin, &format!("Bottom {t}"), Some(middle)).await["id"].as_i64().expect("id");
    let product = api.product(&vendor, json!({"category": middle})).await;
    assert_eq!(product["category_name"], json!(format!("Middle {t}")));
    api.delete(&format!("/products/categories/{middle}/"), Some(&admin.access)).await.expect(204);
    api.get(&format!("/products/categories/{middle}/"), None).await.expect(404);
    assert_eq!(api.get(&format!("/products/categories/{bottom}/"), None).await.expect(200)["parent"], top);
    let after = api.get(&format!("/products/{}/", product["id"]), None).await.expect(200);
    assert_eq!((after["category"].clone(), after["category_name"].clone()), (Value::Null, Value::Null));
}

async fn approved_vendor_creates_a_product(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (vendor, profile) = api.approved_vendor().await;
    let name = format!("Crème Brûlée Torch {}", tag());
    let body = api
        .post(
            "/products/",
            Some(&vendor.access),
            json!({"name": name, "price": 19.9, "stock": "7", "description": "Hot", "sku": "TORCH-1", "vendor": 1}),
        )
        .await
        .expect(201);
    let mut keys: Vec<_> = body.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "category",
            "category_name",
            "created_at",
            "description",
            "id",
            "is_active",
            "name",
            "price",
            "sku",
            "slug",
            "stock",
            "updated_at",
            "vendor",
            "vendor_name"
        ]
    );
    assert_eq!(body["vendor"], profile["id"]);
    assert_eq!(body["vendor_name"], profile["shop_name"]);
    assert_eq!(body["price"], "19.90");
    assert_eq!(body["stock"], 7);
    assert_eq!(body["is_active"], true);
    assert!(body["slug"].as_str().expect("slug").starts_with("creme-brulee-torch-"));
    let detail = api.get(&format!("/products/{}/", body["id"]), None).await.expect(200);
    assert_eq!(detail, body);
}

async fn only_approved_vendors_create_products(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let customer = api.user("customer").await;
    let (pending, _) = api.vendor_with_profile().await;
    let no_profile = api.user("vendor").await;
    let body = json!({"name": "Nope", "price": "1.00", "stock": 1});
    api.post("/products/", None, body.clone()).await.expect(401);
    assert_eq!(
        api.post("/products/", Some(&customer.access), body.clone()).await.expect(403),
        json!({"detail": NO_PERMISSION})
    );
    api.post("/products/", Some(&admin.access), body.clone()).await.expect(403);
    for vendor in [&pending, &no_profile] {
        let reply = api.post("/products/", Some(&vendor.access), body.clone()).await.expect(403);
        assert_eq!(reply["code"], "vendor_not_approved");
    }
}

async fn product_fields_are_validated(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (vendor, _) = api.approved_vendor().await;
    let missing = api.post("/products/", Some(&vendor.access), json!({})).await.expect(400);
    for field in ["name", "price", "stock"] {
        assert_eq!(missing[field], json!(["This field is required."]), "{field}");
    }
    let cases = [
        (json!({"price": "1.999"}), "price"),
        (json!({"price": "-1.00"}), "price"),
        (json!({"price": "100000000.00"}), "price"),
        (json!({"price": "cheap"}), "price"),
        (json!({"stock": 1_000_001}), "stock"),
        (json!({"stock": -1}), "stock"),
        (json!({"stock": "many"}), "stock"),
        (json!({"name": "n".repeat(201)}), "name"),
        (json!({"category": 999999999}), "category"),
        (json!({"category": "abc"}), "category"),
        (json!({"description": "d".repeat(5001)}), "description"),
        (json!({"sku": "s".repeat(65)}), "sku"),
        (json!({"is_active": "maybe"}), "is_active"),
    ];
    for (extra, field) in cases {
        let mut body = json!({"name": "Valid", "price": "1.00", "stock": 1});
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        let reply = api.post("/products/", Some(&vendor.access), body.clone()).await.expect(400);
        assert!(reply[field].is_array(), "{body} -> {reply}");
    }
    // Nothing half-written: the vendor still has no products.
    let own = api.get("/products/vendor/", Some(&vendor.access)).await.expect(200);
    assert_eq!(own["results"], json!([]));
}

async fn skus_are_unique_per_vendor(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (vendor, _) = api.approved_vendor().await;
    let (other, _) = api.approved_vendor().await;
    api.product(&vendor, json!({"sku": "ABC-1"})).await;
    let reply = api
        .post("/products/", Some(&vendor.access), json!({"name": "Twin", "price": "1.00", "stock": 1, "sku": "abc-1"}))
        .await
        .expect(400);
    assert!(reply["sku"].is_array());
    api.product(&other, json!({"sku": "ABC-1"})).await;
    api.product(&vendor, json!({"sku": ""})).await;
    api.product(&vendor, json!({"sku": ""})).await;
    // A deleted product's SKU is free again.
    let gone = api.product(&vendor, json!({"sku": "REUSE"})).await;
    api.delete(&format!("/products/{}/", gone["id"]), Some(&vendor.access)).await.expect(204);
    api.product(&vendor, json!({"sku": "REUSE"})).await;
}

async fn concurrent_duplicate_skus_create_one(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (vendor, _) = api.approved_vendor().await;
    let replies = race(12, |i| {
        api.post(
            "/products/",
            Some(&vendor.access),
            json!({"name": format!("Racer {i}"), "price": "1.00", "stock": 1, "sku": "RACE-1"}),
        )
    })
    .await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 11, "{statuses:?}");
    let own = api.get("/products/vendor/", Some(&vendor.access)).await.expect(200);
    assert_eq!(own["results"].as_array().expect("results").len(), 1);
}

async fn inactive_products_are_seen_by_owner_and_admin_only(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let customer = api.user("customer").await;
    let (owner, _) = api.approved_vendor().await;
    let (stranger, _) = api.approved_vendor().await;
    let product = api.product(&owner, json!({"is_active": false})).await;
    let path = format!("/products/{}/", product["id"]);
    assert_eq!(api.get(&path, Some(&owner.access)).await.expect(200)["is_active"], false);
    api.get(&path, Some(&admin.access)).await.expect(200);
    for token in [None, Some(customer.access.as_str()), Some(stranger.access.as_str())] {
        assert_eq!(api.get(&path, token).await.expect(404), json!({"detail": "Not found."}));
    }
    api.get(&path, Some("bad.token.here")).await.expect(401);
    api.get("/products/999999999/", None).await.expect(404);
}

async fn product_updates_by_owner_admin_and_strangers(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let customer = api.user("customer").await;
    let (owner, owner_profile) = api.approved_vendor().await;
    let (stranger, _) = api.approved_vendor().await;
    let product = api.product(&owner, json!({"sku": "UPD-1"})).await;
    let path = format!("/products/{}/", product["id"]);
    let updated = api
        .patch(&path, Some(&owner.access), json!({"price": "12.34", "stock": 9, "vendor": 1, "slug": "hijack"}))
        .await
        .expect(200);
    assert_eq!((updated["price"].clone(), updated["stock"].clone()), (json!("12.34"), json!(9)));
    assert_eq!(updated["slug"], product["slug"]);
    assert_eq!(updated["vendor"], owner_profile["id"]);
    assert_eq!(
        api.patch(&path, Some(&stranger.access), json!({"price": "1.00"})).await.expect(404),
        json!({"detail": "Not found."})
    );
    api.patch(&path, Some(&customer.access), json!({"price": "1.00"})).await.expect(403);
    api.patch(&path, None, json!({"price": "1.00"})).await.expect(401);
    assert_eq!(
        api.patch(&path, Some(&admin.access), json!({"name": "By Admin"})).await.expect(200)["name"],
        "By Admin"
    );
    api.patch(&path, Some(&owner.access), json!({"price": "1.001"})).await.expect(400);
    api.patch("/products/999999999/", Some(&owner.access), json!({"price": "1.00"})).await.expect(404);
    // A suspended owner may no longer edit (a token issued before counts too).
    let id = owner_profile["id"].as_i64().expect("id");
    api.patch(&format!("/vendors/{id}/verify/"), Some(&admin.access), json!({"status": "suspended"})).await.expect(200);
    let reply = api.patch(&path, Some(&owner.access), json!({"price": "2.00"})).await.expect(403);
    assert_eq!(reply["code"], "vendor_not_approved");
}

async fn deleted_products_leave_every_read(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let customer = api.user("customer").await;
    let (owner, profile) = api.approved_vendor().await;
    let (stranger, _) = api.approved_vendor().await;
    let product = api.product(&owner, json!({})).await;
    let path = format!("/products/{}/", product["id"]);
    api.delete(&path, None).await.expect(401);
    api.delete(&path, Some(&customer.access)).await.expect(403);
    api.delete(&path, Some(&stranger.access)).await.expect(404);
    api.delete(&path, Some(&owner.access)).await.expect(204);
    api.get(&path, None).await.expect(404);
    api.get(&path, Some(&owner.access)).await.expect(404);
    api.delete(&path, Some(&owner.access)).await.expect(404);
    let listed = api.walk(&format!("/products/?vendor={}", profile["id"]), None).await;
    assert!(!ids(&listed).contains(&product["id"].as_i64().expect("id")));
    assert_eq!(api.get("/products/vendor/", Some(&owner.access)).await.expect(200)["results"], json!([]));
}

async fn listing_filters_and_bad_parameters(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let (vendor, profile) = api.approved_vendor().await;
    let vid = profile["id"].as_i64().expect("id");
    let t = tag();
    let parent = api.category(&admin, &format!("Audio {t}"), None).await;
    let child = api.category(&admin, &format!("Headphones {t}"), Some(parent["id"].as_i64().expect("id"))).await;
    let a = api
        .product(&vendor, json!({"name": format!("Wireless Headset {t}"), "price": "50.00", "category": child["id"]}))
        .await;
    let b = api
        .product(
            &vendor,
            json!({"name": format!("Speaker {t}"), "price": "20.00", "category": parent["id"], "sku": "SPK-9"}),
        )
        .await;
    let c = api
        .product(&vendor, json!({"name": format!("Cable {t}"), "price": "5.00", "description": "gold plated"}))
        .await;
    api.product(&vendor, json!({"name": format!("Hidden {t}"), "price": "7.00", "is_active": false})).await;

    let listed = |query: String| {
        let api = api.clone();
        async move { ids(&api.walk(&format!("/products/?vendor={vid}&{query}"), None).await) }
    };
    let (a, b, c) = (a["id"].as_i64().expect("a"), b["id"].as_i64().expect("b"), c["id"].as_i64().expect("c"));
    assert_eq!(listed(String::new()).await, [c, b, a], "newest first, inactive hidden");
    assert_eq!(listed(format!("category={}", parent["id"])).await, [b, a], "descendants included");
    assert_eq!(listed(format!("category={}", child["id"])).await, [a]);
    assert_eq!(listed(format!("category_slug={}", parent["slug"].as_str().expect("slug"))).await, [b, a]);
    assert_eq!(listed("category_slug=no-such-slug".into()).await, Vec::<i64>::new());
    assert_eq!(listed("min_price=20.00&max_price=50".into()).await, [b, a], "bounds are inclusive");
    assert_eq!(listed("ordering=price".into()).await, [c, b, a]);
    assert_eq!(listed("ordering=-name".into()).await, [a, b, c]);
    assert_eq!(listed(format!("search=wireless+{t}")).await, [a]);
    assert_eq!(listed("search=WIRE".into()).await, [a], "prefix, any case");
    assert_eq!(listed("search=gold".into()).await, [c], "description words");
    assert_eq!(listed("search=spk-9".into()).await, [b], "sku words");
    assert_eq!(listed("search=headset+speaker".into()).await, Vec::<i64>::new(), "every word must match");

    for (query, field) in [
        ("ordering=stock", "ordering"),
        ("min_price=cheap", "min_price"),
        ("max_price=x", "max_price"),
        ("category=abc", "category"),
        ("category=999999999", "category"),
        ("vendor=me", "vendor"),
    ] {
        let reply = api.get(&format!("/products/?{query}"), None).await.expect(400);
        assert!(reply[field].is_array(), "{query}: {reply}");
    }
    assert_eq!(api.get("/products/?cursor=garbage", None).await.expect(404), json!({"detail": "Invalid cursor"}));
    let page = api.get(&format!("/products/?vendor={vid}&page_size=1"), None).await.expect(200);
    assert_eq!(page["results"].as_array().expect("results").len(), 1);
    assert_eq!(page["previous"], Value::Null);
    let big = api.get("/products/?page_size=500", None).await.expect(200);
    assert!(big["results"].as_array().expect("results").len() <= 50);
}

/// Walks every ordering while other tasks insert products and re-price
/// some: every product that existed before and was not re-priced appears
/// exactly once, and the order holds within and across pages.
async fn cursor_walks_survive_concurrent_writes_in_every_ordering(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (vendor, profile) = api.approved_vendor().await;
    let vid = profile["id"].as_i64().expect("id");
    let words = ["alpha", "Bravo", "charlie", "Delta", "echo", "Foxtrot", "golf"];
    let mut seeded = Vec::new();
    for chunk in 0..7 {
        let batch = race(30, |i| {
            let n = chunk * 30 + i;
            api.post(
                "/products/",
                Some(&vendor.access),
                json!({"name": format!("{} {n:03}", words[n % words.len()]), "price": format!("{}.{:02}", 1 + n % 37, n % 100), "stock": 1}),
            )
        })
        .await;
        seeded.extend(batch.into_iter().map(|r| r.expect(201)));
    }
    let repriced: Vec<i64> = ids(&seeded).into_iter().step_by(15).collect();
    let orderings = ["price", "-price", "created_at", "-created_at", "name", "-name"];
    let writer = {
        let api = api.clone();
        let repriced = repriced.clone();
        let token = vendor.access.clone();
        async move {
            for round in 0..6 {
                api.post(
                    "/products/",
                    Some(&token),
                    json!({"name": format!("late {round}"), "price": "3.00", "stock": 1}),
                )
                .await
                .expect(201);
                for (k, id) in repriced.iter().enumerate() {
                    let price = format!("{}.00", 1 + (round * 7 + k) % 40);
                    api.patch(&format!("/products/{id}/"), Some(&token), json!({"price": price})).await.expect(200);
                }
            }
        }
    };
    let walks = async {
        let mut walked = HashMap::new();
        for ordering in orderings {
            walked.insert(
                ordering,
                api.walk(&format!("/products/?vendor={vid}&ordering={ordering}&page_size=17"), None).await,
            );
        }
        walked
    };
    let ((), walked) = futures::join!(writer, walks);
    let stable: HashSet<i64> = ids(&seeded).into_iter().filter(|id| !repriced.contains(id)).collect();
    for (ordering, products) in walked {
        let seen = ids(&products);
        let mut counts: HashMap<i64, usize> = HashMap::new();
        for id in &seen {
            *counts.entry(*id).or_default() += 1;
        }
        for id in &stable {
            assert_eq!(counts.get(id), Some(&1), "{ordering}: product {id} seen {:?} times", counts.get(id));
        }
        let repriced_key = ordering.trim_start_matches('-') == "price";
        if !repriced_key {
            assert!(counts.values().all(|c| *c == 1), "{ordering}: duplicates");
        }
        // Order holds among the products whose sort key did not move.
        let steady: Vec<&Value> =
            products.iter().filter(|p| !repriced_key || stable.contains(&p["id"].as_i64().expect("id"))).collect();
        for pair in steady.windows(2) {
            let key = ordering.trim_start_matches('-');
            let (x, y) = (&pair[0][key], &pair[1][key]);
            let cmp = match key {
                "price" => x
                    .as_str()
                    .expect("price")
                    .parse::<f64>()
                    .expect("number")
                    .partial_cmp(&y.as_str().expect("price").parse::<f64>().expect("number"))
                    .expect("cmp"),
                "name" => x.as_str().expect("name").to_lowercase().cmp(&y.as_str().expect("name").to_lowercase()),
                _ => x.as_str().expect("time").cmp(y.as_str().expect("time")),
            }
            .then(pair[0]["id"].as_i64().cmp(&pair[1]["id"].as_i64()));
            if ordering.starts_with('-') {
                assert!(cmp.is_ge(), "{ordering}: {} before {}", pair[0], pair[1]);
            } else {
                assert!(cmp.is_le(), "{ordering}: {} before {}", pair[0], pair[1]);
            }
        }
    }
}

async fn previous_links_walk_back(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (vendor, profile) = api.approved_vendor().await;
    for i in 0..7 {
        api.product(&vendor, json!({"name": format!("Page item {i}"), "price": format!("{}.00", i + 1)})).await;
    }
    let vid = &profile["id"];
    let first = api.get(&format!("/products/?vendor={vid}&ordering=price&page_size=3"), None).await.expect(200);
    let strip = |url: &Value| url.as_str().expect("url").strip_prefix(&ctx.base).expect("origin").to_owned();
    let second = api.get(&strip(&first["next"]), None).await.expect(200);
    let third = api.get(&strip(&second["next"]), None).await.expect(200);
    assert_eq!(third["results"].as_array().expect("results").len(), 1);
    assert_eq!(third["next"], Value::Null);
    let back = api.get(&strip(&third["previous"]), None).await.expect(200);
    assert_eq!(back["results"], second["results"]);
    let front = api.get(&strip(&back["previous"]), None).await.expect(200);
    assert_eq!(front["results"], first["results"]);
    assert_eq!(front["previous"], Value::Null);
}

async fn writes_are_visible_on_the_very_next_list(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (vendor, profile) = api.approved_vendor().await;
    let product = api.product(&vendor, json!({"price": "10.00", "stock": 5})).await;
    let list = format!("/products/?vendor={}", profile["id"]);
    let path = format!("/products/{}/", product["id"]);
    for round in 0..5 {
        // Warm both caches, then write and read straight after.
        api.get(&list, None).await.expect(200);
        api.get(&list, None).await.expect(200);
        let price = format!("{}.50", 11 + round);
        api.patch(&path, Some(&vendor.access), json!({"price": price, "stock": 20 + round})).await.expect(200);
        let page = api.get(&list, None).await.expect(200);
        assert_eq!(page["results"][0]["price"], json!(price));
        assert_eq!(page["results"][0]["stock"], json!(20 + round));
        assert_eq!(api.get(&path, None).await.expect(200)["price"], json!(price));
    }
}

async fn suspended_vendors_products_leave_public_reads_at_once(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let (vendor, profile) = api.approved_vendor().await;
    let product = api.product(&vendor, json!({})).await;
    let list = format!("/products/?vendor={}", profile["id"]);
    let path = format!("/products/{}/", product["id"]);
    assert_eq!(api.walk(&list, None).await.len(), 1);
    let verify = format!("/vendors/{}/verify/", profile["id"]);
    api.patch(&verify, Some(&admin.access), json!({"status": "suspended"})).await.expect(200);
    assert_eq!(api.walk(&list, None).await.len(), 0);
    api.get(&path, None).await.expect(404);
    api.get(&path, Some(&vendor.access)).await.expect(200);
    assert_eq!(
        api.get("/products/vendor/", Some(&vendor.access)).await.expect(200)["results"].as_array().expect("r").len(),
        1
    );
    api.patch(&verify, Some(&admin.access), json!({"status": "approved"})).await.expect(200);
    assert_eq!(api.walk(&list, None).await.len(), 1);
}

async fn vendor_products_route_shows_own_products_only(ctx: Arc<Ctx>) {
    let api: Api = ctx.api();
    let customer = api.user("customer").await;
    let admin = api.admin().await;
    let (vendor, _) = api.approved_vendor().await;
    let (other, _) = api.approved_vendor().await;
    let no_profile: User = api.user("vendor").await;
    let active = api.product(&vendor, json!({})).await;
    let inactive = api.product(&vendor, json!({"is_active": false})).await;
    api.product(&other, json!({})).await;
    let own = api.walk("/products/vendor/", Some(&vendor.access)).await;
    let mut seen = ids(&own);
    seen.sort();
    assert_eq!(seen, [active["id"].as_i64().expect("id"), inactive["id"].as_i64().expect("id")]);
    assert!(own.iter().all(|p| p["stock"].is_i64()));
    api.get("/products/vendor/", None).await.expect(401);
    api.get("/products/vendor/", Some(&customer.access)).await.expect(403);
    api.get("/products/vendor/", Some(&admin.access)).await.expect(403);
    let empty = api.get("/products/vendor/", Some(&no_profile.access)).await.expect(200);
    assert_eq!(empty, json!({"next": null, "previous": null, "results": []}));
}

async fn search_ignores_case_and_accents(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (vendor, profile) = api.approved_vendor().await;
    let t = tag();
    let eclair = api.product(&vendor, json!({"name": format!("Éclair {t}"), "description": "Crème brûlée"})).await;
    let list = |search: &str| {
        let api = api.clone();
        let path = format!("/products/?vendor={}&search={search}", profile["id"]);
        async move { ids(&api.walk(&path, None).await) }
    };
    let id = eclair["id"].as_i64().expect("id");
    for search in ["eclair", "ÉCLAIR", "ecl", "creme", "brûl", &t] {
        assert_eq!(list(search).await, [id], "{search}");
    }
    assert_eq!(list("clair").await, Vec::<i64>::new(), "words match from their start");
}

async fn relevance_ranks_name_matches_first_then_newest(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (vendor, profile) = api.approved_vendor().await;
    let t = tag();
    let word = format!("zq{t}");
    let in_description = api.product(&vendor, json!({"description": format!("a {word} inside")})).await;
    let in_name_old = api.product(&vendor, json!({"name": format!("{word} kettle")})).await;
    let in_sku = api.product(&vendor, json!({"sku": format!("{word}-1")})).await;
    let in_name_new = api.product(&vendor, json!({"name": format!("Steel {word}")})).await;
    let everywhere = api
        .product(
            &vendor,
            json!({"name": format!("{word} mug"), "description": word.clone(), "sku": format!("{word}-2")}),
        )
        .await;
    api.product(&vendor, json!({"name": "unrelated"})).await;
    let path = format!("/products/?vendor={}&search={word}&ordering=relevance", profile["id"]);
    let ranked = ids(&api.walk(&path, None).await);
    let id = |p: &Value| p["id"].as_i64().expect("id");
    assert_eq!(
        ranked,
        [id(&everywhere), id(&in_name_new), id(&in_name_old), id(&in_sku), id(&in_description)],
        "name above description or sku, then newest first"
    );
    for path in ["/products/?ordering=relevance", "/products/vendor/?ordering=relevance"] {
        let reply = api.get(path, Some(&vendor.access)).await.expect(400);
        assert!(reply["ordering"].is_array(), "{path}: {reply}");
    }
    let own = api.walk(&format!("/products/vendor/?search={word}&ordering=relevance"), Some(&vendor.access)).await;
    assert_eq!(ids(&own), ranked);
}

async fn relevance_pages_walk_both_ways(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (vendor, profile) = api.approved_vendor().await;
    let word = format!("zw{}", tag());
    for i in 0..7 {
        let body = match i % 3 {
            0 => json!({"name": format!("{word} {i}")}),
            1 => json!({"description": format!("{word} {i}")}),
            _ => json!({"sku": format!("{word}-{i}")}),
        };
        api.product(&vendor, body).await;
    }
    let path = format!("/products/?vendor={}&search={word}&ordering=relevance&page_size=2", profile["id"]);
    let strip = |url: &Value| url.as_str().expect("url").strip_prefix(&ctx.base).expect("origin").to_owned();
    let mut pages = vec![api.get(&path, None).await.expect(200)];
    while let Some(next) = pages.last().and_then(|p| p["next"].as_str().map(str::to_owned)) {
        pages.push(api.get(&strip(&Value::String(next)), None).await.expect(200));
    }
    let forward: Vec<i64> = pages.iter().flat_map(|p| ids(p["results"].as_array().expect("results"))).collect();
    assert_eq!(forward.len(), 7);
    assert_eq!(forward, ids(&api.walk(&path.replace("&page_size=2", ""), None).await));
    let mut back = pages.pop().expect("a last page");
    while let Some(previous) = back["previous"].as_str().map(str::to_owned) {
        back = api.get(&strip(&Value::String(previous)), None).await.expect(200);
        assert_eq!(back["results"], pages.pop().expect("a page before")["results"]);
    }
    assert!(pages.is_empty(), "walked back to the first page");
}

async fn facet_counts_match_walking_the_pages(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let (vendor, profile) = api.approved_vendor().await;
    let (other, other_profile) = api.approved_vendor().await;
    let t = tag();
    let root = api.category(&admin, &format!("Kitchen {t}"), None).await;
    let leaf = api.category(&admin, &format!("Appliances {t}"), Some(root["id"].as_i64().expect("id"))).await;
    let word = format!("zf{t}");
    let made = [
        (&vendor, json!({"price": "12.50", "category": leaf["id"]})),
        (&vendor, json!({"price": "3.00", "category": root["id"]})),
        (&vendor, json!({"price": "99.99"})),
        (&other, json!({"price": "40.00", "category": leaf["id"]})),
        (&vendor, json!({"price": "1.00", "is_active": false})),
    ];
    for (who, extra) in made {
        let mut body = extra.clone();
        body["name"] = json!(format!("{word} item"));
        api.product(who, body).await;
    }
    let facets = api.get(&format!("/products/facets/?search={word}"), None).await.expect(200);
    let walked = api.walk(&format!("/products/?search={word}"), None).await;
    assert_eq!(facets["count"], json!(walked.len()));
    assert_eq!(walked.len(), 4, "inactive products are not counted");
    assert_eq!(
        facets["categories"],
        json!([
            {"id": leaf["id"], "name": leaf["name"], "slug": leaf["slug"], "count": 2},
            {"id": root["id"], "name": root["name"], "slug": root["slug"], "count": 3},
        ]),
        "by name; a category counts its subtree"
    );
    assert_eq!(
        facets["vendors"],
        json!([
            {"id": profile["id"], "name": profile["shop_name"], "count": 3},
            {"id": other_profile["id"], "name": other_profile["shop_name"], "count": 1},
        ])
    );
    assert_eq!(facets["price"], json!({"min": "3.00", "max": "99.99"}));
    for (filter, count) in [
        (format!("category={}", root["id"]), 3),
        (format!("category={}", leaf["id"]), 2),
        (format!("vendor={}", other_profile["id"]), 1),
        ("min_price=12.50&max_price=40".to_owned(), 2),
    ] {
        let facets = api.get(&format!("/products/facets/?search={word}&{filter}"), None).await.expect(200);
        let walked = api.walk(&format!("/products/?search={word}&{filter}"), None).await;
        assert_eq!((facets["count"].clone(), walked.len()), (json!(count), count), "{filter}");
    }
}

async fn facets_take_the_filters_of_listings(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let empty = api.get(&format!("/products/facets/?search=zn{}", tag()), None).await.expect(200);
    assert_eq!(empty, json!({"count": 0, "categories": [], "vendors": [], "price": {"min": null, "max": null}}));
    let no_slug = api.get("/products/facets/?category_slug=no-such-slug", None).await.expect(200);
    assert_eq!(no_slug["count"], json!(0));
    for (query, field) in [
        ("min_price=cheap", "min_price"),
        ("max_price=x", "max_price"),
        ("category=abc", "category"),
        ("category=999999999", "category"),
        ("vendor=me", "vendor"),
    ] {
        let reply = api.get(&format!("/products/facets/?{query}"), None).await.expect(400);
        assert!(reply[field].is_array(), "{query}: {reply}");
    }
}

/// Listing load runs on every replica while each kind of write happens;
/// the read straight after each write shows it.
async fn every_kind_of_write_is_on_the_next_list_under_listing_load(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let (vendor, profile) = api.approved_vendor().await;
    let t = tag();
    let vid = profile["id"].as_i64().expect("id");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|i| {
            let api = api.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let orderings = ["price", "-name", "created_at", "-price"];
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    api.get(&format!("/products/?vendor={vid}&ordering={}", orderings[i % 4]), None).await.expect(200);
                }
            })
        })
        .collect();
    let list = |query: String| {
        let api = api.clone();
        async move { api.walk(&format!("/products/?vendor={vid}&{query}"), None).await }
    };
    let category = api.category(&admin, &format!("Fresh {t}"), None).await;
    let other = api.category(&admin, &format!("Other {t}"), None).await;
    let product = api.product(&vendor, json!({"name": format!("Fresh {t}"), "category": category["id"]})).await;
    let path = format!("/products/{}/", product["id"]);
    assert_eq!(ids(&list(String::new()).await), [product["id"].as_i64().expect("id")], "create");
    for round in 0..3 {
        let name = format!("Renamed{round} {t}");
        api.patch(&path, Some(&vendor.access), json!({"name": name, "stock": 40 + round})).await.expect(200);
        let found = list(format!("search=renamed{round}")).await;
        assert_eq!((found.len(), found[0]["stock"].clone()), (1, json!(40 + round)), "rename and stock");
    }
    api.patch(&path, Some(&vendor.access), json!({"price": "77.00"})).await.expect(200);
    assert_eq!(list("min_price=77&max_price=77".into()).await.len(), 1, "price");
    let moved = format!("/products/categories/{}/", other["id"]);
    api.patch(&moved, Some(&admin.access), json!({"parent": category["id"]})).await.expect(200);
    api.patch(&path, Some(&vendor.access), json!({"category": other["id"]})).await.expect(200);
    assert_eq!(list(format!("category={}", category["id"])).await.len(), 1, "category moved under the filter");
    api.delete(&format!("/products/categories/{}/", other["id"]), Some(&admin.access)).await.expect(204);
    assert_eq!(list(format!("category={}", category["id"])).await.len(), 0, "category deleted");
    let verify = format!("/vendors/{vid}/verify/");
    api.patch(&verify, Some(&admin.access), json!({"status": "suspended"})).await.expect(200);
    assert_eq!(list(String::new()).await.len(), 0, "vendor suspended");
    api.patch(&verify, Some(&admin.access), json!({"status": "approved"})).await.expect(200);
    assert_eq!(list(String::new()).await.len(), 1, "vendor approved again");
    api.patch(&path, Some(&vendor.access), json!({"is_active": false})).await.expect(200);
    assert_eq!(list(String::new()).await.len(), 0, "deactivated");
    api.patch(&path, Some(&vendor.access), json!({"is_active": true})).await.expect(200);
    api.delete(&path, Some(&vendor.access)).await.expect(204);
    assert_eq!(list(String::new()).await.len(), 0, "deleted");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in load {
        task.await.expect("listing load");
    }
}
