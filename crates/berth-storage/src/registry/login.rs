//! `login` (credentials checked against the registry, then saved) and
//! `logout`.

use berth_types::{Error, ErrorKind, Result};

use super::auth::{self, Credentials};
use super::client::{chain, use_http};
use super::RegistryOptions;

/// The auth-file key for what the user typed (`https://host:port/` →
/// `host:port`; a namespace after the host is kept).
fn key_of(registry: &str) -> Result<String> {
    let r = registry
        .strip_prefix("https://")
        .or_else(|| registry.strip_prefix("http://"))
        .or_else(|| registry.strip_prefix("docker://"))
        .unwrap_or(registry)
        .trim_end_matches('/');
    let host = r.split('/').next().unwrap_or("");
    let ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    if !ok {
        return Err(Error::invalid(format!("invalid registry {registry:?}")));
    }
    Ok(
        if host == "index.docker.io" || host == "registry-1.docker.io" {
            "docker.io".to_string()
        } else {
            r.to_string()
        },
    )
}

/// Check `creds` against `registry` and save them in the auth file.
/// Returns the key they were saved under.
pub fn login(registry: &str, creds: &Credentials, opts: &RegistryOptions) -> Result<String> {
    let key = check_login(registry, creds, opts)?;
    auth::store(&opts.auth_file(), &key, creds)?;
    Ok(key)
}

/// Check `creds` against `registry` without saving them (the Docker API's
/// `/auth`: the client keeps its own credentials). Returns the auth-file
/// key of the registry.
pub fn check_login(registry: &str, creds: &Credentials, opts: &RegistryOptions) -> Result<String> {
    let key = key_of(registry)?;
    let host = key.split('/').next().unwrap_or(&key).to_string();
    let http = use_http(&host, opts, &opts.conf()?);
    let rt = super::runtime()?;
    rt.block_on(verify(&host, http, creds))?;
    Ok(key)
}

/// Remove the saved credentials of `registry`, or all with `None`.
pub fn logout(registry: Option<&str>, opts: &RegistryOptions) -> Result<()> {
    let key = registry.map(key_of).transpose()?;
    let removed = auth::remove(&opts.auth_file(), key.as_deref())?;
    match key {
        Some(k) if !removed => Err(Error::invalid(format!("not logged into {k}")).with_subject(&k)),
        _ => Ok(()),
    }
}

/// `key="value"` pairs of a `WWW-Authenticate: Bearer ...` challenge.
fn challenge_params(h: &str) -> Vec<(String, String)> {
    let rest = h
        .trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .trim();
    rest.split(',')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((
                k.trim().to_lowercase(),
                v.trim().trim_matches('"').to_string(),
            ))
        })
        .collect()
}

async fn verify(host: &str, http: bool, creds: &Credentials) -> Result<()> {
    let fail = |m: String| Error::new(ErrorKind::Io, format!("logging into {host:?}: {m}"));
    let invalid = || {
        Error::new(
            ErrorKind::InvalidInput,
            format!("logging into {host:?}: invalid username/password"),
        )
        .with_subject(host)
    };
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(30))
        .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| fail(chain(&e)))?;
    let scheme = if http { "http" } else { "https" };
    let res = client
        .get(format!("{scheme}://{host}/v2/"))
        .basic_auth(&creds.username, Some(&creds.password))
        .send()
        .await
        .map_err(|e| fail(chain(&e)))?;
    match res.status().as_u16() {
        200..=299 => return Ok(()),
        401 => {}
        code => return Err(fail(format!("registry answered HTTP {code}"))),
    }
    let challenge = res
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if !challenge.to_ascii_lowercase().starts_with("bearer") {
        return Err(invalid());
    }
    // Token auth: the token service checks the password.
    let params = challenge_params(&challenge);
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let realm = get("realm").ok_or_else(|| fail("bearer challenge without a realm".into()))?;
    let mut query = vec![("account", creds.username.clone())];
    if let Some(s) = get("service") {
        query.push(("service", s));
    }
    let res = client
        .get(&realm)
        .query(&query)
        .basic_auth(&creds.username, Some(&creds.password))
        .send()
        .await
        .map_err(|e| fail(chain(&e)))?;
    match res.status().as_u16() {
        200..=299 => Ok(()),
        401 | 403 => Err(invalid()),
        code => Err(fail(format!("token service answered HTTP {code}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_challenges() {
        assert_eq!(key_of("https://localhost:5000/").unwrap(), "localhost:5000");
        assert_eq!(key_of("quay.io/team").unwrap(), "quay.io/team");
        assert_eq!(key_of("index.docker.io").unwrap(), "docker.io");
        assert!(key_of("a b").is_err());
        assert!(key_of("").is_err());
        let p = challenge_params(r#"Bearer realm="https://auth.example/token",service="reg""#);
        assert_eq!(
            p,
            [
                (
                    "realm".to_string(),
                    "https://auth.example/token".to_string()
                ),
                ("service".to_string(), "reg".to_string())
            ]
        );
    }
}
