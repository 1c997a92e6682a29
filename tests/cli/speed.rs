//! The paths the speed work changed, used as a person would: long fast streams through a pipe and
//! a terminal arrive whole and in order, a long history is sent exactly on every turn, and plain
//! HTTP (which loads no certificates) refuses an https redirect with a clear message.

use rexpect::session::spawn_command;

use crate::harness::{messages, TestEnv};
use crate::support::fake_ollama::{fast_stream_text, ChatReply, FastStream};

/// rexpect reads the terminal byte by byte as Latin-1; this turns UTF-8 text into what it sees.
fn l(s: &str) -> String {
    s.bytes().map(char::from).collect()
}

#[test]
fn a_long_fast_stream_arrives_whole_in_a_pipe() {
    let env = TestEnv::new();
    env.fake.set_fast_stream(Some(FastStream::default()));
    let out = env
        .cmd()
        .args(["-m", "tiny", "-o", "num_predict=30000", "-p", "go"])
        .assert()
        .success()
        .get_output()
        .clone();
    let expected = fast_stream_text(30_000);
    assert!(
        out.stdout == expected.as_bytes(),
        "stdout differs from the stream: {} bytes, expected {}",
        out.stdout.len(),
        expected.len()
    );
    let rec = &env.log_records()[0];
    assert_eq!(rec["status"], "ok");
    assert_eq!(rec["model_response"], expected.as_str());
    assert_eq!(rec["completion_tokens"], 30_000);
    assert_eq!(rec["done_reason"], "length");
}

#[test]
fn a_long_fast_stream_on_a_terminal_then_a_follow_up_with_it_in_the_history() {
    let env = TestEnv::new();
    env.fake.set_fast_stream(Some(FastStream {
        default_tokens: 3000,
        ..FastStream::default()
    }));
    let mut cmd = env.std_command();
    cmd.args(["-m", "tiny", "--system", "你是一位老師"]);
    let mut p = spawn_command(cmd, Some(20_000)).expect("spawn in a pty");
    p.exp_string(&l(">>> ")).unwrap();
    p.send_line("tell me a long story").unwrap();
    p.exp_string(&l(" rests\r\n")).unwrap();
    p.exp_string(&l(">>> ")).unwrap();
    p.send_line("and then? 然後呢？").unwrap();
    p.exp_string(&l(" rests\r\n")).unwrap();
    p.exp_string(&l(">>> ")).unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();

    let story = fast_stream_text(3000);
    let bodies = env.fake.chat_bodies();
    assert_eq!(bodies.len(), 2);
    assert_eq!(
        messages(&bodies[1]),
        vec![
            ("system".into(), "你是一位老師".into()),
            ("user".into(), "tell me a long story".into()),
            ("assistant".into(), story.clone()),
            ("user".into(), "and then? 然後呢？".into()),
        ]
    );
    let log = env.log_records();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["model_response"], story.as_str());
    assert_eq!(log[1]["model_response"], story.as_str());
}

#[test]
fn plain_http_refuses_a_redirect_to_https_with_a_clear_message() {
    let env = TestEnv::new();
    env.fake.push_chat(ChatReply::Raw(
        b"HTTP/1.1 307 Temporary Redirect\r\nLocation: https://127.0.0.1:1/api/chat\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            .to_vec(),
    ));
    let out = env
        .cmd()
        .args(["-m", "tiny", "-p", "hi"])
        .assert()
        .code(1)
        .stdout("")
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("redirected to https://127.0.0.1:1/api/chat"),
        "{stderr}"
    );
    assert!(stderr.contains("OLLAMA_HOST"), "{stderr}");
}
