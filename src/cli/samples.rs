//! The code samples that `samples` and `notification secure` print.

use serde_json::json;

use super::output::Out;
use crate::config::Settings;
use crate::service;
use crate::store::notifications::NotificationInfo;

pub fn print(
    settings: &Settings,
    out: Out,
    n: &NotificationInfo,
    lang: Option<&str>,
) -> anyhow::Result<()> {
    let chosen = service::samples::render(settings.public_base(), n, lang)?;
    if out.json {
        let map: serde_json::Map<String, serde_json::Value> =
            chosen.into_iter().map(|(l, c)| (l, json!(c))).collect();
        out.print(serde_json::Value::Object(map));
    } else {
        for (lang, code) in chosen {
            println!("── {lang} ──");
            println!("{}", code.trim_end());
            println!();
        }
    }
    Ok(())
}
