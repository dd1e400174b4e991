//! Where deliveries may go. A tenant names the URL, so a tenant could name
//! the host's own network (a metadata service, an admin port): URLs must
//! be https, on an allowed port (443), to a public dotted name or public
//! address; every address a name resolves to is checked at connection time
//! (so a name that later resolves inward is refused too); redirects are not
//! followed; and a failure reads the same whatever stopped it, so the log
//! does not map the host's network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// How webhooks are delivered ([`crate::FaceGateBuilder::webhooks`]).
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// How long a receiver has to answer. Default 10 s.
    pub timeout: Duration,
    /// The wait before the first retry; each later one waits twice the one
    /// before, up to `max_backoff`. Default 30 s.
    pub first_backoff: Duration,
    /// Default 1 h.
    pub max_backoff: Duration,
    /// Deliveries still failing this long after their event are given up.
    /// Default 24 h.
    pub give_up_after: Duration,
    /// How often a worker looks for due deliveries besides being woken by
    /// its own instance's events (those of other instances, retries).
    /// Default 5 s.
    pub poll_every: Duration,
    /// Endpoints a tenant may register. Default 16. Each endpoint has at
    /// most one delivery in flight, so a tenant holds at most this many of
    /// an instance's `max_in_flight`.
    pub max_endpoints: u32,
    /// The ports endpoints may use. Default 443 only: a tenant must not
    /// reach the host's own ports that are closed only from outside.
    pub allowed_ports: Vec<u16>,
    /// Deliveries this instance sends at once. Default 64.
    pub max_in_flight: usize,
    /// Whether this instance runs the delivery worker. Default true; a host
    /// may deliver from some instances only (the others only queue).
    pub worker: bool,
    allow_private_targets: bool,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            first_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(24 * 3600),
            poll_every: Duration::from_secs(5),
            max_endpoints: 16,
            allowed_ports: vec![443],
            max_in_flight: 64,
            worker: true,
            allow_private_targets: false,
        }
    }
}

impl WebhookConfig {
    /// Lets endpoints be `http`, on any port, and on loopback or private
    /// addresses: for development and tests on one machine, never for a
    /// host whose tenants are not its own.
    pub fn danger_allow_private_targets(mut self) -> Self {
        self.allow_private_targets = true;
        self
    }

    /// Checks a URL a tenant registers: absolute, `https` (or `http` with
    /// private targets allowed), no credentials, not a private address.
    pub(crate) fn check_url(&self, url: &str) -> Result<reqwest::Url, &'static str> {
        if url.len() > 2048 {
            return Err("at most 2048 characters");
        }
        let parsed = reqwest::Url::parse(url).map_err(|_| "not an absolute URL")?;
        match parsed.scheme() {
            "https" => {}
            "http" if self.allow_private_targets => {}
            _ => return Err("must be https"),
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err("must not carry credentials");
        }
        if !self.allow_private_targets {
            if !target_is_public(&parsed) {
                return Err("must be a public host, not a private or local address");
            }
            let port = parsed.port_or_known_default().unwrap_or(0);
            if !self.allowed_ports.contains(&port) {
                return Err("must use an allowed port (443 unless the host allows others)");
            }
        }
        Ok(parsed)
    }

    /// The client deliveries go out with.
    pub(crate) fn client(&self) -> Result<reqwest::Client, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("facegate-webhooks/", env!("CARGO_PKG_VERSION")));
        if !self.allow_private_targets {
            builder = builder.dns_resolver(Arc::new(PublicOnly)).https_only(true);
        }
        builder.build()
    }

    /// Whether a delivery may go to `url` now (an address literal is not
    /// resolved, so the resolver cannot check it).
    pub(crate) fn may_send_to(&self, url: &reqwest::Url) -> bool {
        self.allow_private_targets
            || (target_is_public(url)
                && url
                    .port_or_known_default()
                    .is_some_and(|port| self.allowed_ports.contains(&port)))
    }
}

/// The URL's host, if it is an address literal, is public; a name is not
/// one of the names that mean this machine or its network.
fn target_is_public(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => is_public(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_public(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            // A single label (`redis`) is a name on the host's own network.
            name.contains('.')
                && ![
                    ".localhost",
                    ".local",
                    ".internal",
                    ".localdomain",
                    ".lan",
                    ".home.arpa",
                ]
                .iter()
                .any(|suffix| name.ends_with(suffix))
        }
        None => false,
    }
}

/// Whether an address is on the public internet: not loopback, private,
/// link-local (cloud metadata lives there), shared, reserved or multicast.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

/// Global unicast (2000::/3) only, less the ranges in it that tunnel to
/// IPv4 or are not routed: every mapped, compatible, NAT64, site-local or
/// unique-local form falls outside 2000::/3.
fn is_public_v6(ip: Ipv6Addr) -> bool {
    let [first, second, ..] = ip.segments();
    (first & 0xe000) == 0x2000
        && !(first == 0x2001 && second == 0x0db8) // documentation
        && !(first == 0x2001 && second < 0x0200) // Teredo, benchmarking, ORCHID…
        && first != 0x2002 // 6to4 reaches IPv4 inside
}

/// A transport error in a sentence. The causes are left out on purpose:
/// "refused", "no such name" and "not a public address" told apart would
/// let a tenant map the host's network through the delivery log.
pub(crate) fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".to_owned()
    } else if err.is_connect() {
        "could not connect (refused, unreachable, or not a public address)".to_owned()
    } else {
        "could not send".to_owned()
    }
}

/// A resolver that answers only with public addresses.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| is_public(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_local_targets_are_refused() {
        let config = WebhookConfig::default();
        for url in [
            "http://hooks.example.com/x",
            "https://hooks.example.com:8080/x",
            "https://redis/x",
            "https://[::127.0.0.1]/x",
            "https://[2002:7f00:1::1]/x",
            "https://[2001:0:4136:e378::1]/x",
            "https://[fec0::1]/x",
            "https://[64:ff9b::a9fe:a9fe]/x",
            "https://2130706433/x",
            "https://0x7f.1/x",
            "https://0/x",
            "https://127.0.0.1/x",
            "https://10.0.0.8/x",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://[fd00::1]/x",
            "https://100.64.0.1/x",
            "https://localhost/x",
            "https://admin.internal/x",
            "https://user:pass@hooks.example.com/x",
            "ftp://hooks.example.com/x",
            "/relative",
        ] {
            assert!(config.check_url(url).is_err(), "{url}");
        }
        for url in [
            "https://hooks.example.com/facegate",
            "https://8.8.8.8/x",
            "https://[2606:4700::1111]/x",
        ] {
            assert!(config.check_url(url).is_ok(), "{url}");
        }
        let dev = WebhookConfig::default().danger_allow_private_targets();
        assert!(dev.may_send_to(&"http://127.0.0.1/".parse().unwrap()));
        assert!(!config.may_send_to(&"https://127.0.0.1/".parse().unwrap()));
        assert!(dev.check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(dev.check_url("ftp://127.0.0.1/hook").is_err());
    }

    /// A public-looking name that resolves to this machine is refused when
    /// connecting (DNS rebinding), with the reason in the delivery log.
    #[tokio::test]
    async fn names_resolving_inward_are_refused_at_connection() {
        use reqwest::dns::Resolve as _;
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let refused = PublicOnly.resolve(name).await.err().unwrap();
        assert!(
            refused.to_string().contains("no public address"),
            "{refused}"
        );
        let client = WebhookConfig::default().client().unwrap();
        let sent = client
            .post("https://localhost:9/hook")
            .send()
            .await
            .unwrap_err();
        // The log says no more than this, whatever the reason.
        assert_eq!(
            describe(&sent),
            "could not connect (refused, unreachable, or not a public address)"
        );
    }
}
