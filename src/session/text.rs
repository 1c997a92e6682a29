//! Session records as one line of text each, for a person: what a change did, the options, a
//! reply's statistics. Pure; used by replay, re-run and the Markdown export.

use super::format::{Change, Reply};
use crate::conversation::TurnStatus;
use crate::options::Options;

/// One line saying what a state change did (replay, Markdown export).
pub fn describe(change: &Change) -> String {
    match change {
        Change::User { content, .. } => format!("user: {content}"),
        Change::Assistant(r) => {
            let mut line = format!("assistant: {}", r.content);
            for c in &r.tool_calls {
                line.push_str(&format!("\n  calls {} {}", c.name, c.arguments));
            }
            line
        }
        Change::Tool(t) => format!(
            "tool {} ({}, {}, {:.2} s): {}",
            t.name,
            approval_text(t.approval),
            t.status.as_str(),
            t.duration,
            t.content
        ),
        Change::Clear => "cleared the conversation".into(),
        Change::Set { options, system } => {
            let mut parts = Vec::new();
            if let Some(o) = options {
                parts.push(format!("options: {}", options_text(o)));
            }
            match system {
                Some(Some(s)) => parts.push(format!("system prompt: {s}")),
                Some(None) => parts.push("system prompt removed".into()),
                None => {}
            }
            parts.join("; ")
        }
        Change::Model { model } => format!("model: {model}"),
        Change::Undo => "undid the last exchange".into(),
        Change::Retry => "sending the last message again".into(),
        Change::Name { name } => format!("named \"{name}\""),
        Change::Role { role } => format!("role \"{role}\""),
        Change::Context { dropped, summary } => {
            let n = dropped.len();
            let s = if n == 1 { "" } else { "s" };
            match summary {
                Some(text) => format!("context: {n} message{s} replaced by a summary: {text}"),
                None => format!("context: {n} message{s} dropped to fit"),
            }
        }
    }
}

/// Who let a tool call run, or why it did not, in a few words.
pub fn approval_text(a: crate::conversation::Approval) -> &'static str {
    use crate::conversation::Approval;
    match a {
        Approval::Yes => "approved",
        Approval::Always => "always allowed",
        Approval::Allowed => "allowed up front",
        Approval::No => "refused by the user",
        Approval::Unattended => "refused: nobody to ask",
        Approval::NotAsked => "not run",
    }
}

/// `temperature=0.3 top_p=0.9`, or `none`.
pub fn options_text(o: &Options) -> String {
    if o.is_empty() {
        return "none".into();
    }
    o.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `tiny:latest · 0.41 s · first text 0.04 s · 54 + 40 tokens · 93.5 tokens/s`, led by the
/// ending when the reply did not finish.
pub fn stats_text(model: &str, r: &Reply) -> String {
    let mut parts = Vec::new();
    match r.status {
        TurnStatus::Ok => {}
        TurnStatus::Cancelled => parts.push("cancelled".to_string()),
        TurnStatus::Terminated => parts.push("terminated (SIGTERM)".to_string()),
        TurnStatus::Hangup => parts.push("hung up (SIGHUP)".to_string()),
        TurnStatus::Error => parts.push(format!(
            "error: {}",
            r.error.as_deref().unwrap_or("unknown")
        )),
    }
    parts.push(model.to_string());
    parts.push(format!("{:.2} s", r.latency));
    if let Some(t) = r.ttft {
        parts.push(format!("first text {t:.2} s"));
    }
    if let (Some(p), Some(c)) = (r.prompt_tokens, r.completion_tokens) {
        parts.push(format!("{p} + {c} tokens"));
    }
    if let Some(tps) = r.tokens_per_second {
        parts.push(format!("{tps:.1} tokens/s"));
    }
    if let Some(d) = r.done_reason.as_deref().filter(|d| *d != "stop") {
        parts.push(format!("ended: {d}"));
    }
    parts.join(" · ")
}
