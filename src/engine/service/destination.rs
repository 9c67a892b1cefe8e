//! Where a run sends: the base URL, the project (a hash of its key, never the
//! key) and the endpoint. Runs, per-file import records, the change index and
//! the event index are all kept per destination, so that rehearsing against
//! the emulator or a staging project and then going live sends everything
//! again: a different destination is a different history.

use batchport_transform::job::{BaseUrl, Job, Mapping};

/// One destination: its readable text (shown by `status`) and the short
/// stable key the store's indexes are kept under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Destination {
    /// e.g. `https://api.batch.com 2.9 project#1f0c9a2e7d4b6a11 /profiles/update`.
    pub(crate) text: String,
}

impl Destination {
    /// The destination of `job` sending with `project_key`. The in-process
    /// emulator (`base_url = "emulator"`) is one destination whatever port it
    /// gets: it starts empty each time, which a new history would not fix.
    pub(crate) fn of(job: &Job, project_key: &str) -> Destination {
        let base = match &job.api.base_url {
            BaseUrl::Emulator => "emulator".to_string(),
            BaseUrl::Url(u) => u.trim_end_matches('/').to_string(),
        };
        let project = xxhash_rust::xxh3::xxh3_64(format!("batchport project key\0{project_key}").as_bytes());
        let target = match &job.mapping {
            Mapping::Audience(a) => format!(" audience={}", a.name),
            Mapping::Catalog(c) => format!(" catalog={}", c.name),
            _ => String::new(),
        };
        Destination {
            text: format!("{base} {} project#{project:016x} {}{target}", job.api.version, job.api.endpoint.path()),
        }
    }

    /// The key the per-destination indexes of one job are kept under.
    pub(crate) fn scope(&self, job: &str) -> String {
        batchport_state::scope(job, &self.text)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_key_is_never_in_the_text() {
        let job = batchport_transform::job::parse(
            "[job]\nname = \"j\"\nkind = \"profiles\"\n[api]\nbase_url = \"https://api.example.com/\"\n[source]\npath = \"a.csv\"\n[mapping]\ncustom_id = \"id\"\n[mapping.attributes]\nplan = \"plan\"\n",
            std::path::Path::new("job.toml"),
        )
        .unwrap();
        let a = super::Destination::of(&job, "secret_project_key");
        let b = super::Destination::of(&job, "other_project_key");
        assert!(!a.text.contains("secret"), "{}", a.text);
        assert!(a.text.starts_with("https://api.example.com "), "{}", a.text);
        assert_ne!(a, b);
        assert_ne!(a.scope("j"), b.scope("j"));
        assert_eq!(a.scope("j"), super::Destination::of(&job, "secret_project_key").scope("j"));
    }
}
