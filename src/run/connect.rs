//! Getting a job connected: keys from the environment (checked before any file
//! is read), the in-process emulator for `base_url = "emulator"`, the client,
//! and the import's sender over the run's retry driver.

use crate::api::client::{Client, Credentials};
use crate::dispatch::Driver;
use crate::dispatch::replace::Replace;
use crate::dispatch::send::{SendStats, Sender};
#[cfg(feature = "emulator")]
use crate::emulator::{Emulator, EmulatorConfig};
use crate::exit::UsageError;
use crate::facade::Keys;
use crate::job::{BaseUrl, Job, Mapping};
use anyhow::Result;
use std::collections::HashMap;
use std::sync::Arc;

/// The client of one run, and the emulator it talks to when the job says so.
pub struct Connection {
    pub client: Client,
    /// Kept alive for the run when the job talks to the in-process emulator.
    #[cfg(feature = "emulator")]
    _emulator: Option<Emulator>,
}

impl Connection {
    /// Keys, then the emulator if asked for, then the client.
    /// `keys`: given by the caller; `None`: from the environment variables the job names.
    pub async fn open(job: &Job, keys: Option<&Keys>) -> Result<Connection> {
        let key = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let given = |k: &str| Some(k.to_string()).filter(|v| !v.trim().is_empty());
        let (rest, project) = match keys {
            Some(k) => (given(&k.rest_key), given(&k.project_key)),
            None => (key(&job.api.rest_key_env), key(&job.api.project_key_env)),
        };
        let (base, creds, emulator) = match &job.api.base_url {
            #[cfg(feature = "emulator")]
            BaseUrl::Emulator => {
                let defaults = EmulatorConfig::default();
                // The in-process emulator lives and dies with this run: it
                // takes its own keys, so a user's real keys in the environment
                // are neither needed nor sent anywhere.
                let creds =
                    Credentials { rest_key: defaults.rest_key.clone(), project_key: defaults.project_key.clone() };
                let emu = Emulator::start(defaults, ([127, 0, 0, 1], 0).into()).await?;
                (emu.base_url(), creds, Some(emu))
            }
            #[cfg(not(feature = "emulator"))]
            BaseUrl::Emulator => {
                return Err(UsageError(format!(
                    "{}: base_url = \"emulator\" needs a batchport built with the `emulator` feature",
                    job.file.display()
                ))
                .into());
            }
            BaseUrl::Url(u) => {
                let missing: Vec<&str> = [(&rest, &job.api.rest_key_env), (&project, &job.api.project_key_env)]
                    .into_iter()
                    .filter(|(v, _)| v.is_none())
                    .map(|(_, n)| n.as_str())
                    .collect();
                if !missing.is_empty() {
                    return Err(UsageError(format!(
                        "{}: set {} in the environment (the Batch REST API key and project key; keys never go in job files or flags)",
                        job.file.display(),
                        missing.join(" and ")
                    ))
                    .into());
                }
                let creds =
                    Credentials { rest_key: rest.unwrap_or_default(), project_key: project.unwrap_or_default() };
                (u.clone(), creds, None)
            }
        };
        let client = Client::new(&base, job.api.version, creds)?;
        #[cfg(feature = "emulator")]
        return Ok(Connection { client, _emulator: emulator });
        #[cfg(not(feature = "emulator"))]
        {
            let () = emulator.unwrap_or(());
            Ok(Connection { client })
        }
    }

    /// The sender of an import's batches, its requests driven by `driver`.
    pub fn sender(&self, job: &Job, hold_unknown: bool, stats: Arc<SendStats>, driver: Driver) -> Sender {
        Sender {
            client: self.client.clone(),
            driver,
            endpoint: job.api.endpoint,
            kind: crate::engine::body_kind(job),
            hold_unknown,
            columns: Arc::new(attribute_columns(job)),
            stats,
            replace: Replace::new(
                matches!(&job.mapping, Mapping::Audience(a) if a.mode == crate::job::AudienceMode::Replace),
            ),
        }
    }
}

/// Batch attribute name → source column, so API errors name the CSV column.
fn attribute_columns(job: &Job) -> HashMap<String, String> {
    let mut m = HashMap::new();
    let (natives, attrs): (&[crate::job::NativeMap], Vec<&crate::job::AttrMap>) = match &job.mapping {
        Mapping::Profiles(p) => (&p.native, p.attributes.iter().collect()),
        Mapping::Events(e) => (&e.profile.native, e.profile.attributes.iter().chain(&e.attributes).collect()),
        Mapping::Audience(a) => (&[], a.attributes.iter().collect()),
        Mapping::Catalog(c) => (&[], c.attributes.iter().collect()),
        Mapping::Export(_) => (&[], Vec::new()),
    };
    for n in natives {
        m.insert(n.kind.wire_name().to_string(), n.column.name.clone());
    }
    for a in attrs {
        m.insert(a.wire_name.clone(), a.column.name.clone());
        m.insert(a.name.clone(), a.column.name.clone());
    }
    m
}
