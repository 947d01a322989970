//! The admin user search pages through the matches of all three kinds (username prefix,
//! display-name prefix, whole e-mail address) in username order, each user once, whatever the
//! page size: the search query cuts each kind to one page before merging them (bench/scale
//! measures it at a million users).

mod common;

use common::Server;
use serde_json::{Value, json};

#[test]
fn a_search_pages_through_every_kind_of_match_in_username_order() {
    let s = Server::start();
    let admin = s.admin("admin");
    let p = "/auth/api/login/user";
    // Matches of "ma": usernames and display names (with usernames anywhere in the order); and
    // users that match nothing ("mz", e-mail addresses that only start with "ma").
    let users = [
        ("mallory", "Zed", None),
        ("marta", "Marta M", Some("marta@example.com")),
        ("aaron", "Max Power", None),
        ("zoe", "mabel (display)", None),
        ("bob", "Bob", Some("ma@example.com")),
        ("Mara", "Someone", None),
        ("carl", "Carl", Some("MA@example.com")),
        ("dora", "Dora", None),
        ("mz", "Anyone", None),
        ("yves", "MAGDA", None),
    ];
    for (u, d, e) in users {
        let mut body = json!({"username": u, "displayName": d});
        if let Some(e) = e {
            body["email"] = json!(e);
        }
        assert_eq!(s.post(p, Some(&admin), &body).status(), 201, "{u}");
    }
    let want = ["aaron", "mallory", "Mara", "marta", "yves", "zoe"];
    let by_mail = ["bob", "carl"];
    for (search, want, limit) in [("ma", &want[..], 1), ("ma", &want, 2), ("ma", &want, 4)]
        .into_iter()
        .chain([("ma", &want[..], 50), ("MA@example.com", &by_mail[..], 1)])
    {
        assert_eq!(
            all_pages(&s, &admin, search, limit),
            want,
            "{search}, limit {limit}"
        );
    }
}

/// Pages through `search` with `limit` and answers the usernames, in the order served.
fn all_pages(s: &Server, admin: &str, search: &str, limit: usize) -> Vec<String> {
    let p = "/auth/api/login/user";
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = format!("{p}?search={search}&limit={limit}");
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={c}"));
        }
        let page: Value = s.get(&q, Some(admin)).json().unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= limit, "{page}");
        seen.extend(
            items
                .iter()
                .map(|u| u["username"].as_str().unwrap().to_string()),
        );
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return seen,
        }
        assert!(seen.len() <= 5000, "{search}: no end");
    }
}

#[test]
fn a_display_name_search_is_exact_whether_its_matches_are_common_or_rare_in_username_order() {
    // The display-name kind reads the next 2,000 users in username order first and sorts its
    // matches only when those hold less than a page: 3,000 users, so both ways are taken. "Ann"
    // is every third user (a page comes from the window); "Zed" is only at the end of the
    // username order (the window holds none: the sorted way), and "ann" also begins usernames.
    let s = Server::start();
    let admin = s.admin("admin");
    let mut lines = Vec::new();
    for i in 0..3000 {
        let name = if i >= 2950 {
            format!("Zed {i}")
        } else if i % 3 == 0 {
            format!("ann {i}")
        } else {
            format!("Bob {i}")
        };
        lines.push(json!({"username": format!("u{i:05}"), "displayName": name}).to_string());
    }
    for u in ["anna", "annika", "zed"] {
        lines.push(json!({"username": u, "displayName": "Other"}).to_string());
    }
    let file = s.dir.path().join("users.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = s.cli(&["users", "import", "--from", file.to_str().unwrap()], None);
    assert!(out.status.success(), "{out:?}");

    let mut want_ann: Vec<String> = vec!["anna".into(), "annika".into()];
    want_ann.extend((0..2950).filter(|i| i % 3 == 0).map(|i| format!("u{i:05}")));
    let mut want_zed: Vec<String> = (2950..3000).map(|i| format!("u{i:05}")).collect();
    want_zed.push("zed".into());
    for limit in [7, 50, 500] {
        assert_eq!(
            all_pages(&s, &admin, "ANN", limit),
            want_ann,
            "ann, limit {limit}"
        );
        assert_eq!(
            all_pages(&s, &admin, "zed", limit),
            want_zed,
            "zed, limit {limit}"
        );
    }
}
