//! `POST /products/import/`: all or nothing, errors by line as a single
//! create's, SKUs unique across the file and the vendor's products (also
//! under racing imports), and every bound answered before the work.
use std::sync::Arc;

use serde_json::{Value, json};

use super::support::{Api, Ctx, User, race};

const NDJSON: &str = "application/x-ndjson";

fn ndjson(lines: &[Value]) -> Vec<u8> {
    lines.iter().map(|l| format!("{l}\n")).collect::<String>().into_bytes()
}

async fn own_count(api: &Api, vendor: &User) -> usize {
    api.walk("/products/vendor/?page_size=50", Some(&vendor.access)).await.len()
}

pub async fn import_creates_every_line_in_one_go(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let admin = api.admin().await;
    let t = uuid::Uuid::new_v4().simple().to_string();
    let category = api.category(&admin, &format!("Imports {t}"), None).await;
    // Categories whose names sort otherwise than their ids, so a lookup
    // that comes back in name order must still find each.
    let parent = category["id"].as_i64();
    let mut others = Vec::new();
    for i in [2, 0, 1] {
        others.push(api.category(&admin, &format!("Imports {i} {t}"), parent).await);
    }
    let (vendor, profile) = api.approved_vendor().await;
    let file = ndjson(&[
        json!({"name": format!("Kettle {t}"), "price": "19.99", "stock": 7, "category": category["id"], "sku": "K-1"}),
        json!({"name": format!("Kettle {t}"), "price": 5, "stock": "3", "description": "Same name, next slug"}),
        json!({"name": format!("Hidden {t}"), "price": "1.00", "stock": 0, "is_active": false}),
        json!({"name": format!("Bowl {t}"), "price": "2.00", "stock": 1, "category": others[2]["id"], "is_active": false}),
        json!({"name": format!("Cup {t}"), "price": "2.00", "stock": 1, "category": others[0]["id"], "is_active": false}),
        json!({"name": format!("Jug {t}"), "price": "2.00", "stock": 1, "category": others[1]["id"], "is_active": false}),
    ]);
    let created = api.post_raw("/products/import/", Some(&vendor.access), NDJSON, file).await.expect(201);
    assert_eq!(created["created"], 6);
    let ids: Vec<i64> = created["ids"].as_array().expect("ids").iter().map(|v| v.as_i64().expect("id")).collect();
    assert_eq!(ids.len(), 6);
    let bowl = api.get(&format!("/products/{}/", ids[3]), Some(&vendor.access)).await.expect(200);
    assert_eq!(bowl["category"], others[2]["id"]);
    let first = api.get(&format!("/products/{}/", ids[0]), None).await.expect(200);
    assert_eq!(
        (&first["name"], &first["price"], &first["stock"], &first["category"], &first["sku"], &first["vendor"]),
        (&json!(format!("Kettle {t}")), &json!("19.99"), &json!(7), &category["id"], &json!("K-1"), &profile["id"])
    );
    let second = api.get(&format!("/products/{}/", ids[1]), None).await.expect(200);
    assert_eq!((&second["price"], &second["stock"]), (&json!("5.00"), &json!(3)));
    assert_eq!(second["slug"], json!(format!("{}-2", first["slug"].as_str().expect("slug"))));
    api.get(&format!("/products/{}/", ids[2]), None).await.expect(404);
    // On the very next list, in every scope.
    let public = api.get(&format!("/products/?search={t}"), None).await.expect(200);
    let listed: Vec<i64> =
        public["results"].as_array().expect("results").iter().map(|p| p["id"].as_i64().expect("id")).collect();
    assert_eq!(listed, [ids[1], ids[0]]);
    assert_eq!(own_count(&api, &vendor).await, 6);

    let csv = format!(
        "name,price,stock,category,sku,is_active,unknown\n\
         \"Mug, {t}\",2.50,4,,M-1,,ignored\n\
         Plate {t},3,1,{},M-2,false,\n",
        category["id"]
    );
    let created = api
        .post_raw("/products/import/", Some(&vendor.access), "text/csv; charset=utf-8", csv.into_bytes())
        .await
        .expect(201);
    assert_eq!(created["created"], 2);
    let mug = api.get(&format!("/products/{}/", created["ids"][0]), None).await.expect(200);
    assert_eq!(
        (&mug["name"], &mug["category"], &mug["stock"], &mug["is_active"]),
        (&json!(format!("Mug, {t}")), &Value::Null, &json!(4), &json!(true))
    );
    let facets = api.get(&format!("/products/facets/?search={t}"), None).await.expect(200);
    assert_eq!(facets["count"], 3);
    // A name already taken numbers on past every slug of its base.
    let again = ndjson(&[json!({"name": format!("Kettle {t}"), "price": "1.00", "stock": 1})]);
    let created = api.post_raw("/products/import/", Some(&vendor.access), NDJSON, again).await.expect(201);
    let third = api.get(&format!("/products/{}/", created["ids"][0]), None).await.expect(200);
    assert_eq!(third["slug"], json!(format!("{}-3", first["slug"].as_str().expect("slug"))));
}

pub async fn an_invalid_line_writes_nothing_and_errors_read_like_a_create(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (vendor, _) = api.approved_vendor().await;
    let bad = [
        json!({"price": "1.00", "stock": 1}),
        json!({"name": "Too cheap", "price": "-1", "stock": 1_000_001, "category": 999_999_999}),
        json!({"name": "Wrong types", "price": [1], "stock": 1, "is_active": "maybe"}),
    ];
    let file = [
        format!("{}\n", json!({"name": "Fine", "price": "1.00", "stock": 1})),
        format!("{}\n", bad[0]),
        "\n".to_owned(),
        "{not json\n".to_owned(),
        format!("{}\n", bad[1]),
        "[1, 2]\n".to_owned(),
        format!("{}\n", bad[2]),
    ]
    .concat();
    let refused = api.post_raw("/products/import/", Some(&vendor.access), NDJSON, file.into_bytes()).await.expect(400);
    let errors = refused["errors"].as_array().expect("errors");
    let lines: Vec<i64> = errors.iter().map(|e| e["line"].as_i64().expect("line")).collect();
    assert_eq!(lines, [2, 4, 5, 6, 7], "{refused}");
    // A line's fields are what a single create of that body answers.
    for (line, body) in [(2, &bad[0]), (5, &bad[1]), (7, &bad[2])] {
        let mut single = api.post("/products/", Some(&vendor.access), body.clone()).await.expect(400);
        single.as_object_mut().expect("object").insert("line".into(), json!(line));
        let reported = errors.iter().find(|e| e["line"] == line).expect("line reported");
        assert_eq!(reported, &single, "line {line}");
    }
    assert!(errors[1]["non_field_errors"].is_array() && errors[3]["non_field_errors"].is_array());
    assert_eq!(own_count(&api, &vendor).await, 0);

    // A CSV's header is line 1.
    let csv = "name,price,stock\nGood,1.00,1\nBad,1.00,lots\nShort,1.00\n";
    let refused = api.post_raw("/products/import/", Some(&vendor.access), "text/csv", csv.into()).await.expect(400);
    let lines: Vec<&Value> = refused["errors"].as_array().expect("errors").iter().map(|e| &e["line"]).collect();
    assert_eq!(lines, [&json!(3), &json!(4)], "{refused}");
    assert!(refused["errors"][0]["stock"].is_array());
    assert_eq!(own_count(&api, &vendor).await, 0);
}

pub async fn import_skus_are_unique_in_the_file_and_the_shop(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (vendor, _) = api.approved_vendor().await;
    let (other, _) = api.approved_vendor().await;
    api.product(&vendor, json!({"sku": "ABC-1"})).await;
    api.product(&other, json!({"sku": "X-9"})).await;
    let item = |sku: &str| json!({"name": "Thing", "price": "1.00", "stock": 1, "sku": sku});
    let file = ndjson(&[item("abc-1"), item("X-9"), item(""), item("x-9"), item(""), item("X-9")]);
    let refused = api.post_raw("/products/import/", Some(&vendor.access), NDJSON, file).await.expect(400);
    let errors = refused["errors"].as_array().expect("errors");
    let lines: Vec<i64> = errors.iter().map(|e| e["line"].as_i64().expect("line")).collect();
    assert_eq!(lines, [1, 4, 6], "{refused}");
    assert!(errors.iter().all(|e| e["sku"].is_array() && e.as_object().expect("object").len() == 2), "{refused}");
    assert_eq!(own_count(&api, &vendor).await, 1);
    // Another vendor's SKU is no clash; empty SKUs never are.
    let file = ndjson(&[item("X-9"), item(""), item("")]);
    api.post_raw("/products/import/", Some(&vendor.access), NDJSON, file).await.expect(201);
}

pub async fn racing_imports_of_one_sku_create_one(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (vendor, _) = api.approved_vendor().await;
    let replies = race(8, |i| {
        let file = ndjson(&[
            json!({"name": format!("Own {i}"), "price": "1.00", "stock": 1, "sku": format!("OWN-{i}")}),
            json!({"name": "Shared", "price": "1.00", "stock": 1, "sku": "SHARED-1"}),
        ]);
        let api = api.clone();
        let token = vendor.access.clone();
        async move { api.post_raw("/products/import/", Some(&token), NDJSON, file).await }
    })
    .await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    for reply in replies.iter().filter(|r| r.status == 400) {
        assert_eq!(reply.body["errors"].as_array().map(Vec::len), Some(1), "{}", reply.body);
        assert_eq!(reply.body["errors"][0]["line"], 2);
        assert!(reply.body["errors"][0]["sku"].is_array());
    }
    assert_eq!(own_count(&api, &vendor).await, 2);
}

pub async fn imports_are_bounded_before_any_work(ctx: Arc<Ctx>) {
    let api = ctx.api();
    let (vendor, _) = api.approved_vendor().await;
    let (pending, _) = api.vendor_with_profile().await;
    let customer = api.user("customer").await;
    let one = ndjson(&[json!({"name": "One", "price": "1.00", "stock": 1})]);
    api.post_raw("/products/import/", None, NDJSON, one.clone()).await.expect(401);
    api.post_raw("/products/import/", Some(&customer.access), NDJSON, one.clone()).await.expect(403);
    let refused = api.post_raw("/products/import/", Some(&pending.access), NDJSON, one.clone()).await.expect(403);
    assert_eq!(refused["code"], "vendor_not_approved");
    api.post_raw("/products/import/", Some(&vendor.access), "application/json", one.clone()).await.expect(415);
    api.post_raw("/products/import/", Some(&vendor.access), NDJSON, b"\n\n".to_vec()).await.expect(400);
    api.post_raw("/products/import/", Some(&vendor.access), NDJSON, vec![0xff, 0xfe, b'\n']).await.expect(400);
    let huge = vec![b' '; 5 * 1024 * 1024 + 1];
    api.post_raw("/products/import/", Some(&vendor.access), NDJSON, huge).await.expect(413);
    let line = json!({"name": "Many", "price": "1.00", "stock": 1});
    let too_many = ndjson(&vec![line.clone(); 10_001]);
    api.post_raw("/products/import/", Some(&vendor.access), NDJSON, too_many).await.expect(413);
    assert_eq!(own_count(&api, &vendor).await, 0);
    // The bound is inclusive: ten thousand products (one name: numbered slugs).
    let most = ndjson(&vec![line; 10_000]);
    let created = api.post_raw("/products/import/", Some(&vendor.access), NDJSON, most).await.expect(201);
    assert_eq!(created["created"], 10_000);
    let last = api.get(&format!("/products/{}/", created["ids"][9_999]), None).await.expect(200);
    assert_eq!((&last["slug"], &last["stock"]), (&json!("many-10000"), &json!(1)));
}
