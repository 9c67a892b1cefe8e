//! Endpoints and their limits per API version, as data (API.md). Every batch size
//! and rate in the code comes from here, never from a constant elsewhere.

use std::fmt;
use std::str::FromStr;

/// An API version such as `2.11`. Only 2.x exists for the Project APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    major: u16,
    minor: u16,
}

impl Version {
    /// The latest version batchport knows, used when a job names none.
    pub const CURRENT: Version = Version { major: 2, minor: 11 };
}

impl Default for Version {
    fn default() -> Self {
        Version::CURRENT
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for Version {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not an API version (expected 2.N, e.g. 2.11)");
        let (a, b) = s.split_once('.').ok_or_else(bad)?;
        let major: u16 = a.parse().map_err(|_| bad())?;
        let minor: u16 = b.parse().map_err(|_| bad())?;
        if major != 2 || minor < 1 {
            return Err(format!("API version {s} is not supported: the Project APIs are 2.1 and later"));
        }
        Ok(Version { major, minor })
    }
}

/// Every endpoint batchport calls (and the emulator serves).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/profiles/update`: attributes, consent and events of profiles.
    ProfilesUpdate,
    /// `/profiles/mass-update`: the same, in larger calls (2.4 and later).
    ProfilesMassUpdate,
    /// `/audiences/create`: a new custom audience.
    AudiencesCreate,
    /// `/audiences/update`: add or remove members of an audience.
    AudiencesUpdate,
    /// `/audiences/replace`: an audience's whole member list.
    AudiencesReplace,
    /// `/audiences/remove`: delete an audience.
    AudiencesRemove,
    /// `/audiences/view`: one audience, and whether its indexing is done.
    AudiencesView,
    /// `/audiences/list`: the project's audiences, a page at a time.
    AudiencesList,
    /// `/catalogs/items/edit`: add, update or remove catalog items.
    CatalogItemsEdit,
    /// `/catalogs/create`: a new catalog and its fields.
    CatalogsCreate,
    /// `/catalogs/view`: one catalog, and whether its indexing is done.
    CatalogsView,
    /// `/catalogs/list`: the project's catalogs.
    CatalogsList,
    /// `/catalogs/remove`: delete a catalog.
    CatalogsRemove,
    /// `/profiles/export`: start an export of profiles.
    ProfilesExport,
    /// `/exports/view`: an export's state and its files.
    ExportsView,
    /// `/exports/list`: the project's exports.
    ExportsList,
    /// `/exports/download`: a file's download link, as a 307 redirect.
    ExportsDownload,
}

impl Endpoint {
    /// Every endpoint, in declaration order.
    pub const ALL: [Endpoint; 17] = [
        Endpoint::ProfilesUpdate,
        Endpoint::ProfilesMassUpdate,
        Endpoint::AudiencesCreate,
        Endpoint::AudiencesUpdate,
        Endpoint::AudiencesReplace,
        Endpoint::AudiencesRemove,
        Endpoint::AudiencesView,
        Endpoint::AudiencesList,
        Endpoint::CatalogItemsEdit,
        Endpoint::CatalogsCreate,
        Endpoint::CatalogsView,
        Endpoint::CatalogsList,
        Endpoint::CatalogsRemove,
        Endpoint::ProfilesExport,
        Endpoint::ExportsView,
        Endpoint::ExportsList,
        Endpoint::ExportsDownload,
    ];

    /// Path below `/{version}`.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::ProfilesUpdate => "/profiles/update",
            Endpoint::ProfilesMassUpdate => "/profiles/mass-update",
            Endpoint::AudiencesCreate => "/audiences/create",
            Endpoint::AudiencesUpdate => "/audiences/update",
            Endpoint::AudiencesReplace => "/audiences/replace",
            Endpoint::AudiencesRemove => "/audiences/remove",
            Endpoint::AudiencesView => "/audiences/view",
            Endpoint::AudiencesList => "/audiences/list",
            Endpoint::CatalogItemsEdit => "/catalogs/items/edit",
            Endpoint::CatalogsCreate => "/catalogs/create",
            Endpoint::CatalogsView => "/catalogs/view",
            Endpoint::CatalogsList => "/catalogs/list",
            Endpoint::CatalogsRemove => "/catalogs/remove",
            Endpoint::ProfilesExport => "/profiles/export",
            Endpoint::ExportsView => "/exports/view",
            Endpoint::ExportsList => "/exports/list",
            Endpoint::ExportsDownload => "/exports/download",
        }
    }

    /// Writes are POST, reads GET: the API has no other verbs.
    pub fn is_write(self) -> bool {
        !matches!(
            self,
            Endpoint::AudiencesView
                | Endpoint::AudiencesList
                | Endpoint::CatalogsView
                | Endpoint::CatalogsList
                | Endpoint::ExportsView
                | Endpoint::ExportsList
                | Endpoint::ExportsDownload
        )
    }
}

/// How a rate is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    /// Distinct Custom IDs (or items) per call.
    Updates,
    /// HTTP requests.
    Requests,
}

/// A token bucket: `per_second` refill, `burst` capacity (equal to `per_second`
/// where the API documents no burst).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// What one token stands for.
    pub unit: RateUnit,
    /// Tokens refilled per second.
    pub per_second: u32,
    /// Capacity of the bucket.
    pub burst: u32,
}

/// What one endpoint accepts in one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Operations (or ids, or items) per call.
    pub max_ops: usize,
    /// Request body cap we hold ourselves to. Batch documents none; 10,000 full
    /// profile operations fit comfortably below this.
    pub max_body_bytes: usize,
    /// Documented rates, all of which apply at once.
    pub rates: &'static [Rate],
    /// Requests in flight by default.
    pub concurrency: usize,
}

const MB: usize = 1024 * 1024;

const PROFILES_UPDATE_RATE: &[Rate] = &[Rate { unit: RateUnit::Updates, per_second: 300, burst: 1_000 }];
const MASS_UPDATE_RATE: &[Rate] = &[Rate { unit: RateUnit::Updates, per_second: 10_000, burst: 10_000 }];
// Not documented; third parties report about 1 request/s.
const AUDIENCE_RATE: &[Rate] = &[Rate { unit: RateUnit::Requests, per_second: 1, burst: 1 }];
const CATALOG_RATE: &[Rate] = &[
    Rate { unit: RateUnit::Requests, per_second: 5, burst: 5 },
    Rate { unit: RateUnit::Updates, per_second: 1_000, burst: 1_000 },
];
const NO_RATE: &[Rate] = &[];

/// The limits of `endpoint` in `version`, or `None` where the endpoint does not
/// exist in that version (mass-update arrived in 2.4).
pub fn limits(version: Version, endpoint: Endpoint) -> Option<Limits> {
    let old = version < Version { major: 2, minor: 4 };
    let l = match endpoint {
        Endpoint::ProfilesUpdate => Limits {
            max_ops: if old { 10_000 } else { 200 },
            max_body_bytes: if old { 64 * MB } else { 8 * MB },
            rates: PROFILES_UPDATE_RATE,
            concurrency: 4,
        },
        Endpoint::ProfilesMassUpdate if old => return None,
        // Two 10,000-operation calls in flight keep 10,000 updates/s busy; more
        // would only hold more batches in memory.
        Endpoint::ProfilesMassUpdate => {
            Limits { max_ops: 10_000, max_body_bytes: 64 * MB, rates: MASS_UPDATE_RATE, concurrency: 2 }
        }
        Endpoint::AudiencesUpdate | Endpoint::AudiencesReplace => {
            Limits { max_ops: 10_000, max_body_bytes: 64 * MB, rates: AUDIENCE_RATE, concurrency: 1 }
        }
        Endpoint::AudiencesCreate | Endpoint::AudiencesRemove => {
            Limits { max_ops: 1, max_body_bytes: MB, rates: AUDIENCE_RATE, concurrency: 1 }
        }
        Endpoint::CatalogItemsEdit => {
            Limits { max_ops: 200, max_body_bytes: 16 * MB, rates: CATALOG_RATE, concurrency: 2 }
        }
        Endpoint::AudiencesList => Limits { max_ops: 100, max_body_bytes: MB, rates: NO_RATE, concurrency: 1 },
        // Rates of the catalog management calls are not documented.
        Endpoint::CatalogsCreate | Endpoint::CatalogsRemove | Endpoint::CatalogsList | Endpoint::CatalogsView => {
            Limits { max_ops: 1, max_body_bytes: MB, rates: NO_RATE, concurrency: 1 }
        }
        Endpoint::AudiencesView
        | Endpoint::ProfilesExport
        | Endpoint::ExportsView
        | Endpoint::ExportsList
        | Endpoint::ExportsDownload => Limits { max_ops: 1, max_body_bytes: MB, rates: NO_RATE, concurrency: 1 },
    };
    Some(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_batch_size_depends_on_version() {
        let v23: Version = "2.3".parse().unwrap();
        assert_eq!(limits(v23, Endpoint::ProfilesUpdate).unwrap().max_ops, 10_000);
        assert_eq!(limits(Version::CURRENT, Endpoint::ProfilesUpdate).unwrap().max_ops, 200);
        assert!(limits(v23, Endpoint::ProfilesMassUpdate).is_none());
        assert_eq!(limits(Version::CURRENT, Endpoint::ProfilesMassUpdate).unwrap().max_ops, 10_000);
    }

    #[test]
    fn versions_parse_and_reject() {
        assert_eq!("2.11".parse::<Version>().unwrap(), Version { major: 2, minor: 11 });
        assert!("1.0".parse::<Version>().is_err());
        assert!("two".parse::<Version>().is_err());
        assert!("2.0".parse::<Version>().is_err());
    }
}
