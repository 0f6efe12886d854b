//! The web client as the API serves it (API.md "Web client"): `GET /` and its assets, with
//! their media types, caching and Content-Security-Policy; nothing served from elsewhere;
//! the size budget. (What it does in a browser: `web/tests`, run by `scripts/test-browser`.)

use std::path::Path;

use chirp_e2e::{TestApp, assert_problem};
use reqwest::Method;

/// The `src="..."` and `href="..."` values of a page.
fn references(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attr in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(start) = rest.find(attr) {
            rest = &rest[start + attr.len()..];
            let end = rest.find('"').expect("closed attribute");
            found.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    found
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_types_caching_and_a_strict_csp() {
    let app = TestApp::spawn_without_worker().await;
    let page = app.get("/", None).await;
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-cache");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(!html.contains("%ASSETS%"), "placeholder left in the page");
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "inline code"
    );

    let version = chirp_api::routes::client::version();
    let assets: Vec<String> = references(&html)
        .into_iter()
        .filter(|r| r.starts_with("/assets/"))
        .collect();
    assert!(
        assets.iter().any(|a| a.ends_with(".js")) && assets.iter().any(|a| a.ends_with(".css")),
        "{assets:?}"
    );
    for reference in references(&html) {
        assert!(
            reference.starts_with('/') || reference.starts_with('#'),
            "everything from this origin: {reference}"
        );
    }
    for asset in &assets {
        assert!(asset.starts_with(&format!("/assets/{version}/")), "{asset}");
        let r = app.get(asset, None).await;
        assert_eq!(r.status(), 200, "{asset}");
        let kind = r.headers()["content-type"].to_str().unwrap().to_owned();
        let expected = if asset.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else if asset.ends_with(".css") {
            "text/css; charset=utf-8"
        } else {
            kind.as_str()
        };
        assert_eq!(kind, expected, "{asset}");
        assert_eq!(
            r.headers()["cache-control"],
            "public, max-age=31536000, immutable",
            "{asset}"
        );
        assert!(r.headers().contains_key("content-security-policy"));
    }
    // HEAD too, as every GET route.
    let head = app.request(Method::HEAD, "/").send().await.unwrap();
    assert_eq!(head.status(), 200);
}

#[tokio::test]
async fn only_the_current_versions_client_files_are_served() {
    let app = TestApp::spawn_without_worker().await;
    let version = chirp_api::routes::client::version();
    for path in [
        "/assets/0123456789ab/app.js".to_owned(),
        format!("/assets/{version}/no-such-file.js"),
        format!("/assets/{version}/types/api.d.ts"),
        format!("/assets/{version}/index.html"),
        format!("/assets/{version}/../../Cargo.toml"),
        format!("/assets/{version}/%2e%2e/%2e%2e/Cargo.toml"),
        "/index.html".to_owned(),
    ] {
        assert_problem(app.get(&path, None).await, 404, "not_found").await;
    }
    let post = app.request(Method::POST, "/").send().await.unwrap();
    assert_problem(post, 405, "method_not_allowed").await;
}

#[test]
fn the_client_is_under_100_kib_of_js_and_css() {
    fn walk(dir: &Path, total: &mut u64) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, total);
            } else if path.extension().is_some_and(|e| e == "js" || e == "css") {
                *total += std::fs::metadata(&path).unwrap().len();
            }
        }
    }
    let mut total = 0;
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/src"),
        &mut total,
    );
    assert!(total > 0, "no client files");
    assert!(total < 100 * 1024, "{total} bytes of JS and CSS");
}
