//! Getting a job connected: keys from the environment (checked before any file
//! is read), the in-process emulator for `base_url = "emulator"`, the client,
//! and the import's sender over the run's retry driver.

use super::Keys;
use crate::status::UsageError;
use anyhow::Result;
use batchport_api::client::{Client, Credentials};
#[cfg(feature = "emulator")]
use batchport_emulator::{Emulator, EmulatorConfig};
use batchport_transform::job::{BaseUrl, Job};

/// The client of one run, and the emulator it talks to when the job says so.
pub(crate) struct Connection {
    /// The client every request of the run goes through.
    pub(crate) client: Client,
    /// Where this run sends (a hash of the project key, never the key).
    pub(crate) destination: super::Destination,
    /// Kept alive for the run when the job talks to the in-process emulator.
    #[cfg(feature = "emulator")]
    _emulator: Option<Emulator>,
}

impl Connection {
    /// Keys, then the emulator if asked for, then the client.
    /// `keys`: given by the caller; `None`: from the environment variables the job names.
    pub(crate) async fn open(job: &Job, keys: Option<&Keys>) -> Result<Connection> {
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
        let destination = super::Destination::of(job, &creds.project_key);
        let client = Client::new(&base, job.api.version, creds)?;
        #[cfg(feature = "emulator")]
        return Ok(Connection { client, destination, _emulator: emulator });
        #[cfg(not(feature = "emulator"))]
        {
            let () = emulator.unwrap_or(());
            Ok(Connection { client, destination })
        }
    }
}
