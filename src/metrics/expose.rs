//! The Prometheus text exposition format 0.0.4: a small writer, and the one
//! function that renders every eventward metric at scrape time.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{process, Histogram, PublishResult, CATALOG, PUBLISHING, REQUEST_DURATION, UNROUTED};
use crate::catalog::{AuthMethod, Security};
use crate::jwks_refresher::JwksSlots;
use crate::problem::Code;
use crate::snapshot::Current;

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders every metric.
pub fn render(current: &Current, jwks: &JwksSlots) -> String {
    let mut t = Text::default();
    let now_ms = super::unix_ms();
    t.family(
        "eventward_build_info",
        "gauge",
        "Always 1; the version of the running eventward.",
    );
    t.sample(
        "eventward_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1,
    );

    let snapshot = current.load_full();
    let mut guards: Vec<_> = snapshot.iter().flat_map(|s| s.guards()).collect();
    guards.sort_by(|a, b| {
        (&a.endpoint.workspace, &a.endpoint.notification)
            .cmp(&(&b.endpoint.workspace, &b.endpoint.notification))
    });

    t.family(
        "eventward_requests_total",
        "counter",
        "Event requests by notification and outcome code (accepted for 202).",
    );
    for guard in &guards {
        let notification = format!(
            "{}/{}",
            guard.endpoint.workspace, guard.endpoint.notification
        );
        let outcomes = &guard.usage.outcomes;
        t.sample(
            "eventward_requests_total",
            &[("notification", &notification), ("code", "accepted")],
            outcomes.accepted(),
        );
        for code in Code::ALL {
            let n = outcomes.refused(code);
            if n > 0 {
                t.sample(
                    "eventward_requests_total",
                    &[("notification", &notification), ("code", code.as_str())],
                    n,
                );
            }
        }
    }
    t.family(
        "eventward_requests_unrouted_total",
        "counter",
        "Event requests refused before a notification was found, by code.",
    );
    for code in [Code::UnknownEndpoint, Code::StoreUnavailable] {
        t.sample(
            "eventward_requests_unrouted_total",
            &[("code", code.as_str())],
            UNROUTED[code as usize].load(std::sync::atomic::Ordering::Relaxed),
        );
    }
    t.family(
        "eventward_request_duration_seconds",
        "histogram",
        "Time from routing an event request to its answer.",
    );
    t.histogram("eventward_request_duration_seconds", &[], &REQUEST_DURATION);

    // Authentication decisions, derived from the outcome counts: a request
    // that got past authentication either was accepted or was refused for
    // something after it (body, broker…); the others were refused by it.
    let mut decisions: BTreeMap<(&str, &str, &str), u64> = BTreeMap::new();
    for method in [AuthMethod::ApiKey, AuthMethod::Jwt] {
        decisions.insert((method_label(method), "accepted", "none"), 0);
    }
    for guard in &guards {
        let method = match &guard.endpoint.security {
            Security::ApiKeys(_) => method_label(AuthMethod::ApiKey),
            Security::Jwt { .. } => method_label(AuthMethod::Jwt),
            // Not secured: nothing is authenticated there.
            Security::Closed => continue,
        };
        let outcomes = &guard.usage.outcomes;
        *decisions.entry((method, "accepted", "none")).or_default() += outcomes.accepted();
        for code in Code::ALL {
            let n = outcomes.refused(code);
            if n == 0 {
                continue;
            }
            let key = if refused_by_authentication(code) {
                (method, "refused", code.as_str())
            } else {
                (method, "accepted", "none")
            };
            *decisions.entry(key).or_default() += n;
        }
    }
    t.family(
        "eventward_auth_decisions_total",
        "counter",
        "Authentication decisions by the notification's method, result and refusal code.",
    );
    for ((method, result, code), n) in decisions {
        t.sample(
            "eventward_auth_decisions_total",
            &[("method", method), ("result", result), ("code", code)],
            n,
        );
    }

    t.family(
        "eventward_token_cache_hits_total",
        "counter",
        "Verified-token cache lookups answered from the cache, by notification.",
    );
    let jwt_guards: Vec<_> = guards.iter().filter(|g| g.jwt.is_some()).collect();
    for guard in &jwt_guards {
        let notification = format!(
            "{}/{}",
            guard.endpoint.workspace, guard.endpoint.notification
        );
        t.sample(
            "eventward_token_cache_hits_total",
            &[("notification", &notification)],
            guard.usage.outcomes.token_cache.hits(),
        );
    }
    t.family(
        "eventward_token_cache_misses_total",
        "counter",
        "Verified-token cache lookups that had to verify the token, by notification.",
    );
    for guard in &jwt_guards {
        let notification = format!(
            "{}/{}",
            guard.endpoint.workspace, guard.endpoint.notification
        );
        t.sample(
            "eventward_token_cache_misses_total",
            &[("notification", &notification)],
            guard.usage.outcomes.token_cache.misses(),
        );
    }

    let slots = jwks.stats();
    t.family(
        "eventward_jwks_fetches_total",
        "counter",
        "JWKS fetches by JWT provider and result (ok: a well-formed JWKS).",
    );
    for s in &slots {
        for (result, n) in [("ok", s.fetches_ok), ("failed", s.fetches_failed)] {
            t.sample(
                "eventward_jwks_fetches_total",
                &[("provider", &s.provider), ("result", result)],
                n,
            );
        }
    }
    t.family(
        "eventward_jwks_last_success_age_seconds",
        "gauge",
        "Seconds since the provider's last good JWKS fetch (absent before the first).",
    );
    for s in &slots {
        if let Some(ms) = s.last_good_unix_ms {
            t.sample_f64(
                "eventward_jwks_last_success_age_seconds",
                &[("provider", &s.provider)],
                now_ms.saturating_sub(ms) as f64 / 1000.0,
            );
        }
    }
    t.family(
        "eventward_jwks_keys",
        "gauge",
        "Usable keys the provider's key set serves now.",
    );
    for s in &slots {
        t.sample(
            "eventward_jwks_keys",
            &[("provider", &s.provider)],
            s.keys as u64,
        );
    }

    t.family(
        "eventward_catalog_api_keys",
        "gauge",
        "API keys in the catalog as last loaded.",
    );
    t.sample(
        "eventward_catalog_api_keys",
        &[],
        snapshot.as_ref().map_or(0, |s| s.api_keys.len() as u64),
    );
    t.family(
        "eventward_catalog_endpoints",
        "gauge",
        "Notification endpoints in the catalog as last loaded.",
    );
    t.sample(
        "eventward_catalog_endpoints",
        &[],
        snapshot.as_ref().map_or(0, |s| s.endpoints() as u64),
    );
    t.family(
        "eventward_catalog_last_load_age_seconds",
        "gauge",
        "Seconds since the catalog was last read from PostgreSQL (absent before the first).",
    );
    if let Some(ms) = CATALOG.last_load_ms() {
        t.sample_f64(
            "eventward_catalog_last_load_age_seconds",
            &[],
            now_ms.saturating_sub(ms) as f64 / 1000.0,
        );
    }
    t.family(
        "eventward_catalog_load_duration_seconds",
        "histogram",
        "Time to read the whole catalog from PostgreSQL.",
    );
    t.histogram(
        "eventward_catalog_load_duration_seconds",
        &[],
        &CATALOG.load_duration,
    );
    t.family(
        "eventward_catalog_load_failures_total",
        "counter",
        "Catalog reads that failed (the last catalog kept serving).",
    );
    t.sample(
        "eventward_catalog_load_failures_total",
        &[],
        CATALOG.failures.load(std::sync::atomic::Ordering::Relaxed),
    );
    t.family(
        "eventward_catalog_listen_up",
        "gauge",
        "1 while the catalog loader's LISTEN connection to PostgreSQL is up.",
    );
    t.sample(
        "eventward_catalog_listen_up",
        &[],
        CATALOG.listening.load(std::sync::atomic::Ordering::Relaxed) as u64,
    );

    t.family(
        "eventward_publishes_total",
        "counter",
        "Events published to RabbitMQ by result.",
    );
    for result in PublishResult::ALL {
        t.sample(
            "eventward_publishes_total",
            &[("result", result.as_str())],
            PUBLISHING.result(result),
        );
    }
    t.family(
        "eventward_publish_confirm_latency_seconds",
        "histogram",
        "Time from publishing an event to RabbitMQ's confirm.",
    );
    t.histogram(
        "eventward_publish_confirm_latency_seconds",
        &[],
        &PUBLISHING.confirm_latency,
    );
    t.family(
        "eventward_publishes_in_flight",
        "gauge",
        "Events published and not yet confirmed.",
    );
    t.sample_f64(
        "eventward_publishes_in_flight",
        &[],
        PUBLISHING
            .in_flight
            .load(std::sync::atomic::Ordering::Relaxed) as f64,
    );
    t.family(
        "eventward_broker_up",
        "gauge",
        "1 while the connection to RabbitMQ is up.",
    );
    t.sample(
        "eventward_broker_up",
        &[],
        PUBLISHING
            .connected
            .load(std::sync::atomic::Ordering::Relaxed) as u64,
    );
    t.family(
        "eventward_broker_reconnects_total",
        "counter",
        "Connections to RabbitMQ re-established after one was lost.",
    );
    t.sample(
        "eventward_broker_reconnects_total",
        &[],
        PUBLISHING
            .reconnects
            .load(std::sync::atomic::Ordering::Relaxed),
    );

    if let Some(p) = process::read() {
        t.family(
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
        );
        t.sample_f64("process_cpu_seconds_total", &[], p.cpu_seconds);
        t.family(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
        );
        t.sample("process_resident_memory_bytes", &[], p.resident_bytes);
        t.family(
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
        );
        t.sample("process_virtual_memory_bytes", &[], p.virtual_bytes);
        t.family(
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
        );
        t.sample("process_open_fds", &[], p.open_fds);
        if let Some(max) = p.max_fds {
            t.family(
                "process_max_fds",
                "gauge",
                "Maximum number of open file descriptors.",
            );
            t.sample("process_max_fds", &[], max);
        }
        t.family(
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
        );
        t.sample_f64("process_start_time_seconds", &[], p.start_time_seconds);
    }
    t.0
}

fn method_label(method: AuthMethod) -> &'static str {
    method.as_str()
}

/// The codes a request is refused with at or before authentication: its
/// credential was missing, misplaced, or not good for this notification.
pub fn refused_by_authentication(code: Code) -> bool {
    use Code::*;
    matches!(
        code,
        CredentialsInQuery
            | MissingCredentials
            | InvalidApiKey
            | ExpiredApiKey
            | RevokedApiKey
            | DisabledApiKey
            | InvalidToken
            | ExpiredToken
            | TokenNotYetValid
            | InvalidAudience
            | InvalidIssuer
            | UnsupportedAlgorithm
            | UnknownKeyId
            | CredentialNotAllowed
            | EndpointNotSecured
    )
}

#[derive(Default)]
struct Text(String);

impl Text {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn labels(&mut self, labels: &[(&str, &str)]) {
        if labels.is_empty() {
            return;
        }
        self.0.push('{');
        for (i, (name, value)) in labels.iter().enumerate() {
            if i > 0 {
                self.0.push(',');
            }
            self.0.push_str(name);
            self.0.push_str("=\"");
            for c in value.chars() {
                match c {
                    '\\' => self.0.push_str("\\\\"),
                    '"' => self.0.push_str("\\\""),
                    '\n' => self.0.push_str("\\n"),
                    c => self.0.push(c),
                }
            }
            self.0.push('"');
        }
        self.0.push('}');
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.0.push_str(name);
        self.labels(labels);
        let _ = writeln!(self.0, " {value}");
    }

    fn sample_f64(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        self.labels(labels);
        let _ = writeln!(self.0, " {}", float(value));
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
        let (buckets, sum, count) = h.read();
        let bucket = format!("{name}_bucket");
        for (le, n) in buckets {
            let le = float(le);
            let mut with_le: Vec<(&str, &str)> = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket, &with_le, n);
        }
        self.sample_f64(&format!("{name}_sum"), labels, sum);
        self.sample(&format!("{name}_count"), labels, count);
    }
}

/// A float as the text format writes it (`+Inf`, not Rust's `inf`).
fn float(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_infinity_is_spelled_the_prometheus_way() {
        let mut t = Text::default();
        t.sample("m", &[("a", "x\"y\\z\nw")], 3);
        assert_eq!(t.0, "m{a=\"x\\\"y\\\\z\\nw\"} 3\n");
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(0.25), "0.25");
        assert_eq!(float(1.0), "1");
    }
}
