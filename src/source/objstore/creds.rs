//! Credentials: each cloud's standard chain, never the job file. For S3 the
//! chain is the AWS CLI's: environment (`AWS_ACCESS_KEY_ID`...), web identity
//! (EKS IRSA), container credentials (ECS), the profile files
//! (`AWS_PROFILE`, `~/.aws/credentials`, `~/.aws/config`; `object_store`
//! does not read them, so they are read here), then the instance metadata
//! service. When `AWS_EC2_METADATA_DISABLED=true` rules that last one out
//! and nothing else gave keys, the run stops at once with a clear error
//! instead of asking a metadata service that is not there. GCS and Azure
//! chains are `object_store`'s own (environment, service account files,
//! gcloud application default credentials, workload and managed identity).

use std::collections::HashMap;
use std::path::PathBuf;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey as K};

/// No credentials anywhere in the chain (exit 2: the setup is wrong, not the data).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NoCredentials(pub(crate) String);

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Complete `b` (built from the environment) with profile-file keys, or say
/// that there are none.
pub(crate) fn aws(b: AmazonS3Builder) -> Result<AmazonS3Builder, NoCredentials> {
    let has = |k: K| b.get_config_value(&k).is_some_and(|v| !v.is_empty());
    let skip = b.get_config_value(&K::SkipSignature).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if skip
        || (has(K::AccessKeyId) && has(K::SecretAccessKey))
        || (has(K::WebIdentityTokenFile) && has(K::RoleArn))
        || has(K::ContainerCredentialsRelativeUri)
        || has(K::ContainerCredentialsFullUri)
    {
        return Ok(b);
    }
    let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".to_string());
    let found = aws_profile(&profile);
    if let Some(keys) = found.keys {
        let region_set = has(K::Region) || has(K::DefaultRegion);
        let mut b = b.with_access_key_id(keys.id).with_secret_access_key(keys.secret);
        if let Some(t) = keys.token {
            b = b.with_token(t);
        }
        if let (false, Some(r)) = (region_set, found.region) {
            b = b.with_region(r);
        }
        return Ok(b);
    }
    let no_imds = env("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if no_imds {
        return Err(NoCredentials(format!(
            "no AWS credentials: none in the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
             AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, AWS_CONTAINER_CREDENTIALS_*), none for profile \
             `{profile}` in {}, and the instance metadata service is ruled out by AWS_EC2_METADATA_DISABLED=true \
             (credentials never go in the job file)",
            found.searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" or ")
        )));
    }
    // The last link of the chain: the instance's role (object_store asks IMDSv2).
    Ok(b)
}

struct Keys {
    id: String,
    secret: String,
    token: Option<String>,
}

struct Found {
    keys: Option<Keys>,
    region: Option<String>,
    searched: Vec<PathBuf>,
}

/// Keys and region of `profile` from the shared credentials and config files
/// (the credentials file wins, as in the AWS CLI).
fn aws_profile(profile: &str) -> Found {
    let home = env("HOME").map(PathBuf::from);
    let in_home = |rel: &str| home.as_ref().map(|h| h.join(rel));
    let creds_file = env("AWS_SHARED_CREDENTIALS_FILE").map(PathBuf::from).or_else(|| in_home(".aws/credentials"));
    let config_file = env("AWS_CONFIG_FILE").map(PathBuf::from).or_else(|| in_home(".aws/config"));
    let searched: Vec<PathBuf> = creds_file.iter().chain(config_file.iter()).cloned().collect();
    let read = |p: &Option<PathBuf>, section: &str| {
        p.as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|text| ini_section(&text, section))
            .unwrap_or_default()
    };
    let from_creds = read(&creds_file, profile);
    let config_section = if profile == "default" { "default".to_string() } else { format!("profile {profile}") };
    let from_config = read(&config_file, &config_section);
    let get = |k: &str| from_creds.get(k).or_else(|| from_config.get(k)).cloned();
    let keys = match (get("aws_access_key_id"), get("aws_secret_access_key")) {
        (Some(id), Some(secret)) => Some(Keys { id, secret, token: get("aws_session_token") }),
        _ => None,
    };
    Found { keys, region: from_config.get("region").cloned(), searched }
}

/// The `key = value` pairs of `[section]` in an INI file, or `None` without it.
fn ini_section(text: &str, section: &str) -> Option<HashMap<String, String>> {
    let mut inside = false;
    let mut found = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.trim() == section;
            if inside {
                found.get_or_insert_with(HashMap::new);
            }
            continue;
        }
        if let (true, Some((k, v))) = (inside, line.split_once('=')) {
            found.get_or_insert_with(HashMap::new).insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::ini_section;

    #[test]
    fn profile_sections_are_read_as_the_aws_cli_does() {
        let text = "[default]\naws_access_key_id = AKIA1\naws_secret_access_key=s1\n\n\
                    # comment\n[profile nightly]\nregion = eu-west-3\nAWS_ACCESS_KEY_ID = AKIA2\n";
        let d = ini_section(text, "default").unwrap();
        assert_eq!(d["aws_access_key_id"], "AKIA1");
        assert_eq!(d["aws_secret_access_key"], "s1");
        let n = ini_section(text, "profile nightly").unwrap();
        assert_eq!(n["region"], "eu-west-3");
        assert_eq!(n["aws_access_key_id"], "AKIA2");
        assert!(ini_section(text, "other").is_none());
    }
}
