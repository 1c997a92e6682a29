//! `ollama-chat sessions tree ID`: the family of branches a session belongs to, from the first
//! session down, each branch under the session and turn it was taken from.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

use uuid::Uuid;

use crate::config::Config;
use crate::exit_code::ExitCode;
use crate::session::index::Summary;
use crate::session::{catalog, short_id, SessionError};
use crate::table;

pub fn run(id: &str, config: &Config, width: usize) -> anyhow::Result<ExitCode> {
    let dir = config.session.dir.as_deref();
    let asked = catalog::find(dir, id)?;
    for w in &asked.warnings {
        crate::render::style::warn(format_args!("{w}"));
    }
    let dir = dir.ok_or(SessionError::NoFolder)?;
    let (entries, _) = catalog::list(dir)?;
    let mut sessions: Vec<Summary> = entries.into_iter().filter_map(|e| e.session.ok()).collect();
    if !sessions.iter().any(|s| s.id == asked.header.id) {
        // A file outside the folder: it is part of the tree all the same.
        let path = asked.path.clone().unwrap_or_default();
        sessions.push(Summary::of(&asked, path));
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    print_tree(&mut out, &sessions, asked.header.id, width)?;
    out.flush()?;
    Ok(ExitCode::Success)
}

/// The tree, each line sanitised and cut to `width` columns.
pub fn print_tree<W: Write>(
    out: &mut W,
    sessions: &[Summary],
    id: Uuid,
    width: usize,
) -> io::Result<()> {
    for line in tree_lines(sessions, id) {
        writeln!(out, "{}", table::truncate(&line, width))?;
    }
    Ok(())
}

/// The tree around `id`: its oldest known ancestor first, every descendant under its parent
/// (oldest first), `├─`/`└─` drawn, `id` itself marked. A parent no longer saved is named on
/// the first line. Cycles (hand-edited files) are cut.
pub fn tree_lines(sessions: &[Summary], id: Uuid) -> Vec<String> {
    let by_id: HashMap<Uuid, &Summary> = sessions.iter().map(|s| (s.id, s)).collect();
    let mut children: HashMap<Uuid, Vec<&Summary>> = HashMap::new();
    for s in sessions {
        if let Some(p) = s.parent {
            children.entry(p.id).or_default().push(s);
        }
    }
    for c in children.values_mut() {
        c.sort_by_key(|s| (s.parent.map(|p| p.turn), s.created, s.id));
    }
    let mut root = id;
    let mut seen = HashSet::from([id]);
    while let Some(p) = by_id.get(&root).and_then(|s| s.parent) {
        if !by_id.contains_key(&p.id) || !seen.insert(p.id) {
            break;
        }
        root = p.id;
    }
    let mut lines = Vec::new();
    if let Some(p) = by_id.get(&root).and_then(|s| s.parent) {
        if !by_id.contains_key(&p.id) {
            lines.push(format!(
                "(branched from {}, no longer saved)",
                short_id(&p.id)
            ));
        }
    }
    let mut drawn = HashSet::new();
    walk(
        &by_id, &children, root, id, "", None, &mut drawn, &mut lines,
    );
    lines
}

#[allow(clippy::too_many_arguments)]
fn walk(
    by_id: &HashMap<Uuid, &Summary>,
    children: &HashMap<Uuid, Vec<&Summary>>,
    at: Uuid,
    marked: Uuid,
    indent: &str,
    branch: Option<bool>,
    drawn: &mut HashSet<Uuid>,
    lines: &mut Vec<String>,
) {
    if !drawn.insert(at) {
        return;
    }
    let Some(s) = by_id.get(&at) else { return };
    let (lead, next) = match branch {
        None => (String::new(), String::new()),
        Some(last) => (
            format!("{indent}{}", if last { "└─ " } else { "├─ " }),
            format!("{indent}{}", if last { "   " } else { "│  " }),
        ),
    };
    lines.push(format!("{lead}{}", describe(s, at == marked)));
    let kids = children.get(&at).map(Vec::as_slice).unwrap_or_default();
    for (i, k) in kids.iter().enumerate() {
        walk(
            by_id,
            children,
            k.id,
            marked,
            &next,
            Some(i + 1 == kids.len()),
            drawn,
            lines,
        );
    }
}

fn describe(s: &Summary, marked: bool) -> String {
    let mut parts = vec![short_id(&s.id)];
    if let Some(n) = &s.name {
        parts.push(format!("\"{n}\""));
    }
    if let Some(p) = s.parent {
        parts.push(format!("at turn {}", p.turn));
    }
    parts.push(
        s.created
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M")
            .to_string(),
    );
    parts.push(s.model.clone());
    parts.push(format!(
        "{} turn{}",
        s.turns,
        if s.turns == 1 { "" } else { "s" }
    ));
    if let Some(f) = &s.first_user_line {
        parts.push(f.clone());
    }
    let line = parts.join("  ");
    if marked {
        format!("{line}  ◀")
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::format::Parent;
    use chrono::{TimeZone, Utc};

    fn s(n: u128, parent: Option<(u128, usize)>) -> Summary {
        Summary {
            path: format!("/s/{n}.jsonl").into(),
            id: Uuid::from_u128(n << 96),
            name: None,
            created: Utc.timestamp_opt(n as i64 * 60, 0).unwrap(),
            last_at: Utc.timestamp_opt(0, 0).unwrap(),
            model: "m".into(),
            turns: 2,
            first_user_line: Some(format!("q{n}")),
            parent: parent.map(|(p, turn)| Parent {
                id: Uuid::from_u128(p << 96),
                turn,
                events: 1,
            }),
        }
    }

    fn ids(lines: &[String]) -> Vec<String> {
        lines
            .iter()
            .map(|l| {
                let l = l.trim_start_matches(['│', '├', '└', '─', ' ']);
                l.split("  ").next().unwrap().to_string()
            })
            .collect()
    }

    #[test]
    fn the_whole_family_from_any_member() {
        let all = [
            s(1, None),
            s(2, Some((1, 1))),
            s(3, Some((1, 0))),
            s(4, Some((2, 2))),
            s(5, None),
        ];
        let lines = tree_lines(&all, all[3].id);
        assert_eq!(
            ids(&lines),
            ["00000001", "00000003", "00000002", "00000004"]
        );
        assert!(lines[1].starts_with("├─ 00000003  at turn 0"), "{lines:?}");
        assert!(lines[2].starts_with("└─ 00000002  at turn 1"), "{lines:?}");
        assert!(
            lines[3].starts_with("   └─ 00000004  at turn 2"),
            "{lines:?}"
        );
        assert!(lines[3].ends_with("◀"));
        assert_eq!(lines.iter().filter(|l| l.ends_with('◀')).count(), 1);
        assert_eq!(tree_lines(&all, all[4].id).len(), 1, "alone");
    }

    #[test]
    fn a_deleted_parent_and_a_cycle() {
        let all = [s(2, Some((1, 1))), s(3, Some((2, 1)))];
        let lines = tree_lines(&all, all[1].id);
        assert_eq!(lines[0], "(branched from 00000001, no longer saved)");
        assert_eq!(ids(&lines[1..]), ["00000002", "00000003"]);
        let cycle = [s(1, Some((2, 0))), s(2, Some((1, 0)))];
        let lines = tree_lines(&cycle, cycle[0].id);
        assert_eq!(lines.len(), 2, "{lines:?}");
    }
}
