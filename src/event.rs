//! The message consumers read: a CloudEvents 1.0 event in structured JSON
//! mode, with the posted object carried byte for byte as `data`.
//!
//! Built once per event on the request path, so it is written straight into
//! the body buffer: no intermediate strings for the id, the time or the
//! source.

use std::fmt;

use chrono::{DateTime, Datelike, Timelike, Utc};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::BasicProperties;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::authenticator::Principal;
use crate::publisher::Outbound;

#[derive(Serialize)]
struct CloudEvent<'a> {
    specversion: &'static str,
    id: &'a str,
    source: Source<'a>,
    #[serde(rename = "type")]
    kind: &'a str,
    time: &'a str,
    datacontenttype: &'static str,
    workspace: &'a str,
    notification: &'a str,
    authmethod: &'static str,
    authprincipal: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    authprovider: Option<&'a str>,
    data: &'a RawValue,
}

/// `/workspaces/{workspace}/notifications/{notification}`, written in place.
struct Source<'a>(&'a str, &'a str);

impl Serialize for Source<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Display for Source<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("/workspaces/")?;
        f.write_str(self.0)?;
        f.write_str("/notifications/")?;
        f.write_str(self.1)
    }
}

/// RFC 3339 in UTC with milliseconds (`2026-11-24T10:00:00.123Z`), the form
/// `to_rfc3339_opts(SecondsFormat::Millis, true)` gives, without allocating.
fn rfc3339_millis(t: &DateTime<Utc>, out: &mut [u8; 24]) {
    fn put(out: &mut [u8], mut v: u32) {
        for b in out.iter_mut().rev() {
            *b = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    *out = *b"0000-00-00T00:00:00.000Z";
    put(&mut out[0..4], t.year().clamp(0, 9999) as u32);
    put(&mut out[5..7], t.month());
    put(&mut out[8..10], t.day());
    put(&mut out[11..13], t.hour());
    put(&mut out[14..16], t.minute());
    // A leap second shows as :60, as chrono writes it.
    let nanos = t.nanosecond();
    put(&mut out[17..19], t.second() + nanos / 1_000_000_000);
    put(&mut out[20..23], (nanos % 1_000_000_000) / 1_000_000);
}

/// Builds the AMQP message for one accepted event. `data` is already known
/// to be a JSON object.
pub fn outbound(
    id: Uuid,
    workspace: &str,
    notification: &str,
    principal: &Principal,
    received: DateTime<Utc>,
    data: &RawValue,
) -> Outbound {
    let mut id_buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let id = &*id.hyphenated().encode_lower(&mut id_buf);
    let mut time_buf = [0u8; 24];
    rfc3339_millis(&received, &mut time_buf);
    let time = std::str::from_utf8(&time_buf).expect("ASCII digits");
    let event = CloudEvent {
        specversion: "1.0",
        id,
        source: Source(workspace, notification),
        kind: notification,
        time,
        datacontenttype: "application/json",
        workspace,
        notification,
        authmethod: principal.method.as_str(),
        authprincipal: &principal.id,
        authprovider: principal.provider.as_deref(),
        data,
    };
    let mut body = Vec::with_capacity(data.get().len() + 320 + 3 * notification.len());
    serde_json::to_writer(&mut body, &event).expect("a CloudEvent always serializes");

    let mut routing_key = String::with_capacity(workspace.len() + 1 + notification.len());
    routing_key.push_str(workspace);
    routing_key.push('.');
    routing_key.push_str(notification);
    Outbound {
        routing_key: routing_key.into(),
        properties: properties(
            id,
            notification,
            received.timestamp().max(0) as u64,
            workspace,
            principal.method.as_str(),
        ),
        body,
    }
}

/// Properties every event carries (contract, "What consumers read").
fn properties(
    message_id: &str,
    notification: &str,
    timestamp: u64,
    workspace: &str,
    auth_method: &str,
) -> BasicProperties {
    let mut headers = FieldTable::default();
    for (k, v) in [
        ("workspace", workspace),
        ("notification", notification),
        ("auth_method", auth_method),
    ] {
        headers.insert(
            ShortString::from(k),
            AMQPValue::LongString(LongString::from(v)),
        );
    }
    BasicProperties::default()
        .with_content_type(ShortString::from("application/cloudevents+json"))
        .with_delivery_mode(2)
        .with_message_id(ShortString::from(message_id))
        .with_timestamp(timestamp)
        .with_app_id(ShortString::from("eventward"))
        .with_type(ShortString::from(notification))
        .with_headers(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{SecondsFormat, TimeZone};

    #[test]
    fn time_is_written_as_chrono_writes_it() {
        for (secs, nanos) in [
            (0i64, 0u32),
            (1_795_000_000, 123_456_789),
            (1_795_000_059, 999_999_999),
            (253_402_300_799, 1_000_000),
            (1_700_000_000, 999_000),
        ] {
            let t = Utc.timestamp_opt(secs, nanos).unwrap();
            let mut buf = [0u8; 24];
            rfc3339_millis(&t, &mut buf);
            assert_eq!(
                std::str::from_utf8(&buf).unwrap(),
                t.to_rfc3339_opts(SecondsFormat::Millis, true)
            );
        }
    }

    #[test]
    fn the_message_is_the_contracts() {
        let principal = Principal {
            method: crate::catalog::AuthMethod::Jwt,
            id: "user \"1\"".into(),
            provider: Some("idp".into()),
        };
        let data: Box<RawValue> = serde_json::from_str(r#"{"a": [1, 2]}"#).unwrap();
        let id = Uuid::now_v7();
        let t = Utc.timestamp_opt(1_795_000_000, 123_000_000).unwrap();
        let m = outbound(id, "acme", "order-shipped", &principal, t, &data);
        assert_eq!(m.routing_key.as_str(), "acme.order-shipped");
        let body: serde_json::Value = serde_json::from_slice(&m.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "specversion": "1.0",
                "id": id.to_string(),
                "source": "/workspaces/acme/notifications/order-shipped",
                "type": "order-shipped",
                "time": t.to_rfc3339_opts(SecondsFormat::Millis, true),
                "datacontenttype": "application/json",
                "workspace": "acme",
                "notification": "order-shipped",
                "authmethod": "jwt",
                "authprincipal": "user \"1\"",
                "authprovider": "idp",
                "data": {"a": [1, 2]},
            })
        );
        // `data` is the posted bytes, unchanged.
        assert!(std::str::from_utf8(&m.body)
            .unwrap()
            .ends_with(r#""data":{"a": [1, 2]}}"#));
        let p = &m.properties;
        assert_eq!(
            p.content_type().as_ref().map(|s| s.as_str()),
            Some("application/cloudevents+json")
        );
        assert_eq!(p.delivery_mode(), &Some(2));
        assert_eq!(
            p.message_id().as_ref().map(|s| s.as_str()),
            Some(id.to_string().as_str())
        );
        assert_eq!(p.timestamp(), &Some(1_795_000_000));
        assert_eq!(p.app_id().as_ref().map(|s| s.as_str()), Some("eventward"));
        assert_eq!(p.kind().as_ref().map(|s| s.as_str()), Some("order-shipped"));
        let headers = p.headers().as_ref().unwrap().inner();
        for (k, v) in [
            ("workspace", "acme"),
            ("notification", "order-shipped"),
            ("auth_method", "jwt"),
        ] {
            assert_eq!(
                headers.get(&ShortString::from(k)),
                Some(&AMQPValue::LongString(LongString::from(v))),
                "{k}"
            );
        }
    }
}
