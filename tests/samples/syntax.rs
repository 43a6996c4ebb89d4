//! Every sample's source, for each auth method it applies to, through its
//! language's compiler or linter with no warning (toolchains::check_source).

use eventward::catalog::AuthMethod;
use eventward::samples::{self, Target};

use crate::toolchains::check_source;

fn check(lang: &str) {
    let mut checked = 0;
    for auth_method in [AuthMethod::ApiKey, AuthMethod::Jwt] {
        let target = Target {
            public_url: "http://127.0.0.1:8080",
            workspace: "acme",
            notification: "order-shipped",
            auth_method,
        };
        if let Some(code) = samples::render(lang, &target) {
            check_source(lang, &code);
            checked += 1;
        }
    }
    assert!(checked > 0, "{lang}: no sample rendered");
}

#[test]
fn curl() {
    check("curl");
}

#[test]
fn python() {
    check("python");
}

#[test]
fn node() {
    check("node");
}

#[test]
fn browser() {
    check("browser");
}

#[test]
fn java() {
    check("java");
}

#[test]
fn go() {
    check("go");
}

#[test]
fn ruby() {
    check("ruby");
}

#[test]
fn php() {
    check("php");
}

#[test]
fn csharp() {
    check("csharp");
}

/// The table covers exactly the languages eventward prints samples for.
#[test]
fn the_toolchain_table_covers_every_language() {
    let table: Vec<&str> = crate::toolchains::TABLE.iter().map(|t| t.lang).collect();
    assert_eq!(table, samples::LANGS);
}
