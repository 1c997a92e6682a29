//! Turns an `OLLAMA_HOST`-style string into the server's base URL, by the official CLI's rules.

use std::net::IpAddr;

/// The port Ollama listens on when none is given.
pub const DEFAULT_PORT: u16 = 11434;

/// A resolved base URL plus a warning to show when the input had to be corrected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedHost {
    /// `scheme://host:port[/path]`, never with a trailing slash.
    pub base_url: String,
    /// Set when the port was out of range and the default was used instead.
    pub warning: Option<String>,
}

/// Parses a host the way `ollama` itself parses `OLLAMA_HOST`, so that a value that works for the
/// official CLI works here too.
///
/// Whitespace and surrounding quotes are trimmed; no scheme means `http` on port 11434, `http://`
/// without a port means 80 and `https://` 443; bare `ollama.com` means `https://ollama.com:443`; a
/// path after the port is kept; IPv6 works with or without brackets; an empty host is 127.0.0.1.
pub fn resolve(raw: &str) -> ResolvedHost {
    let value = raw.trim().trim_matches(|c| c == '"' || c == '\'').trim();

    let (scheme, rest, default_port) = match value.split_once("://") {
        None if value == "ollama.com" => ("https", "ollama.com:443", 443),
        None => ("http", value, DEFAULT_PORT),
        Some(("http", rest)) => ("http", rest, 80),
        Some(("https", rest)) => ("https", rest, 443),
        Some((other, rest)) => (other, rest, DEFAULT_PORT),
    };

    // `user:password@` (for a server behind a proxy that asks for Basic authentication) is set
    // aside and put back in front of the host: the client sends it as Basic authentication.
    let (userinfo, rest) = split_userinfo(rest);
    let shown_value = match userinfo {
        Some(u) => value.replacen(u, "<user:password>", 1),
        None => value.to_string(),
    };
    // A query or fragment is no part of a base URL: Go's URL parser sets them aside, so the
    // official CLI never sends them (`http://[::1]?x` is `http://[::1]:80`).
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let rest = trim_tail(rest);
    let (hostport, path) = match rest.split_once('/') {
        Some((hp, p)) => (hp, trim_tail(p)),
        None => (rest, ""),
    };

    let (host, port_text) = match split_host_port(hostport) {
        Some((h, p)) => (h.to_string(), p.to_string()),
        None => {
            let unbracketed = hostport.trim_matches(|c| c == '[' || c == ']');
            let host = if unbracketed.parse::<IpAddr>().is_ok() || !hostport.is_empty() {
                unbracketed.to_string()
            } else {
                String::new()
            };
            (host, default_port.to_string())
        }
    };
    let host = if host.is_empty() {
        "127.0.0.1".to_string()
    } else {
        host
    };

    let (port, warning) = match port_text.parse::<u32>() {
        Ok(p) if p <= 65535 => (p, None),
        _ => (
            u32::from(default_port),
            Some(format!(
                "invalid port {port_text:?} in host {shown_value:?}; using {default_port}"
            )),
        ),
    };

    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let userinfo = userinfo.map(|u| format!("{u}@")).unwrap_or_default();
    let mut base_url = format!("{scheme}://{userinfo}{host}:{port}");
    if !path.is_empty() {
        base_url.push('/');
        base_url.push_str(path);
    }
    ResolvedHost { base_url, warning }
}

/// Drops trailing slashes, and the blanks and quotes among them (`host:1/ /`): a URL whose path
/// ended in one would not be read back the same, since the value as a whole is trimmed of them.
fn trim_tail(s: &str) -> &str {
    s.trim_end_matches(|c: char| c == '/' || c == '"' || c == '\'' || c.is_whitespace())
}

/// Go's `net.SplitHostPort`: `host:port`, `[v6]:port`, `:port`; anything else is not a host:port.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(inner) = s.strip_prefix('[') {
        let (host, after) = inner.split_once(']')?;
        let port = after.strip_prefix(':')?;
        return Some((host, port));
    }
    let (host, port) = s.rsplit_once(':')?;
    if host.contains(':') {
        return None; // a bare IPv6 address has many colons and no port
    }
    Some((host, port))
}

/// The `user:password` before the last `@` of the authority (the text before any `/`, `?` or
/// `#`), and the rest.
fn split_userinfo(rest: &str) -> (Option<&str>, &str) {
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) if at > 0 => (Some(&rest[..at]), &rest[at + 1..]),
        Some(at) => (None, &rest[at + 1..]),
        None => (None, rest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> String {
        resolve(s).base_url
    }

    #[test]
    fn a_query_or_fragment_is_set_aside() {
        assert_eq!(url("http://[::0]?114//-"), "http://[::0]:80");
        assert_eq!(
            url("example.com:1234/ollama#top"),
            "http://example.com:1234/ollama"
        );
        assert_eq!(url("h?x"), "http://h:11434");
        // What was found once resolves to itself (the fuzz target's check).
        for found in ["http://[::0]?114//-", "h:1/p?q", "#"] {
            assert_eq!(url(&url(found)), url(found), "{found}");
        }
    }

    #[test]
    fn table_from_the_api_notes() {
        assert_eq!(url(""), "http://127.0.0.1:11434");
        assert_eq!(url("1.2.3.4"), "http://1.2.3.4:11434");
        assert_eq!(url("example.com:1234"), "http://example.com:1234");
        assert_eq!(url("[::1]:1337"), "http://[::1]:1337");
        assert_eq!(url(":1234"), "http://127.0.0.1:1234");
        assert_eq!(
            url("https://example.com/ollama"),
            "https://example.com:443/ollama"
        );
    }

    #[test]
    fn rules_from_the_api_notes() {
        assert_eq!(url("   "), "http://127.0.0.1:11434");
        assert_eq!(url("\"1.2.3.4\""), "http://1.2.3.4:11434");
        assert_eq!(url(" '1.2.3.4:5' "), "http://1.2.3.4:5");
        assert_eq!(url("http://example.com"), "http://example.com:80");
        assert_eq!(url("https://example.com"), "https://example.com:443");
        assert_eq!(url("http://example.com:8080/"), "http://example.com:8080");
        assert_eq!(url("ollama.com"), "https://ollama.com:443");
        assert_eq!(url("::1"), "http://[::1]:11434");
        assert_eq!(url("[::1]"), "http://[::1]:11434");
        assert_eq!(url("localhost"), "http://localhost:11434");
        assert_eq!(url("0.0.0.0:11434"), "http://0.0.0.0:11434");
        assert_eq!(
            url("https://example.com:8443/a/b/"),
            "https://example.com:8443/a/b"
        );
    }

    #[test]
    fn bad_port_warns_and_falls_back() {
        let r = resolve("example.com:99999");
        assert_eq!(r.base_url, "http://example.com:11434");
        assert!(r.warning.unwrap().contains("99999"));
        let r = resolve("example.com:abc");
        assert_eq!(r.base_url, "http://example.com:11434");
        assert!(r.warning.is_some());
        let r = resolve("example.com:-1");
        assert_eq!(r.base_url, "http://example.com:11434");
        assert_eq!(resolve("example.com:0").base_url, "http://example.com:0");
        assert_eq!(resolve("1.2.3.4").warning, None);
    }

    /// Found by the fuzzer: `host:28/ /` gave `http://host:28/ `, which resolves to another URL.
    #[test]
    fn blanks_and_quotes_among_trailing_slashes_are_dropped() {
        assert_eq!(url(" '4.3.2.1:28/ / "), "http://4.3.2.1:28");
        assert_eq!(url("http://a:80/\" /"), "http://a:80");
        assert_eq!(url("http://a/x /y/ "), "http://a:80/x /y");
    }

    /// A `user:password@` (Ollama behind a proxy with Basic authentication) is kept in front
    /// of the host, which resolves by the usual rules; a bad port's warning never shows it.
    #[test]
    fn user_and_password_are_kept_for_basic_authentication() {
        assert_eq!(url("user:pw@host:1"), "http://user:pw@host:1");
        assert_eq!(
            url("https://me:s3cr%40t@proxy/ollama"),
            "https://me:s3cr%40t@proxy:443/ollama"
        );
        assert_eq!(url("me@[::1]"), "http://me@[::1]:11434");
        assert_eq!(url("@host"), "http://host:11434");
        assert_eq!(url("host/a@b"), "http://host:11434/a@b");
        let u = reqwest::Url::parse(&url("user:pw@host:1")).unwrap();
        assert_eq!((u.username(), u.password()), ("user", Some("pw")));
        let r = resolve("me:hunter2@h:99999");
        assert_eq!(r.base_url, "http://me:hunter2@h:11434");
        assert!(!r.warning.unwrap().contains("hunter2"));
    }

    /// Found by the fuzzer: a host with colons that is no IPv6 address is bracketed whole, as
    /// Go's `net.JoinHostPort` does for the official CLI; the result is no URL and fails when used.
    #[test]
    fn a_host_with_colons_that_is_no_address_is_kept_as_the_official_cli_keeps_it() {
        assert_eq!(url("a:b:c"), "http://[a:b:c]:11434");
        assert_eq!(url("http://t\0[::1]:11434/"), "http://[t\0[::1]:11434]:80");
        assert!(reqwest::Url::parse(&url("a:b:c")).is_err());
        // Nor is a scheme checked: this one is no scheme, and the text another URL than meant.
        let odd = url("http:2/[::://1]:11");
        assert_eq!(odd, "http:2/[::://1]:11");
        assert_ne!(reqwest::Url::parse(&odd).unwrap().scheme(), "http:2/[::");
    }
}

#[cfg(test)]
mod twins {
    //! The fuzz target `host`'s twin: generated `OLLAMA_HOST` values resolve as the official rules
    //! say, and every resolved URL resolves to itself.
    use proptest::prelude::*;

    use super::*;
    use crate::fuzzing::{host, proptest_config};

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z][a-z0-9-]{0,8}(\\.[a-z]{2,5}){0,2}",
            any::<[u8; 4]>().prop_map(|o| std::net::Ipv4Addr::from(o).to_string()),
            any::<[u16; 8]>().prop_map(|s| std::net::Ipv6Addr::from(s).to_string()),
        ]
    }

    proptest! {
        #![proptest_config(proptest_config(0x0000_4057))]
        #[test]
        fn generated_hosts_resolve_by_the_rules(
            scheme in proptest::option::of(prop::sample::select(vec!["http", "https"])),
            name in name(),
            port in proptest::option::of(any::<u16>()),
            path in "(/[a-z0-9]{1,5}){0,2}/?",
            quote in prop::sample::select(vec!["", "\"", "'", " "]),
        ) {
            let bracketed = if name.contains(':') { format!("[{name}]") } else { name.clone() };
            let hostport = match port {
                Some(p) => format!("{bracketed}:{p}"),
                None => bracketed.clone(),
            };
            let raw = format!("{quote}{}{hostport}{path}{quote}", scheme.map_or(String::new(), |s| format!("{s}://")));
            let default = match scheme {
                None => 11434,
                Some("http") => 80,
                _ => 443,
            };
            let path = path.trim_end_matches('/');
            let expected = format!(
                "{}://{bracketed}:{}{path}",
                scheme.unwrap_or("http"),
                port.unwrap_or(default)
            );
            if hostport != "ollama.com" || scheme.is_some() || !path.is_empty() {
                prop_assert_eq!(resolve(&raw).base_url, expected, "{:?}", raw);
            }
            host(raw.as_bytes());
        }

        #[test]
        fn any_text_resolves_without_panic(raw in any::<String>()) {
            host(raw.as_bytes());
        }
    }
}
