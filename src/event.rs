//! The message consumers read: a CloudEvents 1.0 event in structured JSON
//! mode, with the posted object carried byte for byte as `data`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::authenticator::Principal;
use crate::publisher::{self, Outbound};

#[derive(Serialize)]
struct CloudEvent<'a> {
    specversion: &'static str,
    id: &'a str,
    source: String,
    #[serde(rename = "type")]
    kind: &'a str,
    time: String,
    datacontenttype: &'static str,
    workspace: &'a str,
    notification: &'a str,
    authmethod: &'static str,
    authprincipal: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    authprovider: Option<&'a str>,
    data: &'a RawValue,
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
    let id = id.to_string();
    let event = CloudEvent {
        specversion: "1.0",
        id: &id,
        source: format!("/workspaces/{workspace}/notifications/{notification}"),
        kind: notification,
        time: received.to_rfc3339_opts(SecondsFormat::Millis, true),
        datacontenttype: "application/json",
        workspace,
        notification,
        authmethod: principal.method.as_str(),
        authprincipal: &principal.id,
        authprovider: principal.provider.as_deref(),
        data,
    };
    let body = serde_json::to_vec(&event).expect("a CloudEvent always serializes");
    Outbound {
        routing_key: format!("{workspace}.{notification}"),
        properties: publisher::properties(
            &id,
            notification,
            received.timestamp().max(0) as u64,
            &[
                ("workspace", workspace),
                ("notification", notification),
                ("auth_method", principal.method.as_str()),
            ],
        ),
        body,
    }
}
