//! The web client (`web/src`, embedded in the binary at compile time): `GET /` serves its
//! `index.html`, `GET /assets/<version>/<path>` every other file.
//!
//! Caching: `<version>` is a hash of every embedded file, so an asset's URL changes whenever
//! any file does and assets can be cached for good (`immutable`); `index.html`, which names
//! the version, is revalidated every time (`no-cache`). An asset asked for under another
//! version (a page from before a deploy) is a 404, never today's file under yesterday's name.
//! Every answer carries a strict Content-Security-Policy: only this origin, no inline code.

use std::sync::LazyLock;

use actix_web::http::header::{self, CacheControl, CacheDirective, HeaderValue};
use actix_web::{HttpResponse, web};
use include_dir::{Dir, File, include_dir};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

static CLIENT: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../web/src");

/// Where `index.html` names the assets' directory.
const ASSETS_PLACEHOLDER: &str = "%ASSETS%";

/// `default-src 'self'`, and nothing looser: scripts, styles, images, fonts and connections
/// (the API, the stream) from this origin only; no plugins, no framing, no `<base>` tricks.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; object-src 'none'; \
    base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

struct Client {
    version: String,
    index: String,
}

static BUILT: LazyLock<Client> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    for file in served_files(&CLIENT) {
        hash.update(file.path().to_string_lossy().as_bytes());
        hash.update([0]);
        hash.update(file.contents());
    }
    let version = hex::encode(&hash.finalize()[..6]);
    let index = CLIENT
        .get_file("index.html")
        .and_then(File::contents_utf8)
        .unwrap_or("<!doctype html><title>Chirp</title><p>The web client was not built in.")
        .replace(ASSETS_PLACEHOLDER, &format!("/assets/{version}"));
    Client { version, index }
});

/// Every file the client serves (type declarations are for the type check only).
fn served_files<'a>(dir: &'a Dir<'a>) -> Vec<&'a File<'a>> {
    let mut files: Vec<&File> = dir.files().filter(|f| is_served(f)).collect();
    for sub in dir.dirs() {
        files.extend(served_files(sub));
    }
    files.sort_by_key(|f| f.path());
    files
}

fn is_served(file: &File) -> bool {
    !file.path().to_string_lossy().ends_with(".d.ts")
}

/// The assets' current version (a test checks the page names it).
pub fn version() -> &'static str {
    &BUILT.version
}

/// `GET /`: the client's page.
pub async fn index() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(BUILT.index.clone())
}

/// `GET /assets/{version}/{path}`: one of the client's files, cached for good.
pub async fn asset(path: web::Path<(String, String)>) -> Result<HttpResponse, ApiError> {
    let (version, path) = path.into_inner();
    let file = (version == BUILT.version)
        .then(|| CLIENT.get_file(&path))
        .flatten()
        .filter(|f| is_served(f) && path != "index.html")
        .ok_or(ApiError::RouteNotFound)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type(&path)))
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(31_536_000),
            CacheDirective::Extension("immutable".into(), None),
        ]))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .body(file.contents()))
}

/// The media type of a client file, by its extension.
fn content_type(path: &str) -> HeaderValue {
    let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
    HeaderValue::from_static(match ext {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "html" => "text/html; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" | "webmanifest" => "application/json",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_client_file_gets_its_media_type() {
        assert_eq!(content_type("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(
            content_type("views/home.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("app.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("icon.svg"), "image/svg+xml");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
    }
}
