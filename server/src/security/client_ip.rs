//! The client's address. Behind a reverse proxy the TCP peer is the proxy;
//! the proxy's own header says who its client was. That header is believed
//! only when the peer is one of `trusted_proxies`, and it is read from the
//! right (the hop our proxy added) leftwards, skipping further trusted
//! proxies: the first address that is not a trusted proxy is the client.
//! Anything a client writes into the header itself sits further left and is
//! never reached.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::AppState;

/// Which header the trusted proxies write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1` (nginx, Caddy, HAProxy, Traefik).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client;proto=https, for=proxy1`.
    Forwarded,
}

/// The reverse proxies whose forwarding header is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// From CIDRs (`10.0.0.0/8`) or single addresses (`127.0.0.1`).
    pub fn new(list: &[String], header: ForwardedHeader) -> Result<Self, String> {
        let nets = list
            .iter()
            .map(|s| {
                let s = s.trim();
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map(|n| n.trunc())
                    .map_err(|_| format!("trusted_proxies: {s:?} is not an address or CIDR"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { nets, header })
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The client's address for a request from `peer` with `headers`.
    pub fn client_ip(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer.map(|p| p.to_canonical());
        let Some(p) = peer.filter(|p| self.trusts(*p)) else {
            return peer;
        };
        let hops = match self.header {
            ForwardedHeader::XForwardedFor => header_list(headers, "x-forwarded-for")
                .map(|h| parse_node(&h))
                .collect::<Vec<_>>(),
            ForwardedHeader::Forwarded => header_list(headers, "forwarded")
                .map(|element| {
                    element
                        .split(';')
                        .filter_map(|pair| pair.split_once('='))
                        .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                        .and_then(|(_, v)| parse_node(v))
                })
                .collect(),
        };
        let mut client = p;
        for hop in hops.into_iter().rev() {
            match hop {
                Some(ip) if self.trusts(ip) => client = ip,
                Some(ip) => return Some(ip),
                // Our proxy wrote something that is not an address
                // (`unknown`, an obfuscated name): go no further.
                None => return Some(client),
            }
        }
        Some(client)
    }
}

/// The comma-separated items of every `name` header, in order.
fn header_list<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = String> + 'a {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]:80`, quoted or not.
fn parse_node(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    if let Some(rest) = s.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.starts_with(':')) {
            return None;
        }
        return inside.parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    s.parse::<SocketAddr>().ok().map(|a| a.ip().to_canonical())
}

/// The client's address (see the module docs); `None` when the server was
/// started without connection info (some tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl std::fmt::Display for ClientIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(ip) => ip.fmt(f),
            None => f.write_str("unknown"),
        }
    }
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientIp(state.proxies.client_ip(peer, &parts.headers)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn proxies(header: ForwardedHeader) -> TrustedProxies {
        TrustedProxies::new(&["10.0.0.0/8".into(), "127.0.0.1".into()], header).unwrap()
    }

    #[test]
    fn headers_count_only_from_trusted_peers() {
        let p = proxies(ForwardedHeader::XForwardedFor);
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            p.client_ip(Some(ip("10.1.2.3")), &h),
            Some(ip("203.0.113.9"))
        );
        // A client talking to us directly cannot claim another address.
        assert_eq!(
            p.client_ip(Some(ip("198.51.100.7")), &h),
            Some(ip("198.51.100.7"))
        );
        // Nobody trusted by default.
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_ip(Some(ip("10.1.2.3")), &h),
            Some(ip("10.1.2.3"))
        );
        assert_eq!(p.client_ip(None, &h), None);
    }

    #[test]
    fn read_from_the_right_skipping_trusted_hops() {
        let p = proxies(ForwardedHeader::XForwardedFor);
        // The client forged the first entry; our proxies added the rest.
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1, 203.0.113.9"),
            ("x-forwarded-for", "10.9.9.9"),
        ]);
        assert_eq!(
            p.client_ip(Some(ip("127.0.0.1")), &h),
            Some(ip("203.0.113.9"))
        );
        // Only proxies: the leftmost one is as far as we can see.
        let h = headers(&[("x-forwarded-for", "10.0.0.5, 10.0.0.6")]);
        assert_eq!(p.client_ip(Some(ip("10.0.0.7")), &h), Some(ip("10.0.0.5")));
        // No header at all: the proxy itself.
        assert_eq!(
            p.client_ip(Some(ip("10.0.0.7")), &HeaderMap::new()),
            Some(ip("10.0.0.7"))
        );
        // Garbage where the proxy's hop should be: stop at the proxy.
        let h = headers(&[("x-forwarded-for", "203.0.113.9, nonsense")]);
        assert_eq!(p.client_ip(Some(ip("10.0.0.7")), &h), Some(ip("10.0.0.7")));
        // IPv4-mapped IPv6 peers are their IPv4 address.
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            p.client_ip(Some(ip("::ffff:10.0.0.7")), &h),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn rfc7239_forwarded() {
        let p = proxies(ForwardedHeader::Forwarded);
        let h = headers(&[(
            "forwarded",
            r#"for=1.1.1.1, for="[2001:db8:cafe::17]:4711";proto=https;by=10.0.0.1"#,
        )]);
        assert_eq!(
            p.client_ip(Some(ip("10.0.0.1")), &h),
            Some(ip("2001:db8:cafe::17"))
        );
        let h = headers(&[("forwarded", "for=192.0.2.60:8080;proto=http, For=10.0.0.2")]);
        assert_eq!(
            p.client_ip(Some(ip("10.0.0.1")), &h),
            Some(ip("192.0.2.60"))
        );
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(p.client_ip(Some(ip("10.0.0.1")), &h), Some(ip("10.0.0.1")));
        // The configured header only: X-Forwarded-For is ignored here.
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(p.client_ip(Some(ip("10.0.0.1")), &h), Some(ip("10.0.0.1")));
    }

    #[test]
    fn bad_entries_are_refused_at_start() {
        assert!(TrustedProxies::new(&["10.0.0.0/33".into()], ForwardedHeader::default()).is_err());
        assert!(TrustedProxies::new(&["proxy.local".into()], ForwardedHeader::default()).is_err());
        let p = TrustedProxies::new(&["2001:db8::/32".into()], ForwardedHeader::default()).unwrap();
        assert!(p.trusts(ip("2001:db8::1")));
    }
}
