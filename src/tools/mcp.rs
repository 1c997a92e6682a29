//! A small MCP client over stdio: starts a server, lists its tools and calls them (JSON-RPC 2.0,
//! one message a line). Hand-written rather than the `rmcp` SDK: the client needs three requests
//! of the protocol, and the SDK's dependency tree would double this crate's build time.
//!
//! A server is hostile like any outside text: its lines are read with a size limit, its tool
//! names must be plain identifiers, its texts are sanitised where they are shown, and it gets no
//! environment variable but `PATH` and what was configured for it (`env` in its `[mcp.NAME]`
//! table): no API key, no `HOME`. `PATH` passes because launchers find their interpreter
//! through it (`npx` is `#!/usr/bin/env node`, `uvx` runs Python): without it most servers
//! would not start. A configured `PATH` replaces it.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::ToolError;

/// The protocol version asked for; servers answer with the one they speak.
const PROTOCOL: &str = "2025-06-18";
/// The longest line a server may send.
const MAX_LINE: usize = 4 << 20;
/// The most tools taken from one server, and the longest description kept.
const MAX_TOOLS: usize = 200;
const MAX_DESCRIPTION: usize = 2000;

/// An MCP server as declared (`--mcp 'NAME=COMMAND ARGS'`, or `[mcp.NAME]` in the config file).
#[derive(Clone, PartialEq, Eq)]
pub struct McpSpec {
    pub name: String,
    pub command: String,
    pub args: Vec<String>,
    /// The server's environment besides `PATH` (which one named here replaces). The values
    /// may be secrets: `Debug` shows only the names.
    pub env: Vec<(String, String)>,
}

impl std::fmt::Debug for McpSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("McpSpec")
            .field("name", &self.name)
            .field("command", &self.command)
            .field("args", &self.args)
            .field("env", &names)
            .finish()
    }
}

/// Whether a name is a plain identifier every API accepts in a tool name.
pub fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Parses `NAME=COMMAND ARGS…` (words split on white space; no quoting).
pub fn parse_spec(text: &str) -> Result<McpSpec, String> {
    let (name, command) = text
        .split_once('=')
        .ok_or_else(|| format!("--mcp {text:?}: expected NAME=COMMAND [ARGS…]"))?;
    let name = name.trim();
    if !plain_name(name) {
        return Err(format!(
            "--mcp {text:?}: the name must be letters, digits, _ or -"
        ));
    }
    let mut words = command.split_whitespace().map(str::to_string);
    let command = words
        .next()
        .ok_or_else(|| format!("--mcp {text:?}: no command after ="))?;
    Ok(McpSpec {
        name: name.to_string(),
        command,
        args: words.collect(),
        env: Vec::new(),
    })
}

/// A tool a server offers, in the client's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct McpTool {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

/// One server: not started, running, or dead (with why).
pub struct McpServer {
    spec: McpSpec,
    conn: Option<Conn>,
}

struct Conn {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(pgid) = self
            .child
            .id()
            .and_then(|id| rustix::process::Pid::from_raw(id as i32))
        {
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
    }
}

/// Why a server could not answer.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error("cannot start `{0}`: {1}")]
    Spawn(String, std::io::Error),
    #[error("did not answer within {0} s")]
    Timeout(u64),
    #[error("closed its output (it may have crashed)")]
    Closed,
    #[error("sent a line longer than {} MiB", MAX_LINE >> 20)]
    TooLong,
    #[error("sent something that is not JSON-RPC: {0}")]
    Bad(String),
    #[error("answered with an error: {0}")]
    Rpc(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl McpServer {
    pub fn new(spec: McpSpec) -> Self {
        McpServer { spec, conn: None }
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Starts the server, shakes hands and lists its tools, all within `limit`.
    pub async fn start(&mut self, limit: Duration) -> Result<Vec<McpTool>, McpError> {
        self.conn = None;
        let work = async {
            let mut conn = spawn(&self.spec)?;
            let init = json!({
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "ollama-chat", "version": env!("CARGO_PKG_VERSION")},
            });
            conn.request("initialize", init).await?;
            conn.notify("notifications/initialized").await?;
            let mut tools = Vec::new();
            let mut cursor: Option<String> = None;
            for _ in 0..20 {
                let params = match &cursor {
                    Some(c) => json!({ "cursor": c }),
                    None => json!({}),
                };
                let page = conn.request("tools/list", params).await?;
                let listed = page.get("tools").and_then(Value::as_array);
                for t in listed.into_iter().flatten() {
                    if tools.len() < MAX_TOOLS {
                        tools.extend(tool_of(t));
                    }
                }
                cursor = page
                    .get("nextCursor")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                if cursor.is_none() {
                    break;
                }
            }
            Ok::<_, McpError>((conn, tools))
        };
        let (conn, tools) = tokio::time::timeout(limit, work)
            .await
            .map_err(|_| McpError::Timeout(limit.as_secs()))??;
        self.conn = Some(conn);
        Ok(tools)
    }

    /// Calls one tool. A server that fails mid-call is dropped (its process group killed) and
    /// started again on the next call; dropping this future does the same.
    pub async fn call(
        &mut self,
        tool: &str,
        args: &Value,
        max: usize,
    ) -> Result<String, ToolError> {
        let server = self.spec.name.clone();
        let failed = |e: McpError| ToolError::Failed(format!("MCP server {server}: {e}"));
        if self.conn.is_none() {
            Box::pin(self.start(Duration::from_secs(30)))
                .await
                .map_err(failed)?;
        }
        // Taken out while the call runs: if the call is dropped midway, the server goes with it.
        let Some(mut conn) = self.conn.take() else {
            return Err(failed(McpError::Closed));
        };
        let params = json!({ "name": tool, "arguments": args });
        match conn.request("tools/call", params).await {
            Ok(r) => {
                self.conn = Some(conn);
                let text = result_text(&r, max);
                if r.get("isError").and_then(Value::as_bool) == Some(true) {
                    Err(ToolError::Failed(text))
                } else {
                    Ok(text)
                }
            }
            Err(e @ McpError::Rpc(_)) => {
                self.conn = Some(conn);
                Err(ToolError::Failed(e.to_string()))
            }
            Err(e) => Err(failed(e)),
        }
    }
}

fn spawn(spec: &McpSpec) -> Result<Conn, McpError> {
    let mut cmd = tokio::process::Command::new(&spec.command);
    cmd.args(&spec.args)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(spec.env.iter().map(|(k, v)| (k, v)));
    let mut child = cmd
        .spawn()
        .map_err(|e| McpError::Spawn(spec.command.clone(), e))?;
    let stdin = child.stdin.take().expect("piped");
    let stdout = BufReader::new(child.stdout.take().expect("piped"));
    Ok(Conn {
        child,
        stdin,
        stdout,
        next_id: 1,
    })
}

impl Conn {
    async fn send(&mut self, message: &Value) -> Result<(), McpError> {
        let mut line = serde_json::to_vec(message).map_err(|e| McpError::Bad(e.to_string()))?;
        line.push(b'\n');
        self.stdin
            .write_all(&line)
            .await
            .map_err(|_| McpError::Closed)?;
        self.stdin.flush().await.map_err(|_| McpError::Closed)
    }

    async fn notify(&mut self, method: &str) -> Result<(), McpError> {
        self.send(&json!({"jsonrpc": "2.0", "method": method}))
            .await
    }

    /// Sends a request and reads lines until its answer; notifications are skipped and the
    /// server's own pings answered.
    async fn request(&mut self, method: &str, params: Value) -> Result<Value, McpError> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await?;
        loop {
            let line = self.read_line().await?;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let msg: Value =
                serde_json::from_slice(&line).map_err(|e| McpError::Bad(format!("{e}")))?;
            if let Some(m) = msg.get("method").and_then(Value::as_str) {
                if let Some(their) = msg.get("id") {
                    let answer = if m == "ping" {
                        json!({"jsonrpc": "2.0", "id": their, "result": {}})
                    } else {
                        json!({"jsonrpc": "2.0", "id": their, "error": {"code": -32601, "message": "not supported"}})
                    };
                    self.send(&answer).await?;
                }
                continue;
            }
            if msg.get("id").and_then(Value::as_u64) != Some(id) {
                continue; // an answer to a call given up on
            }
            if let Some(e) = msg.get("error") {
                let text = e
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("no message");
                return Err(McpError::Rpc(super::cap(text.to_string(), 2000)));
            }
            return msg
                .get("result")
                .cloned()
                .filter(Value::is_object)
                .ok_or_else(|| McpError::Bad("an answer without a result object".into()));
        }
    }

    async fn read_line(&mut self) -> Result<Vec<u8>, McpError> {
        let mut line = Vec::new();
        loop {
            let buf = self.stdout.fill_buf().await?;
            if buf.is_empty() {
                return Err(McpError::Closed);
            }
            let (take, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if line.len() + take > MAX_LINE {
                return Err(McpError::TooLong);
            }
            line.extend_from_slice(&buf[..take]);
            self.stdout.consume(take);
            if done {
                return Ok(line);
            }
        }
    }
}

/// A listed tool, if its name is plain; the schema made an object when it is not one.
fn tool_of(t: &Value) -> Option<McpTool> {
    let name = t.get("name")?.as_str()?;
    if !plain_name(name) {
        return None;
    }
    let description = t.get("description").and_then(Value::as_str).unwrap_or("");
    let parameters = t
        .get("inputSchema")
        .filter(|s| s.is_object())
        .cloned()
        .unwrap_or_else(|| json!({"type": "object"}));
    Some(McpTool {
        name: name.to_string(),
        description: super::cap(description.to_string(), MAX_DESCRIPTION),
        parameters,
    })
}

/// A call result's text parts joined; other parts named.
fn result_text(r: &Value, max: usize) -> String {
    let mut out = String::new();
    for part in r
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if !out.is_empty() {
            out.push('\n');
        }
        match part.get("type").and_then(Value::as_str) {
            Some("text") => out.push_str(part.get("text").and_then(Value::as_str).unwrap_or("")),
            Some(other) => out.push_str(&format!("[{other} content]")),
            None => out.push_str("[unknown content]"),
        }
        if out.len() > max {
            break;
        }
    }
    if out.is_empty() {
        if let Some(s) = r.get("structuredContent") {
            out = s.to_string();
        }
    }
    super::cap(out, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        let s = parse_spec("files=mcp-files --root ./data -v").unwrap();
        assert_eq!(
            (s.name.as_str(), s.command.as_str()),
            ("files", "mcp-files")
        );
        assert_eq!(s.args, ["--root", "./data", "-v"]);
        for bad in ["nocommand", "=cmd", "a b=cmd", "名=cmd", "x=", "x=   "] {
            assert!(parse_spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn listed_tools_are_checked() {
        let t = tool_of(
            &json!({"name": "grep", "description": "找", "inputSchema": {"type": "object"}}),
        )
        .unwrap();
        assert_eq!((t.name.as_str(), t.description.as_str()), ("grep", "找"));
        assert!(tool_of(&json!({"name": "a\u{1b}[2J"})).is_none());
        assert!(tool_of(&json!({"name": "a.b"})).is_none());
        assert!(tool_of(&json!({"description": "x"})).is_none());
        let t = tool_of(&json!({"name": "x", "inputSchema": "nope"})).unwrap();
        assert_eq!(t.parameters, json!({"type": "object"}));
    }

    #[test]
    fn result_texts() {
        let r = json!({"content": [{"type": "text", "text": "一"}, {"type": "image", "data": "…"}, {"type": "text", "text": "二"}]});
        assert_eq!(result_text(&r, 100), "一\n[image content]\n二");
        assert_eq!(
            result_text(&json!({"structuredContent": {"a": 1}}), 100),
            r#"{"a":1}"#
        );
        assert!(result_text(
            &json!({"content": [{"type": "text", "text": "x".repeat(50)}]}),
            10
        )
        .contains("[cut"));
    }
}
