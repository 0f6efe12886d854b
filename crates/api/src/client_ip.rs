//! The client's IP address, for per-IP rate limits. Behind a reverse proxy every connection
//! comes from the proxy, so the address it reports in `X-Forwarded-For` is used instead, but
//! only when the connection comes from a proxy we trust: anyone else could write any address
//! there and dodge their limits.

use std::net::IpAddr;
use std::str::FromStr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// `CHIRP_TRUSTED_PROXIES`: IPs or CIDRs, comma-separated.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<IpNet>()
                    .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{p:?} is neither an IP address nor a CIDR"))
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

impl TrustedProxies {
    fn trusts(&self, ip: &IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }

    /// The connection's address or, when it is a trusted proxy, the right-most address in
    /// `X-Forwarded-For` that is not one of our proxies (the left-most entries are whatever the
    /// client chose to send).
    pub fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        if !self.trusts(&peer) {
            return Some(peer);
        }
        let forwarded: Vec<IpAddr> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().parse::<IpAddr>())
            .collect::<Result<_, _>>()
            // A forged or mangled header: fall back to the proxy itself.
            .unwrap_or_default();
        Some(
            forwarded
                .iter()
                .rev()
                .find(|ip| !self.trusts(ip))
                .or(forwarded.first())
                .copied()
                .unwrap_or(peer),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn request(peer: &str, xff: Option<&str>) -> HttpRequest {
        let mut req = TestRequest::default().peer_addr(format!("{peer}:4000").parse().unwrap());
        if let Some(xff) = xff {
            req = req.insert_header(("X-Forwarded-For", xff));
        }
        req.to_http_request()
    }

    #[test]
    fn untrusted_peers_are_the_client_whatever_they_forward() {
        let proxies: TrustedProxies = "".parse().unwrap();
        let ip = proxies.client_ip(&request("203.0.113.9", Some("1.2.3.4")));
        assert_eq!(ip, Some("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_address_is_the_client() {
        let proxies: TrustedProxies = "10.0.0.0/8, 192.168.1.1".parse().unwrap();
        let ip = proxies.client_ip(&request(
            "10.1.2.3",
            Some("6.6.6.6, 198.51.100.7, 192.168.1.1"),
        ));
        assert_eq!(ip, Some("198.51.100.7".parse().unwrap()));
        let garbage = proxies.client_ip(&request("10.1.2.3", Some("not-an-ip")));
        assert_eq!(garbage, Some("10.1.2.3".parse().unwrap()));
    }

    #[test]
    fn bad_proxy_lists_are_refused() {
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("example.com".parse::<TrustedProxies>().is_err());
    }
}
