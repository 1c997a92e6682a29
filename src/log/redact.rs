//! Masks secrets and personal data in text before it is logged (`--log-content redact`).
//!
//! The pattern list, applied in this order (each masked span becomes a bracketed label):
//!
//! | what | example | becomes |
//! |---|---|---|
//! | PEM private-key blocks | `-----BEGIN RSA PRIVATE KEY----- … -----END …` | `[private key]` |
//! | `Bearer` tokens | `Authorization: Bearer abc.def-123` | `Bearer [secret]` |
//! | assignments to secret-sounding names | `password=hunter22`, `api_key: "x1y2"`, `密碼：hunter22` | `password=[secret]` |
//! | well-known key formats | `sk-…`, `sk-proj-…`, `sk-ant-…`, `ghp_…`/`gho_…`/`github_pat_…`, `glpat-…`, `AKIA…`/`ASIA…`, `xoxb-…`, `AIza…`, `hf_…`, JWTs (`eyJ….eyJ….…`) | `[secret]` |
//! | e-mail addresses | `ming@example.com.tw` | `[email]` |
//! | hex runs of 32+ digits | API keys, hashes | `[secret]` |
//! | base64-like runs of 32+ characters with at least two each of upper case, lower case and digits | random tokens | `[secret]` |
//! | runs of 9+ digits, optionally with `+`, an area code in brackets, and single spaces or dashes between them (not after a decimal point) | cards, phone numbers, IDs | `[number]` |
//!
//! Boundaries are ASCII, so a number written right after Chinese text (`電話0912345678`) is found.
//! Kept on purpose: dates (`2026-11-29`), times, IP addresses, decimals (`3.14159265358979`),
//! short numbers, ordinary words and identifiers, URLs.

use std::borrow::Cow;

use regex::{Captures, Regex};

/// One entry of the pattern list: a regex, and how a match is replaced.
struct Pattern {
    re: Regex,
    replace: fn(&Captures<'_>, &str) -> Option<String>,
}

/// The compiled pattern list. Built once per run (compiling takes a few milliseconds).
pub struct Redactor {
    patterns: Vec<Pattern>,
}

const KEY_FORMATS: &str = concat!(
    r"sk-(?:proj-|ant-(?:api\d+-)?)?[A-Za-z0-9_-]{16,}",
    r"|gh[pousr]_[A-Za-z0-9]{20,}",
    r"|github_pat_[A-Za-z0-9_]{20,}",
    r"|glpat-[A-Za-z0-9_-]{20,}",
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}",
    r"|xox[abposr]-[A-Za-z0-9-]{10,}",
    r"|AIza[0-9A-Za-z_-]{35}",
    r"|hf_[A-Za-z0-9]{30,}",
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
);

impl Redactor {
    pub fn new() -> Self {
        let p = |re: &str, replace| Pattern {
            re: Regex::new(re).expect("the redaction patterns are valid"),
            replace,
        };
        Redactor {
            patterns: vec![
                p(
                    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|\z)",
                    |_, _| Some("[private key]".into()),
                ),
                p(r"(?i)(?-u:\b)(bearer)\s+[A-Za-z0-9._~+/=-]{8,}", |c, _| {
                    Some(format!("{} [secret]", &c[1]))
                }),
                p(
                    concat!(
                        r#"(?i)((?-u:\b)(?:api[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret|secret[_-]?key|secret|password|passwd|pwd|token)"#,
                        r#"["']?\s*[:=]\s*["']?|(?:密碼|密码|口令)\s*(?:[:：]|是|為|为)\s*)[^\s"',;，。；]{4,}"#,
                    ),
                    |c, _| Some(format!("{}[secret]", &c[1])),
                ),
                p(&format!(r"(?-u:\b)(?:{KEY_FORMATS})"), |_, _| {
                    Some("[secret]".into())
                }),
                p(
                    r"[A-Za-z0-9_.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
                    |_, _| Some("[email]".into()),
                ),
                p(r"(?-u:\b)[0-9a-fA-F]{32,}(?-u:\b)", |_, _| {
                    Some("[secret]".into())
                }),
                p(r"(?-u:\b)[A-Za-z0-9+_-]{32,}={0,2}", |c, _| {
                    looks_random(&c[0]).then(|| "[secret]".into())
                }),
                p(r"\+?(?:\(\d{1,4}\)\s?)?\d(?:[ -]?\d){5,}", |c, text| {
                    let m = c.get(0).expect("whole match");
                    let digits = m.as_str().bytes().filter(u8::is_ascii_digit).count();
                    (digits >= 9
                        && !starts_with_date(m.as_str())
                        && is_free_standing(text, m.start(), m.end()))
                    .then(|| "[number]".into())
                }),
            ],
        }
    }

    /// Returns `text` with every match of the pattern list masked; text with nothing to mask is
    /// returned without copying.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for p in &self.patterns {
            if !p.re.is_match(&out) {
                continue;
            }
            let current: &str = &out;
            let replaced =
                p.re.replace_all(current, |c: &Captures<'_>| {
                    (p.replace)(c, current).unwrap_or_else(|| c[0].to_string())
                })
                .into_owned();
            out = Cow::Owned(replaced);
        }
        out
    }
}

impl Default for Redactor {
    fn default() -> Self {
        Self::new()
    }
}

/// A long run of letters and digits counts as a secret only if it mixes cases and digits the way
/// random tokens do; long words and snake_case identifiers do not.
fn looks_random(s: &str) -> bool {
    let count = |f: fn(&u8) -> bool| s.as_bytes().iter().filter(|b| f(b)).count();
    count(u8::is_ascii_digit) >= 2
        && count(u8::is_ascii_uppercase) >= 2
        && count(u8::is_ascii_lowercase) >= 2
}

/// `2026-11-29 12:30` is a date and a time, not a phone number.
fn starts_with_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

/// A digit run is a number of its own: not part of a word, and not the fraction of a decimal.
fn is_free_standing(text: &str, start: usize, end: usize) -> bool {
    let before = &text.as_bytes()[..start];
    let after = text.as_bytes().get(end);
    let glued_before = match before {
        [.., a, b'.' | b','] if a.is_ascii_digit() => true,
        [.., b] => b.is_ascii_alphanumeric() || *b == b'_',
        [] => false,
    };
    let glued_after = after.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
    !glued_before && !glued_after
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        Redactor::new().redact(s).into_owned()
    }

    #[test]
    fn emails() {
        assert_eq!(r("mail ming@example.com.tw now"), "mail [email] now");
        assert_eq!(r("我的信箱是 a.b+c@mail.co。"), "我的信箱是 [email]。");
        assert_eq!(r("寄到xiao_ming@example.org吧"), "寄到[email]吧");
    }

    #[test]
    fn api_keys_and_tokens() {
        assert_eq!(r("key sk-proj-abcdefghijklmnop1234 ok"), "key [secret] ok");
        assert_eq!(r("sk-ant-api03-AbCdEfGhIjKlMnOpQr"), "[secret]");
        assert_eq!(r("ghp_0123456789abcdefghijABCDEFGHIJ"), "[secret]");
        assert_eq!(r("github_pat_11ABCDEFG0123456789_xyz"), "[secret]");
        assert_eq!(r("aws AKIAIOSFODNN7EXAMPLE."), "aws [secret].");
        assert_eq!(r("xoxb-1234567890-abcdef"), "[secret]");
        assert_eq!(r("AIzaSyA1234567890abcdefghijklmnopqrstuv"), "[secret]");
        assert_eq!(r("hf_abcdefghijklmnopqrstuvwxyz123456"), "[secret]");
        assert_eq!(r("glpat-abcdefghij0123456789"), "[secret]");
        assert_eq!(
            r("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
            "jwt [secret]"
        );
    }

    #[test]
    fn bearer_and_assignments() {
        assert_eq!(
            r("Authorization: Bearer abc.DEF-123_456"),
            "Authorization: Bearer [secret]"
        );
        assert_eq!(r("password=hunter22 then"), "password=[secret] then");
        assert_eq!(
            r(r#"{"api_key": "x1y2z3w4"}"#),
            r#"{"api_key": "[secret]"}"#
        );
        assert_eq!(r("TOKEN: abcd1234"), "TOKEN: [secret]");
        assert_eq!(r("我的密碼是 hunter22，別說"), "我的密碼是 [secret]，別說");
        assert_eq!(r("密码：Pa55word"), "密码：[secret]");
    }

    #[test]
    fn long_hex_and_base64_secrets() {
        assert_eq!(
            r("hash 0123456789abcdef0123456789abcdef!"),
            "hash [secret]!"
        );
        assert_eq!(
            r("t=Zm9vYmFyQmF6UXV4MTIzNDU2Nzg5MEFCQ0RFRg=="),
            "t=[secret]"
        );
        assert_eq!(
            r("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1r\n-----END OPENSSH PRIVATE KEY-----\nbye"),
            "[private key]\nbye"
        );
    }

    #[test]
    fn cards_and_phones() {
        assert_eq!(r("card 4111 1111 1111 1111."), "card [number].");
        assert_eq!(r("card 4111-1111-1111-1111"), "card [number]");
        assert_eq!(r("call +886 912 345 678"), "call [number]");
        assert_eq!(r("電話0912345678。"), "電話[number]。");
        assert_eq!(r("(02) 2345-6789 office"), "[number] office");
        assert_eq!(r("id 123456789"), "id [number]");
    }

    #[test]
    fn ordinary_text_is_kept() {
        for s in [
            "法國的首都是巴黎。",
            "on 2026-11-29 at 12:30:45",
            "at 2026-11-29 12:30:45 UTC",
            "version 1.2.3, 8 GB, 42 apples, 12345678",
            "pi is 3.14159265358979",
            "a total of 1,000,000 people",
            "server 192.168.100.200 port 11434",
            "Pneumonoultramicroscopicsilicovolcanoconiosis",
            "this_is_a_very_long_identifier_name_for_tests",
            "AbstractSingletonProxyFactoryBeanImplementation",
            "see https://example.com/docs/page?id=7",
            "commit abc1234 fixed it; task-abcdefghijklmnopqrstu",
            "the skeleton key and a token of thanks",
            "passwords must be long",
            "user@localhost",
            "",
        ] {
            assert_eq!(r(s), s, "changed: {s}");
        }
    }

    #[test]
    fn nothing_to_mask_is_not_copied() {
        assert!(matches!(Redactor::new().redact("你好"), Cow::Borrowed(_)));
    }

    #[test]
    fn several_kinds_in_one_text() {
        assert_eq!(
            r("mail a@b.io, key sk-abcdefghijklmnopqrstuv, phone 0912-345-678"),
            "mail [email], key [secret], phone [number]"
        );
    }
}
