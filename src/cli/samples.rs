//! The code samples that `samples` and `notification secure` print.

use anyhow::{bail, Context};
use serde_json::json;

use super::output::Out;
use crate::config::Settings;
use crate::samples;
use crate::store::notifications::NotificationInfo;

pub fn print(
    settings: &Settings,
    out: Out,
    n: &NotificationInfo,
    lang: Option<&str>,
) -> anyhow::Result<()> {
    let Some(auth_method) = n.security else {
        bail!(
            "{}/{} is not secured, so no sample can send to it; secure it first with \
             `eventward notification secure {}/{} --api-key NAME`",
            n.workspace,
            n.slug,
            n.workspace,
            n.slug
        )
    };
    let target = samples::Target {
        public_url: settings.public_base(),
        workspace: &n.workspace,
        notification: &n.slug,
        auth_method,
    };
    let chosen: Vec<(&str, String)> = match lang {
        Some(lang) => {
            let code = samples::render(lang, &target).with_context(|| {
                format!(
                    "no {lang} sample for this notification; choose one of: {}",
                    samples::languages(target.auth_method).join(", ")
                )
            })?;
            vec![(lang, code)]
        }
        None => samples::render_all(&target),
    };
    if out.json {
        let map: serde_json::Map<String, serde_json::Value> = chosen
            .into_iter()
            .map(|(l, c)| (l.to_string(), json!(c)))
            .collect();
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
