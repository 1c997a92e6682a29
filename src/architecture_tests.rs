//! The layout rules of `lib.rs`, checked on the source itself so they cannot rot: the API adapters
//! import only the neutral types, nothing neutral reaches up to the seam, the top-level modules
//! form no cycle, and only the terminal description asks the process about terminals.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The API adapters: each maps the neutral types to one API and knows no other.
const ADAPTERS: &[&str] = &["ollama", "openai", "anthropic"];

/// What an adapter may use: the conversation's own types and the helpers every client shares.
const NEUTRAL: &[&str] = &[
    "conversation",
    "models",
    "error",
    "net",
    "sse",
    "options",
    "exit_code",
    "untrusted",
];

/// Every source file below `src/`, as (path relative to `src/`, text).
fn sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&src).expect("below src");
            let text = std::fs::read_to_string(&path).expect("a source file");
            files.push((rel.to_string_lossy().replace('\\', "/"), text));
        }
    }
    files
}

/// Top-level module → the other top-level modules its files name as `crate::…`.
fn module_deps() -> BTreeMap<String, BTreeSet<String>> {
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, text) in sources() {
        let first = rel.split('/').next().unwrap_or_default();
        let top = first.trim_end_matches(".rs").to_string();
        // `fuzzing` is a test harness that reaches every parser; the parsers' `twins` tests call
        // it back, which is no dependency of the code (`only_twins_call_the_fuzz_checks`).
        if ["lib", "main", "architecture_tests", "fuzzing"].contains(&top.as_str()) {
            continue;
        }
        let set = deps.entry(top.clone()).or_default();
        for (i, _) in text.match_indices("crate::") {
            let name: String = text[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() && name != top && name != "fuzzing" {
                set.insert(name);
            }
        }
    }
    deps
}

#[test]
fn only_twins_call_the_fuzz_checks() {
    for (rel, text) in sources() {
        if ["fuzzing.rs", "lib.rs", "architecture_tests.rs"].contains(&rel.as_str()) {
            continue;
        }
        if let Some(first) = text.find("crate::fuzzing") {
            let twins = text.find("mod twins").unwrap_or(usize::MAX);
            assert!(
                twins < first,
                "src/{rel} uses crate::fuzzing outside its `mod twins`"
            );
        }
    }
}

#[test]
fn adapters_import_only_the_neutral_types() {
    let deps = module_deps();
    for adapter in ADAPTERS {
        let Some(used) = deps.get(*adapter) else {
            continue;
        };
        let wrong: Vec<&String> = used
            .iter()
            .filter(|m| !NEUTRAL.contains(&m.as_str()))
            .collect();
        assert!(wrong.is_empty(), "src/{adapter} imports {wrong:?}");
    }
}

#[test]
fn nothing_neutral_reaches_up() {
    let deps = module_deps();
    for neutral in NEUTRAL {
        let used = deps.get(*neutral).cloned().unwrap_or_default();
        let wrong: Vec<&String> = used
            .iter()
            .filter(|m| !NEUTRAL.contains(&m.as_str()) && *m != "suggest")
            .collect();
        assert!(wrong.is_empty(), "src/{neutral} imports {wrong:?}");
    }
}

#[test]
fn the_top_level_modules_form_no_cycle() {
    let deps = module_deps();
    // Depth-first search with colours: grey = on the current path.
    fn visit<'a>(
        m: &'a str,
        deps: &'a BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<&'a str, bool>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(m) {
            Some(true) => {
                let start = path.iter().position(|p| *p == m).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(m.to_string());
                return Some(cycle);
            }
            Some(false) => return None,
            None => {}
        }
        state.insert(m, true);
        path.push(m);
        for next in deps.get(m).into_iter().flatten() {
            if let Some(c) = visit(next, deps, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(m, false);
        None
    }
    let mut state = BTreeMap::new();
    for m in deps.keys() {
        if let Some(cycle) = visit(m, &deps, &mut state, &mut Vec::new()) {
            panic!("module cycle: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn only_the_terminal_description_asks_about_terminals() {
    let asking: Vec<String> = sources()
        .into_iter()
        .filter(|(rel, text)| {
            rel != "term.rs" && rel != "architecture_tests.rs" && text.contains(".is_terminal()")
        })
        .map(|(rel, _)| rel)
        .collect();
    assert!(
        asking.is_empty(),
        "is_terminal() outside src/term.rs: {asking:?}"
    );
}
