//! Network rules: which addresses count as internal (the SSRF guard of
//! webhooks, checked when a subscription is created and again at each
//! delivery), what a webhook target may be, and who the client of a request
//! is behind trusted proxies.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::DomainError;

/// Private, loopback, link-local, unspecified, broadcast, multicast, CGNAT
/// and "this network" addresses, in every IPv6 form that reaches an IPv4
/// one (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64
/// `64:ff9b::/96`).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (v6.segments()[0] & 0xfe00) == 0xfc00 // unique local
                || (v6.segments()[0] & 0xffc0) == 0xfe80 // link local
                || embedded_v4(v6).is_some_and(is_internal_v4)
        }
    }
}

fn is_internal_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    v4.is_private()
        || v4.is_loopback()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || (a == 100 && (b & 0xc0) == 64) // CGNAT 100.64/10
        || a == 0
}

/// The IPv4 address an IPv6 one stands for, when it does: IPv4-mapped
/// (`::ffff:0:0/96`), IPv4-compatible (`::/96`, deprecated but still routed
/// by some stacks) and NAT64 (`64:ff9b::/96`, RFC 6052).
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let compatible = s[..6].iter().all(|&x| x == 0);
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|&x| x == 0);
    (compatible || nat64).then_some(tail)
}

/// A webhook subscription's URL, checked when it is created: http or https,
/// a host, a valid port, at most 2,048 characters, no credentials. Unless
/// `allow_private`, a literal internal address or a `localhost` name is
/// refused here; names are resolved, and their addresses vetted, at each
/// delivery (DNS answers change).
pub fn check_webhook_url(raw: &str, allow_private: bool) -> Result<url::Url, DomainError> {
    let err = |m: &str| DomainError::new("url", m);
    if raw.len() > 2048 || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(err(
            "must be an http(s) URL of at most 2,048 characters without spaces",
        ));
    }
    let lower = raw.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(|| err("must start with http:// or https://"))?;
    // The URL standard reads `http:///x` as host `x`; a person meant no host.
    if rest.is_empty() || rest.starts_with(['/', '\\', '?', '#', ':']) {
        return Err(err("must name a host"));
    }
    let url = url::Url::parse(raw).map_err(|e| match e {
        url::ParseError::InvalidPort => err("has an invalid port (1 to 65535)"),
        url::ParseError::EmptyHost => err("must name a host"),
        other => err(&format!("is not a valid URL ({other})")),
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(err(
            "must not carry credentials; the signature authenticates deliveries",
        ));
    }
    if url.port() == Some(0) {
        return Err(err("has an invalid port (1 to 65535)"));
    }
    let internal = match url.host() {
        None => return Err(err("must name a host")),
        Some(url::Host::Ipv4(v4)) => is_internal(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => is_internal(IpAddr::V6(v6)),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.');
            name == "localhost" || name.ends_with(".localhost")
        }
    };
    if internal && !allow_private {
        return Err(err("targets a private, loopback or link-local address; \
             set PRESSWORK__WORKER__WEBHOOKS_ALLOW_PRIVATE_TARGETS to allow it"));
    }
    Ok(url)
}

/// The proxies whose forwarding headers are believed (`http.trusted_proxies`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Each entry an address or a CIDR block.
    pub fn parse(entries: &[String]) -> Result<Self, DomainError> {
        entries
            .iter()
            .map(|e| {
                let e = e.trim();
                e.parse::<IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        DomainError::new(
                            "trusted_proxies",
                            format!("'{e}' is neither an address nor a CIDR block"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request that reached us from `peer`, given its
    /// forwarding headers (all `Forwarded` values, then all `X-Forwarded-For`
    /// values, in the order received). Unless the peer is trusted, the
    /// headers are ignored (anyone can send them). Otherwise the chain of
    /// addresses is walked from the right, past every trusted proxy; the
    /// first address not trusted is the client. `Forwarded` (RFC 7239) wins
    /// over `X-Forwarded-For` when both are present; an unreadable entry
    /// stops the walk at the last address known good.
    pub fn client(&self, peer: IpAddr, forwarded: &[&str], x_forwarded_for: &[&str]) -> Hop {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return Hop {
                client: peer,
                via_trusted_proxy: false,
            };
        }
        let chain: Vec<Option<IpAddr>> = if forwarded.iter().any(|v| !v.trim().is_empty()) {
            forwarded
                .iter()
                .flat_map(|v| v.split(','))
                .map(forwarded_for)
                .collect()
        } else {
            x_forwarded_for
                .iter()
                .flat_map(|v| v.split(','))
                .map(|s| parse_node(s.trim()))
                .collect()
        };
        let mut client = peer;
        for hop in chain.into_iter().rev() {
            let Some(ip) = hop else { break };
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        Hop {
            client,
            via_trusted_proxy: true,
        }
    }
}

/// Who sent a request, and whether a trusted proxy said so (only then are
/// `X-Forwarded-Proto` and `Forwarded: proto=` believed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hop {
    pub client: IpAddr,
    pub via_trusted_proxy: bool,
}

/// `::ffff:a.b.c.d` is the IPv4 client of a dual-stack socket.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The `for=` of one `Forwarded` element (`for=192.0.2.1;proto=https`,
/// `for="[2001:db8::1]:4711"`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("for")
            .then(|| parse_node(v.trim().trim_matches('"')))
            .flatten()
    })
}

/// An address with an optional port: `192.0.2.1`, `192.0.2.1:80`,
/// `2001:db8::1`, `[2001:db8::1]:80`.
fn parse_node(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok().map(canonical);
    }
    let (host, _port) = s.rsplit_once(':')?;
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The scheme a trusted proxy says the client used (`Forwarded: proto=`,
/// else `X-Forwarded-Proto`), from the element nearest to us.
pub fn forwarded_proto<'a>(
    forwarded: &[&'a str],
    x_forwarded_proto: &[&'a str],
) -> Option<&'a str> {
    let from_forwarded = forwarded
        .iter()
        .flat_map(|v| v.split(','))
        .rev()
        .find_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("proto")
                    .then(|| v.trim().trim_matches('"'))
            })
        });
    from_forwarded.or_else(|| {
        x_forwarded_proto
            .iter()
            .flat_map(|v| v.split(','))
            .next_back()
            .map(str::trim)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_addresses_in_every_ipv6_disguise() {
        for s in [
            "10.0.0.1",
            "127.0.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "::10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(is_internal(ip(s)), "{s}");
        }
        for s in [
            "93.184.216.34",
            "2606:4700::1111",
            "64:ff9b::5db8:d822",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_internal(ip(s)), "{s}");
        }
    }

    #[test]
    fn webhook_urls() {
        assert!(check_webhook_url("https://hooks.example.com/x?y=1", false).is_ok());
        assert!(check_webhook_url("http://hooks.example.com:8080/", false).is_ok());
        for (bad, says) in [
            ("http:///nohost", "host"),
            ("https://", "host"),
            ("http://example.com:99999/", "port"),
            ("http://example.com:0/", "port"),
            ("ftp://example.com/", "http"),
            ("example.com/hook", "http"),
            ("http://user:pw@example.com/", "credentials"),
            ("http://127.0.0.1/", "private"),
            ("http://[::1]:8080/", "private"),
            ("http://[::ffff:10.0.0.1]/", "private"),
            ("http://[64:ff9b::a00:1]/", "private"),
            ("http://localhost:9000/", "private"),
            ("http://api.localhost/", "private"),
            ("http://169.254.169.254/latest/meta-data", "private"),
        ] {
            let e = check_webhook_url(bad, false).unwrap_err();
            assert_eq!(e.field, "url");
            assert!(e.message.contains(says), "{bad}: {}", e.message);
        }
        assert!(check_webhook_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(check_webhook_url("http:///nohost", true).is_err());
    }

    #[test]
    fn client_address_behind_proxies() {
        let none = TrustedProxies::default();
        let lb = TrustedProxies::parse(&["10.0.0.0/8".into(), "2001:db8::/32".into()]).unwrap();
        // Direct client: the peer, whatever it claims.
        let hop = none.client(ip("203.0.113.9"), &[], &["1.2.3.4"]);
        assert_eq!(hop.client, ip("203.0.113.9"));
        assert!(!hop.via_trusted_proxy);
        // Spoofed header from an untrusted peer: ignored.
        let hop = lb.client(ip("203.0.113.9"), &["for=1.2.3.4"], &["1.2.3.4"]);
        assert_eq!(hop.client, ip("203.0.113.9"));
        // One trusted hop.
        let hop = lb.client(ip("10.0.0.2"), &[], &["198.51.100.7"]);
        assert_eq!(
            hop,
            Hop {
                client: ip("198.51.100.7"),
                via_trusted_proxy: true
            }
        );
        // Two trusted hops, and a client-supplied spoof on the left.
        let hop = lb.client(ip("10.0.0.2"), &[], &["6.6.6.6, 198.51.100.7", "10.0.0.3"]);
        assert_eq!(hop.client, ip("198.51.100.7"));
        // RFC 7239, IPv6 with a port, quoted.
        let hop = lb.client(
            ip("2001:db8::5"),
            &["for=192.0.2.60;proto=http, for=\"[2001:db9:cafe::17]:4711\""],
            &["9.9.9.9"],
        );
        assert_eq!(hop.client, ip("2001:db9:cafe::17"));
        // Everyone trusted: the left-most address.
        let hop = lb.client(ip("10.0.0.2"), &[], &["10.1.1.1, 10.2.2.2"]);
        assert_eq!(hop.client, ip("10.1.1.1"));
        // Garbage stops the walk at the last good address.
        let hop = lb.client(ip("10.0.0.2"), &[], &["198.51.100.7, garbage"]);
        assert_eq!(hop.client, ip("10.0.0.2"));
        // A dual-stack socket's mapped peer.
        let hop = lb.client(ip("::ffff:10.0.0.2"), &[], &["198.51.100.7:5555"]);
        assert_eq!(hop.client, ip("198.51.100.7"));
        assert!(TrustedProxies::parse(&["not-an-ip".into()]).is_err());
    }

    #[test]
    fn proto_from_the_nearest_element() {
        assert_eq!(
            forwarded_proto(&["for=1.2.3.4;proto=https"], &["http"]),
            Some("https")
        );
        assert_eq!(forwarded_proto(&[], &["http, https"]), Some("https"));
        assert_eq!(forwarded_proto(&[], &[]), None);
    }
}
