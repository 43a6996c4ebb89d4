//! Code samples for a secured notification.

use super::{Result, ServiceError};
use crate::catalog::AuthMethod;
use crate::samples;
use crate::store::notifications::NotificationInfo;

/// `(language, program)` pairs for `n`: the one asked for, or every language
/// that applies, in the contract's order. Refused for a notification that is
/// not secured (`Conflict`: nothing could send to it yet), for an unknown
/// language (`Invalid`) and for one with no sample for this notification
/// (`NotFound`: `browser` when secured by API keys).
pub fn render(
    public_base: &str,
    n: &NotificationInfo,
    lang: Option<&str>,
) -> Result<Vec<(String, String)>> {
    let Some(auth_method) = n.security else {
        return Err(ServiceError::Conflict(format!(
            "{ws}/{slug} is not secured, so no sample can send to it; secure it first \
             (`eventward notification secure {ws}/{slug} --api-key NAME`)",
            ws = n.workspace,
            slug = n.slug
        )));
    };
    let target = samples::Target {
        public_url: public_base.trim_end_matches('/'),
        workspace: &n.workspace,
        notification: &n.slug,
        auth_method,
    };
    match lang {
        Some(lang) => {
            if !samples::LANGS.contains(&lang) {
                return Err(ServiceError::Invalid(format!(
                    "no sample language {}; choose one of: {}",
                    lang.escape_default(),
                    samples::languages(auth_method).join(", ")
                )));
            }
            let code = samples::render(lang, &target).ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "no {lang} sample for this notification; choose one of: {}",
                    samples::languages(auth_method).join(", ")
                ))
            })?;
            Ok(vec![(lang.to_string(), code)])
        }
        None => Ok(samples::render_all(&target)
            .into_iter()
            .map(|(l, c)| (l.to_string(), c))
            .collect()),
    }
}

/// The languages with a sample for notifications secured this way.
pub fn languages(auth_method: AuthMethod) -> &'static [&'static str] {
    samples::languages(auth_method)
}
