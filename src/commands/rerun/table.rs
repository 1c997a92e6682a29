//! The re-run's comparison tables, pure functions of the replies: one turn's old and new numbers,
//! and the summary of every turn with the totals.

use super::Compared;
use crate::conversation::TurnStatus;
use crate::session::format::Reply;
use crate::table;

fn secs(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |s| format!("{s:.2} s"))
}

fn tokens(r: Option<&Reply>) -> String {
    match r.and_then(|r| r.prompt_tokens.zip(r.completion_tokens)) {
        Some((p, c)) => format!("{p} + {c}"),
        None => "-".into(),
    }
}

fn status(r: Option<&Reply>) -> String {
    match r.map(|r| r.status) {
        Some(s) => s.as_str().into(),
        None => "-".into(),
    }
}

/// Old and new numbers of one turn, one row each.
pub(super) fn compare_table(old: Option<&Reply>, new: &Reply) -> String {
    let row = |label: &str, r: Option<&Reply>| {
        vec![
            label.to_string(),
            status(r),
            secs(r.map(|r| r.latency)),
            secs(r.and_then(|r| r.ttft)),
            tokens(r),
        ]
    };
    table::render(&[
        vec![
            String::new(),
            "status".into(),
            "latency".into(),
            "first text".into(),
            "tokens (prompt + reply)".into(),
        ],
        row("old", old),
        row("new", Some(new)),
    ])
}

/// The table after the last turn: every turn's old and new numbers, then the totals.
pub(super) fn summary(results: &[Compared]) -> String {
    let mut rows = vec![vec![
        "turn".to_string(),
        "old model".into(),
        "new model".into(),
        "old latency".into(),
        "new latency".into(),
        "old first text".into(),
        "new first text".into(),
        "old tokens".into(),
        "new tokens".into(),
        "new status".into(),
    ]];
    for (i, r) in results.iter().enumerate() {
        rows.push(vec![
            (i + 1).to_string(),
            r.old_model.clone(),
            r.new_model.clone(),
            secs(r.old.as_ref().map(|o| o.latency)),
            secs(Some(r.new.latency)),
            secs(r.old.as_ref().and_then(|o| o.ttft)),
            secs(r.new.ttft),
            count(r.old.as_ref()),
            count(Some(&r.new)),
            status(Some(&r.new)),
        ]);
    }
    let sum = |f: &dyn Fn(&Compared) -> Option<f64>| {
        let v: Vec<f64> = results.iter().filter_map(f).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>())
    };
    let mean = |f: &dyn Fn(&Compared) -> Option<f64>| {
        let v: Vec<f64> = results.iter().filter_map(f).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let total_tokens = |f: &dyn Fn(&Compared) -> Option<u64>| {
        let v: Vec<u64> = results.iter().filter_map(f).collect();
        if v.is_empty() {
            "-".to_string()
        } else {
            v.iter().sum::<u64>().to_string()
        }
    };
    rows.push(vec![
        "total".into(),
        String::new(),
        String::new(),
        secs(sum(&|r| r.old.as_ref().map(|o| o.latency))),
        secs(sum(&|r| Some(r.new.latency))),
        format!(
            "mean {}",
            secs(mean(&|r| r.old.as_ref().and_then(|o| o.ttft)))
        ),
        format!("mean {}", secs(mean(&|r| r.new.ttft))),
        total_tokens(&|r| r.old.as_ref().and_then(|o| o.completion_tokens)),
        total_tokens(&|r| r.new.completion_tokens),
        format!(
            "{}/{} ok",
            results
                .iter()
                .filter(|r| r.new.status == TurnStatus::Ok)
                .count(),
            results.len()
        ),
    ]);
    table::render(&rows)
}

fn count(r: Option<&Reply>) -> String {
    r.and_then(|r| r.completion_tokens)
        .map_or_else(|| "-".into(), |c| c.to_string())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::commands::rerun) fn reply(
        latency: f64,
        ttft: Option<f64>,
        tokens: Option<u64>,
        status: TurnStatus,
    ) -> Reply {
        Reply {
            content: "x".into(),
            thinking: String::new(),
            status,
            error: None,
            latency,
            ttft,
            prompt_tokens: tokens.map(|_| 5),
            completion_tokens: tokens,
            tokens_per_second: None,
            done_reason: None,
            tool_calls: Vec::new(),
        }
    }
}
