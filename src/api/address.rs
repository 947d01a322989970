//! The client's address. It is the TCP peer, unless the peer is one of `--trusted-proxies`:
//! then it is the rightmost `X-Forwarded-For` hop that is not itself a trusted proxy. Hops to
//! the left of it were written by the client and prove nothing, so they are never read.

use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use warp::http::HeaderMap;

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    proxies.iter().any(|n| n.contains(&ip))
}

/// One hop of `X-Forwarded-For`: an address, or an address with a port as some proxies write.
fn hop(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    s.parse::<IpAddr>()
        .or_else(|_| s.parse::<SocketAddr>().map(|a| a.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The client behind a request from `peer`. A malformed header counts as no header: the
/// client is then the proxy itself. When every hop is a trusted proxy, the leftmost is it.
pub fn client(peer: IpAddr, headers: &HeaderMap, proxies: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted(peer, proxies) {
        return peer;
    }
    // Several headers form one list, in order.
    let mut hops = Vec::new();
    for v in headers.get_all("x-forwarded-for") {
        let Ok(text) = v.to_str() else {
            return peer;
        };
        for part in text.split(',') {
            match hop(part) {
                Some(ip) => hops.push(ip),
                None => return peer,
            }
        }
    }
    let mut client = peer;
    for ip in hops.into_iter().rev() {
        client = ip;
        if !trusted(ip, proxies) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::HeaderValue;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let h = headers(&["203.0.113.5"]);
        assert_eq!(client(ip("198.51.100.1"), &h, &[]), ip("198.51.100.1"));
        let proxies = nets(&["10.0.0.0/8"]);
        assert_eq!(client(ip("198.51.100.1"), &h, &proxies), ip("198.51.100.1"));
    }

    #[test]
    fn a_trusted_proxy_names_the_rightmost_untrusted_hop() {
        let proxies = nets(&["10.0.0.0/8", "fd00::/8"]);
        let peer = ip("10.0.0.2");
        // The client's own claim (1.1.1.1) is left of the hop the proxy saw.
        let h = headers(&["1.1.1.1, 203.0.113.5, 10.0.0.7"]);
        assert_eq!(client(peer, &h, &proxies), ip("203.0.113.5"));
        // Several headers are one list.
        let h = headers(&["1.1.1.1", "203.0.113.6"]);
        assert_eq!(client(peer, &h, &proxies), ip("203.0.113.6"));
        // Ports and IPv6 in brackets, as some proxies write them.
        let h = headers(&["203.0.113.7:4711"]);
        assert_eq!(client(peer, &h, &proxies), ip("203.0.113.7"));
        let h = headers(&["[2001:db8::1]:443"]);
        assert_eq!(client(peer, &h, &proxies), ip("2001:db8::1"));
        // No header: the proxy itself. Every hop trusted: the leftmost.
        assert_eq!(client(peer, &headers(&[]), &proxies), peer);
        let h = headers(&["10.1.1.1, 10.2.2.2"]);
        assert_eq!(client(peer, &h, &proxies), ip("10.1.1.1"));
    }

    #[test]
    fn a_malformed_header_counts_as_none() {
        let proxies = nets(&["127.0.0.1/32"]);
        let peer = ip("127.0.0.1");
        for bad in ["not-an-ip", "203.0.113.5,,", "203.0.113.5, unknown", ""] {
            assert_eq!(client(peer, &headers(&[bad]), &proxies), peer, "{bad:?}");
        }
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_proxies() {
        let proxies = nets(&["127.0.0.1/32"]);
        let h = headers(&["203.0.113.5"]);
        assert_eq!(
            client(ip("::ffff:127.0.0.1"), &h, &proxies),
            ip("203.0.113.5")
        );
    }
}
