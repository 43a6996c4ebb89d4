//! What request handlers read: one immutable [`Snapshot`] per catalog
//! version, published whole by the KeyRegistry. A request loads it once and
//! decides everything from that one copy, so a change made in one database
//! transaction (a key revoked and an endpoint re-secured, say) reaches every
//! request whole: no request ever pairs a new guard with an old key table.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwapOption;

use crate::authenticator::Guard;
use crate::catalog::ApiKeyTable;

/// `workspace -> notification -> guard`, nested so a lookup borrows the path
/// segments instead of allocating a key.
pub type Routes = HashMap<String, HashMap<String, Arc<Guard>>>;

pub struct Snapshot {
    /// Counts catalog loads applied, from 1; for logs and tests.
    pub version: u64,
    routes: Routes,
    /// Every API key eventward issued; shared by every guard of this version.
    pub api_keys: Arc<ApiKeyTable>,
}

impl Snapshot {
    pub fn new(version: u64, routes: Routes, api_keys: Arc<ApiKeyTable>) -> Snapshot {
        Snapshot {
            version,
            routes,
            api_keys,
        }
    }

    pub fn route(&self, workspace: &str, notification: &str) -> Option<&Arc<Guard>> {
        self.routes.get(workspace)?.get(notification)
    }

    /// Every endpoint's guard, in no particular order.
    pub fn guards(&self) -> impl Iterator<Item = &Arc<Guard>> {
        self.routes.values().flat_map(HashMap::values)
    }

    pub fn endpoints(&self) -> usize {
        self.routes.values().map(HashMap::len).sum()
    }
}

/// The current snapshot; empty until the first catalog load, which is how
/// "not loaded yet" is told apart from "no such endpoint".
pub type Current = ArcSwapOption<Snapshot>;
