//! `eventward console-link`: a one-time sign-in URL for the web console.
//! Only the SHA-256 of its code is stored (`console_links`); it works once,
//! for `console::session::LINK_TTL`, and signs in with the `admin` scope as
//! `link:cli:<os user>` (whoever can run this command holds the database's
//! credentials, which is more than any admin token).

use serde_json::json;

use super::output::{time, Out};
use crate::config::Settings;
use crate::console::session;
use crate::service::Actor;
use crate::store::Connection;

pub fn run(
    conn: &mut Connection,
    who: &Actor,
    settings: &Settings,
    out: Out,
) -> anyhow::Result<()> {
    if settings.admin.listen.is_empty() && settings.admin.public_url.is_empty() {
        anyhow::bail!(
            "admin.listen is empty, so no daemon serves the console; set admin.listen (or admin.public_url)"
        );
    }
    let (code, expires_at) = session::create_link(conn, who)?;
    let url = session::link_url(settings, &code);
    if out.json {
        out.print(json!({ "url": url, "expires_at": expires_at }));
    } else {
        println!(
            "Open this link to sign in to the eventward console (it works once, until {}):",
            time(Some(expires_at))
        );
        println!();
        println!("    {url}");
    }
    Ok(())
}
