//! A hostile server that echoes the secrets it was sent (the API key, a password in the server's
//! URL) in its error texts gets them shown and written nowhere: not on stderr, not in the turn
//! log, not in the session file nor its exports. The exit codes stay what the failure means.

use crate::harness::{words, Api, TestEnv};
use crate::support::fake_ollama::{ChatReply, End, PullReply, PullScript, Script};

every_api!(
    a_status_error_echoing_the_key_never_shows_it,
    a_refused_key_echoed_back_never_shows_it,
    an_error_inside_the_stream_echoing_the_key_never_shows_it,
    a_password_in_the_server_url_is_never_shown,
);

/// Long enough to be scrubbed, and in no well-known key format, so `--log-content redact`'s
/// patterns cannot be what hides it.
const KEY: &str = "echoed-key-0123456789";

fn key_var(api: Api) -> &'static str {
    match api {
        Api::Ollama => "OLLAMA_API_KEY",
        Api::OpenAi => "OPENAI_API_KEY",
        Api::Anthropic => "ANTHROPIC_API_KEY",
    }
}

/// Runs one chat with the key set, into the session `leak`; returns stderr.
fn chat_with_key(env: &TestEnv, code: i32, extra: &[&str]) -> String {
    env.fake.require_api_key(Some(KEY));
    let out = env
        .cmd()
        .env(key_var(env.api), KEY)
        .args(["--session", "leak", "-p", "hi"])
        .args(extra)
        .assert()
        .code(code)
        .get_output()
        .clone();
    String::from_utf8(out.stderr).unwrap()
}

/// `secret` is in none of stderr, the turn log, the session file and its exports.
fn nowhere(env: &TestEnv, secret: &str, stderr: &str) {
    assert!(!stderr.contains(secret), "stderr: {stderr}");
    let log = std::fs::read_to_string(env.log_path()).unwrap();
    assert!(log.contains("\"status\":\"error\""), "{log}");
    assert!(!log.contains(secret), "turn log: {log}");
    let sessions = crate::sessions::session_files(env);
    assert_eq!(sessions.len(), 1);
    let session = std::fs::read_to_string(&sessions[0]).unwrap();
    assert!(session.contains("\"error\""), "{session}");
    assert!(!session.contains(secret), "session: {session}");
    for format in ["markdown", "json"] {
        let out = env
            .cmd()
            .args(["sessions", "export", "leak", "--format", format])
            .output()
            .unwrap();
        let all = [out.stdout, out.stderr].concat();
        let all = String::from_utf8_lossy(&all);
        assert!(!all.contains(secret), "{format} export: {all}");
    }
}

fn a_status_error_echoing_the_key_never_shows_it(api: Api) {
    let env = TestEnv::with(api);
    env.fake.push_chat(ChatReply::HttpError {
        status: 500,
        message: format!("upstream refused Authorization: Bearer {KEY} (key {KEY})"),
    });
    let stderr = chat_with_key(&env, 1, &[]);
    let placeholder = format!("Bearer <{}> (key <{}>)", key_var(api), key_var(api));
    assert!(stderr.contains(&placeholder), "{stderr}");
    nowhere(&env, KEY, &stderr);
    // The key was sent, as each API sends it.
    let chat = env.fake.requests().into_iter().last().unwrap();
    let sent = match api {
        Api::Anthropic => chat.header("x-api-key").map(str::to_string),
        _ => chat.header("authorization").map(str::to_string),
    };
    assert!(sent.unwrap_or_default().ends_with(KEY));
}

fn a_refused_key_echoed_back_never_shows_it(api: Api) {
    let env = TestEnv::with(api);
    env.fake.push_chat(ChatReply::HttpError {
        status: 401,
        message: format!("invalid key {KEY}"),
    });
    let stderr = chat_with_key(&env, 5, &["--log-content", "none"]);
    assert!(
        stderr.contains(&format!("invalid key <{}>", key_var(api))),
        "{stderr}"
    );
    nowhere(&env, KEY, &stderr);
}

fn an_error_inside_the_stream_echoing_the_key_never_shows_it(api: Api) {
    let env = TestEnv::with(api);
    env.fake.push_chat(ChatReply::Script(Script {
        tokens: words("partial answer"),
        end: End::Error(format!("key {KEY} was revoked mid-reply")),
        ..Default::default()
    }));
    let stderr = chat_with_key(&env, 1, &["--log-content", "none"]);
    assert!(
        stderr.contains(&format!("key <{}> was revoked", key_var(api))),
        "{stderr}"
    );
    nowhere(&env, KEY, &stderr);
}

fn a_password_in_the_server_url_is_never_shown(api: Api) {
    const PASSWORD: &str = "url-password-42";
    let env = TestEnv::with(api);
    let with_password = env
        .base_url()
        .replacen("http://", &format!("http://me:{PASSWORD}@"), 1);
    let mut cmd = env.cmd();
    match api {
        Api::Ollama => cmd.env("OLLAMA_HOST", &with_password),
        Api::OpenAi => cmd.env("OPENAI_BASE_URL", &with_password),
        Api::Anthropic => cmd.env("ANTHROPIC_BASE_URL", &with_password),
    };
    env.fake.push_chat(ChatReply::HttpError {
        status: 500,
        message: format!("no entry for me:{PASSWORD}"),
    });
    let out = cmd
        .args(["--session", "leak", "-p", "hi"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains(PASSWORD), "stderr: {stderr}");
    // reqwest sends the URL's credentials as Basic authentication (Ollama's too: a
    // `user:password@` in OLLAMA_HOST is for Ollama behind a proxy that asks for it).
    let chat = env.fake.requests().into_iter().last().unwrap();
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("me:{PASSWORD}"));
    assert_eq!(
        chat.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let var = match api {
        Api::Ollama => "OLLAMA_HOST",
        Api::OpenAi => "OPENAI_BASE_URL",
        Api::Anthropic => "ANTHROPIC_BASE_URL",
    };
    assert!(stderr.contains(&format!("me:<{var} password>")), "{stderr}");
    nowhere(&env, PASSWORD, &stderr);
    let log = env.log_records();
    assert_eq!(
        log[0]["host"],
        with_password.replace(PASSWORD, &format!("<{var} password>"))
    );
}

#[test]
fn a_pull_error_echoing_the_key_never_shows_it() {
    let env = TestEnv::new();
    env.fake.push_pull(PullReply::Script(PullScript {
        error_after: Some((2, format!("registry refused Bearer {KEY}"))),
        ..Default::default()
    }));
    let out = env
        .cmd()
        .env("OLLAMA_API_KEY", KEY)
        .args(["pull", "tiny2"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains(KEY), "{stderr}");
    assert!(
        stderr.ends_with("failed: registry refused Bearer <OLLAMA_API_KEY>\n"),
        "{stderr}"
    );
}
