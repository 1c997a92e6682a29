//! `run_command`: a shell command in its own process group, without the API keys in its
//! environment, its output size-limited. Dropping the future (Ctrl-C, the time limit) kills the
//! whole group, so nothing the command started keeps running.

use std::process::Stdio;

use serde_json::Value;
use tokio::io::AsyncReadExt;

use super::fs::{str_arg, Roots};
use super::ToolError;

/// Variables never passed to a command or an MCP server: the keys this client knows of.
pub const SECRET_VARS: &[&str] = &["OLLAMA_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"];

/// Kills the process group when dropped.
#[derive(Default)]
struct GroupGuard {
    pgid: Option<rustix::process::Pid>,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid {
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
    }
}

/// `run_command {command}`: `exit status N` then stdout and stderr together, at most `max` bytes.
pub async fn run_command(args: &Value, roots: &Roots, max: usize) -> Result<String, ToolError> {
    let line = str_arg(args, "command")?;
    if line.trim().is_empty() {
        return Err(ToolError::Refused("the command is empty".into()));
    }
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(line)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cwd) = roots.dirs().first() {
        cmd.current_dir(cwd);
    }
    for var in SECRET_VARS {
        cmd.env_remove(var);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| ToolError::Failed(format!("cannot start sh: {e}")))?;
    let mut guard = GroupGuard {
        pgid: child
            .id()
            .and_then(|id| rustix::process::Pid::from_raw(id as i32)),
    };
    let limit = max as u64 + 1;
    let mut stdout = child.stdout.take().expect("piped").take(limit);
    let mut stderr = child.stderr.take().expect("piped").take(limit);
    let mut out = Vec::new();
    let mut err = Vec::new();
    let (r1, r2) = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
    r1.and(r2).map_err(|e| ToolError::Failed(e.to_string()))?;
    if out.len() > max || err.len() > max {
        // Output past the limit is not read: the command is stopped rather than left blocked.
        drop(std::mem::take(&mut guard));
    }
    let status = child
        .wait()
        .await
        .map_err(|e| ToolError::Failed(e.to_string()))?;
    // The group may hold children that outlived the shell: they go too.
    drop(guard);
    let mut text = match status.code() {
        Some(code) => format!("exit status {code}\n"),
        None => "killed by a signal\n".to_string(),
    };
    text.push_str(&String::from_utf8_lossy(&out));
    if !err.is_empty() {
        text.push_str("\n[stderr]\n");
        text.push_str(&String::from_utf8_lossy(&err));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn roots() -> (tempfile::TempDir, Roots) {
        let dir = tempfile::tempdir().unwrap();
        let roots = Roots::new(&[dir.path().to_path_buf()]).unwrap();
        (dir, roots)
    }

    #[tokio::test]
    async fn runs_in_the_root_without_the_keys() {
        let (_d, roots) = roots();
        let out = run_command(
            &json!({"command": "pwd; echo 你好; echo oops >&2; echo ${OPENAI_API_KEY:-none}; exit 3"}),
            &roots,
            1000,
        )
        .await
        .unwrap();
        assert!(out.starts_with("exit status 3\n"), "{out}");
        assert!(out.contains(&roots.dirs()[0].display().to_string()));
        assert!(
            out.contains("你好\nnone\n") && out.contains("[stderr]\noops"),
            "{out}"
        );
    }

    #[tokio::test]
    async fn dropping_it_kills_the_whole_group() {
        let (dir, roots) = roots();
        let marker = dir.path().join("pid");
        let cmd = format!("sleep 30 & echo $! > {}; wait", marker.display());
        let args = json!({ "command": cmd });
        let run = run_command(&args, &roots, 1000);
        let r = tokio::time::timeout(Duration::from_millis(500), run).await;
        assert!(r.is_err(), "still running when dropped");
        let pid: i32 = std::fs::read_to_string(&marker)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The background sleep was in the group: it is gone (or a zombie about to be reaped).
        let mut gone = false;
        for _ in 0..50 {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if state.is_empty() || state.contains(") Z") {
                gone = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(gone, "the sleep outlived the command");
    }

    #[tokio::test]
    async fn an_empty_command_is_refused() {
        let (_d, roots) = roots();
        assert!(matches!(
            run_command(&json!({"command": " "}), &roots, 10).await,
            Err(ToolError::Refused(_))
        ));
    }
}
