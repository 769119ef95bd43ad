//! One place that builds the `oci-client` client for a registry (protocol,
//! credentials) and turns its errors into berth's one-line errors.

use berth_types::{Error, ErrorKind, Result};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;

use super::auth::{self, Credentials};
use super::conf::RegistriesConf;
use super::RegistryOptions;
use crate::reference::Reference;

/// Everything needed to talk to one registry.
pub(crate) struct Remote {
    pub client: oci_client::Client,
    pub auth: RegistryAuth,
}

/// The registry host as Podman writes it in messages and auth files.
pub(crate) fn registry_of(r: &Reference) -> &str {
    &r.domain
}

/// Convert berth's normalized reference to oci-client's.
pub(crate) fn oci_ref(r: &Reference) -> oci_client::Reference {
    match (&r.tag, &r.digest) {
        (Some(t), Some(d)) => oci_client::Reference::with_tag_and_digest(
            r.domain.clone(),
            r.path.clone(),
            t.clone(),
            d.clone(),
        ),
        (None, Some(d)) => {
            oci_client::Reference::with_digest(r.domain.clone(), r.path.clone(), d.clone())
        }
        (t, None) => oci_client::Reference::with_tag(
            r.domain.clone(),
            r.path.clone(),
            t.clone().unwrap_or_else(|| "latest".into()),
        ),
    }
}

/// Whether to speak plain HTTP to `registry`: `--tls-verify=false`, or
/// `insecure = true` in registries.conf when the flag is not given.
pub(crate) fn use_http(registry: &str, opts: &RegistryOptions, conf: &RegistriesConf) -> bool {
    match opts.tls_verify {
        Some(v) => !v,
        None => conf.insecure(registry),
    }
}

/// Credentials for `repo`: `--creds`, else the auth file (and, when no
/// auth file was named, `~/.config/containers/auth.json` and then Docker's
/// `~/.docker/config.json`, the order containers-auth.json(5) gives).
pub(crate) fn credentials(repo: &str, opts: &RegistryOptions) -> Result<Option<Credentials>> {
    if let Some(c) = &opts.creds {
        return Ok(Some(c.clone()));
    }
    let file = opts
        .auth_file
        .clone()
        .unwrap_or_else(auth::default_auth_file);
    if let Some(c) = auth::lookup(&file, repo)? {
        return Ok(Some(c));
    }
    if opts.auth_file.is_none() && std::env::var_os("REGISTRY_AUTH_FILE").is_none() {
        if let Some(home) = std::env::var_os("HOME") {
            for file in [".config/containers/auth.json", ".docker/config.json"] {
                let file = std::path::Path::new(&home).join(file);
                if let Ok(Some(c)) = auth::lookup(&file, repo) {
                    return Ok(Some(c));
                }
            }
        }
    }
    Ok(None)
}

/// A client for `r`'s registry with the right protocol and credentials.
pub(crate) fn remote(
    r: &Reference,
    opts: &RegistryOptions,
    conf: &RegistriesConf,
) -> Result<Remote> {
    let registry = registry_of(r);
    let http = use_http(registry, opts, conf);
    let repo = format!("{}/{}", r.domain, r.path);
    let auth = match credentials(&repo, opts)? {
        Some(c) => RegistryAuth::Basic(c.username, c.password),
        None => RegistryAuth::Anonymous,
    };
    let client = build_client(registry, http)?;
    Ok(Remote { client, auth })
}

/// An oci-client client; `http` switches `registry` to plain HTTP.
pub(crate) fn build_client(registry: &str, http: bool) -> Result<oci_client::Client> {
    let protocol = if http {
        // oci-client compares the registry as it resolves it (docker.io
        // becomes index.docker.io), so list both spellings.
        let mut hosts = vec![registry.to_string()];
        if registry == "docker.io" {
            hosts.push("index.docker.io".into());
        }
        ClientProtocol::HttpsExcept(hosts)
    } else {
        ClientProtocol::Https
    };
    let config = ClientConfig {
        protocol,
        // One PUT per blob: blobs are streamed from a file of known size,
        // and chunked PATCHes cost a round trip per chunk.
        use_monolithic_push: true,
        connect_timeout: Some(std::time::Duration::from_secs(30)),
        user_agent: concat!("berth/", env!("CARGO_PKG_VERSION")),
        ..Default::default()
    };
    oci_client::Client::try_from(config).map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            format!("creating registry client: {e}"),
        )
    })
}

/// The whole cause chain of an error on one line (reqwest's own message
/// is only "error sending request for url ...").
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// Turn an oci-client error into berth's, with `what` ("reading manifest
/// latest in localhost:5000/busybox") as context and the registry named.
pub(crate) fn map_err(e: OciDistributionError, what: &str, registry: &str) -> Error {
    use OciDistributionError as E;
    let login_hint = format!("authentication required (log in with `berth login {registry}`)");
    let (kind, msg) = match &e {
        E::UnauthorizedError { .. } => (ErrorKind::InvalidInput, login_hint),
        E::AuthenticationFailure(m) => (
            ErrorKind::InvalidInput,
            format!("authentication failed: {}", m.trim()),
        ),
        E::RegistryError { envelope, .. } => {
            use oci_client::errors::OciErrorCode as C;
            let text: Vec<String> = envelope
                .errors
                .iter()
                .map(|x| x.message.to_lowercase())
                .collect();
            let has = |f: fn(&C) -> bool| envelope.errors.iter().any(|x| f(&x.code));
            if has(|c| matches!(c, C::Unauthorized | C::Denied)) {
                (ErrorKind::InvalidInput, login_hint)
            } else if has(|c| {
                matches!(
                    c,
                    C::ManifestUnknown | C::NameUnknown | C::BlobUnknown | C::NotFound
                )
            }) {
                (ErrorKind::NoSuchImage, text.join("; "))
            } else {
                (ErrorKind::Io, text.join("; "))
            }
        }
        E::ServerError { code, message, .. } => {
            let m = message.trim();
            let kind = if *code == 404 {
                ErrorKind::NoSuchImage
            } else {
                ErrorKind::Io
            };
            let m = if m.is_empty() || m.len() > 200 {
                format!("registry answered HTTP {code}")
            } else {
                format!("registry answered HTTP {code}: {m}")
            };
            (kind, m)
        }
        E::ImageManifestNotFoundError(m) => (ErrorKind::NoSuchImage, m.clone()),
        E::DigestError(d) => (ErrorKind::InvalidInput, format!("digest mismatch: {d}")),
        E::RequestError(r) if r.status().is_some_and(|s| s.as_u16() == 401) => {
            (ErrorKind::InvalidInput, login_hint)
        }
        E::RequestError(r) if r.status().is_some_and(|s| s.as_u16() == 404) => (
            ErrorKind::NoSuchImage,
            format!("registry {registry} answered 404 Not Found"),
        ),
        E::RequestError(r) => {
            let mut m = format!("talking to registry {registry}: {}", chain(r));
            if m.contains("InvalidContentType") {
                m.push_str(" (the registry speaks plain HTTP: use --tls-verify=false)");
            }
            (ErrorKind::Io, m)
        }
        other => (ErrorKind::Io, chain(other)),
    };
    Error::new(kind, format!("{what}: {msg}"))
}
