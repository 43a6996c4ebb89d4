//! JWT providers: add (after *Check API Credentials*), check, list, remove.
//!
//! Adding is two steps so no database connection is held across network
//! calls: [`prepare`] (async: OpenID discovery when no JWKS URL is given,
//! then the JWKS check) and [`add`] (the rule "saved only when the check
//! passes, unless forced", the insert and its audit row).

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{audit, change, paginate, Actor, Listing, Page, Result, ServiceError};
use crate::jwt::discovery;
use crate::jwt::fetch as jwks;
use crate::store::jwt_providers::{self, DEFAULT_PRINCIPAL_CLAIM};
use crate::store::{self, Connection};

pub use crate::store::jwt_providers::ProviderRow;

/// A provider to add, as the CLI's options or the API's body give it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProvider {
    #[schema(pattern = r"^[a-z0-9][a-z0-9-]{0,62}$")]
    pub name: String,
    /// The JWKS URL (`https://`, or `http://` on a loopback host); without
    /// it, found from `issuer` by OpenID Connect discovery.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Accepted audiences: a token's `aud` must hold one of them.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Tokens' `iss` must equal it exactly.
    #[serde(default)]
    pub issuer: Option<String>,
    /// The claim naming the sender (`sub` when absent).
    #[serde(default)]
    pub principal_claim: Option<String>,
}

/// A usable key of a JWKS.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UsableKey {
    pub kid: String,
    pub kty: String,
    pub alg: Option<String>,
}

/// A JWKS entry that cannot be used, and why.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UnusableKey {
    pub kid: Option<String>,
    /// Its position in the `keys` array.
    pub index: usize,
    pub reason: String,
}

/// "Check API Credentials": what the JWKS at `url` holds.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CheckReport {
    /// At least one usable key.
    pub ok: bool,
    pub url: String,
    pub usable: Vec<UsableKey>,
    pub unusable: Vec<UnusableKey>,
    /// Why nothing could be fetched, when so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What OpenID discovery found from the issuer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DiscoveryReport {
    pub ok: bool,
    /// The configuration document's URL.
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The reports of an add that was refused (carried by
/// [`ServiceError::CheckFailed`], so the API's 422 shows them).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AddReport {
    pub saved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discovery: Option<DiscoveryReport>,
}

/// A provider checked and ready to save.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub name: String,
    pub jwks_url: String,
    pub audiences: Vec<String>,
    pub issuer: Option<String>,
    pub principal_claim: String,
    pub check: CheckReport,
    pub discovery: Option<DiscoveryReport>,
}

/// A provider saved, with the reports that preceded it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Added {
    #[serde(flatten)]
    pub provider: ProviderRow,
    pub check: CheckReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discovery: Option<DiscoveryReport>,
    /// Saved although the check failed.
    pub forced: bool,
}

/// Fetches the JWKS at `url` and reports its usable and unusable keys.
/// `url` must already have passed [`jwks::check_url`].
pub async fn check(url: &str) -> CheckReport {
    let fetched = match jwks::check_url(url) {
        Ok(u) => jwks::fetch(&jwks::client(), &u)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    match fetched {
        Ok(f) => CheckReport {
            ok: !f.keys.is_empty(),
            url: url.to_string(),
            usable: f
                .keys
                .usable()
                .into_iter()
                .map(|k| UsableKey {
                    kid: k.kid,
                    kty: k.kty,
                    alg: k.alg,
                })
                .collect(),
            unusable: f
                .rejected
                .into_iter()
                .map(|r| UnusableKey {
                    kid: r.kid,
                    index: r.index,
                    reason: r.reason,
                })
                .collect(),
            error: None,
        },
        Err(e) => CheckReport {
            ok: false,
            url: url.to_string(),
            usable: Vec::new(),
            unusable: Vec::new(),
            error: Some(e),
        },
    }
}

/// Validates `new`, finds its JWKS URL (OpenID discovery from the issuer
/// when none is given) and checks the JWKS. Nothing is saved.
pub async fn prepare(new: NewProvider) -> Result<Prepared> {
    store::check_name("provider name", &new.name)?;
    let principal_claim = new
        .principal_claim
        .unwrap_or_else(|| DEFAULT_PRINCIPAL_CLAIM.to_string());
    jwt_providers::check_principal_claim(&principal_claim)?;
    // Before any network call: a provider that could not be saved is not fetched.
    jwt_providers::check_claims(&new.audiences, new.issuer.as_deref())?;
    let name = new.name;
    let mut discovered = None;
    let jwks_url = match (new.jwks_url, &new.issuer) {
        (Some(url), _) => url,
        (None, Some(issuer)) => match discovery::discover(&jwks::client(), issuer).await {
            Ok(found) => {
                discovered = Some(DiscoveryReport {
                    ok: true,
                    url: found.configuration_url.to_string(),
                    issuer: Some(found.issuer.clone()),
                    jwks_uri: Some(found.jwks_uri.to_string()),
                    error: None,
                });
                found.jwks_uri.to_string()
            }
            Err(e) => {
                let url = discovery::configuration_url(issuer)
                    .map(|u| u.to_string())
                    .unwrap_or_else(|_| issuer.clone());
                return Err(ServiceError::CheckFailed {
                    message: format!(
                        "OpenID discovery from the issuer {issuer} failed, so provider {name} \
                             was not saved (without a JWKS URL there is nothing to save, even \
                             with force; give the JWKS URL to name the keys yourself)"
                    ),
                    report: Box::new(AddReport {
                        saved: false,
                        check: None,
                        discovery: Some(DiscoveryReport {
                            ok: false,
                            url,
                            issuer: None,
                            jwks_uri: None,
                            error: Some(e.to_string()),
                        }),
                    }),
                });
            }
        },
        (None, None) => {
            return Err(ServiceError::Invalid(
                "give a JWKS URL, or the issuer to find the keys by OpenID discovery".into(),
            ))
        }
    };
    jwks::check_url(&jwks_url).map_err(ServiceError::Invalid)?;
    let check = check(&jwks_url).await;
    Ok(Prepared {
        name,
        jwks_url,
        audiences: new.audiences,
        issuer: new.issuer,
        principal_claim,
        check,
        discovery: discovered,
    })
}

/// Saves a prepared provider: only when its check passed, unless `force`.
pub fn add(db: &mut Connection, who: &Actor, p: Prepared, force: bool) -> Result<Added> {
    if !p.check.ok && !force {
        return Err(ServiceError::CheckFailed {
            message: format!(
                "the JWKS check failed, so provider {} was not saved (force to save it anyway)",
                p.name
            ),
            report: Box::new(AddReport {
                saved: false,
                check: Some(p.check),
                discovery: p.discovery,
            }),
        });
    }
    change(db, |db| {
        let row = jwt_providers::add(
            db,
            &jwt_providers::NewProvider {
                name: &p.name,
                jwks_url: &p.jwks_url,
                audiences: &p.audiences,
                issuer: p.issuer.as_deref(),
                principal_claim: &p.principal_claim,
            },
        )?;
        audit(
            db,
            who,
            "jwt_provider.add",
            "jwt_provider",
            &row.name,
            json!({
                "jwks_url": row.jwks_url, "audiences": row.audiences, "issuer": row.issuer,
                "principal_claim": row.principal_claim, "check_ok": p.check.ok, "forced": !p.check.ok,
            }),
        )?;
        Ok(Added {
            provider: row,
            forced: !p.check.ok,
            check: p.check,
            discovery: p.discovery,
        })
    })
}

pub fn get(db: &mut Connection, name: &str) -> Result<ProviderRow> {
    store::check_name("provider name", name)?;
    Ok(jwt_providers::get(db, name)?)
}

/// Providers by name.
pub fn list(db: &mut Connection, page: &Page) -> Result<Listing<ProviderRow>> {
    paginate(jwt_providers::list(db)?, |p| p.name.clone(), page)
}

/// Removes a provider; notifications it secured stop accepting its tokens.
pub fn remove(db: &mut Connection, who: &Actor, name: &str) -> Result<ProviderRow> {
    store::check_name("provider name", name)?;
    change(db, |db| {
        let row = jwt_providers::remove(db, name)?;
        audit(
            db,
            who,
            "jwt_provider.remove",
            "jwt_provider",
            name,
            json!({"jwks_url": row.jwks_url}),
        )?;
        Ok(row)
    })
}
