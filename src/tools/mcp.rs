//! The MCP client: starts a stdio server, lists its tools and calls them, through the official
//! SDK (`rmcp`): the issue asks for a maintained crate, and the SDK follows the protocol's
//! revisions (handshake, version negotiation, pings, cancellation) so this module need not.
//! With only its `client` and `transport-async-rw` features it adds nine crates to the build
//! (`futures`, `tokio-stream`, `unicode-normalization`…), rmcp itself the largest.
//!
//! A server is hostile like any outside text, and some limits stay ours:
//! - the process is ours, not the SDK's (its `TokioChildProcess` kills only the child, from a
//!   task spawned on drop): it runs in its own process group, killed at once when the
//!   connection is dropped (a timeout, Ctrl-C, a failed call), and it gets no environment
//!   variable but `PATH` and what was configured for it (`env` in its `[mcp.NAME]` table): no
//!   API key, no `HOME`. `PATH` passes because launchers find their interpreter through it
//!   (`npx` is `#!/usr/bin/env node`, `uvx` runs Python): without it most servers would not
//!   start. A configured `PATH` replaces it;
//! - its output is checked on its way to the SDK (`Guard`): the SDK drops a line longer than
//!   16 MiB, or one that is not JSON, and reads on, which would leave the person waiting for
//!   the time limit with no reason given; here a line past 4 MiB, or one that cannot start a
//!   message, ends the connection with one;
//! - its tool names must be plain identifiers, at most `MAX_TOOLS` are taken from at most
//!   `MAX_PAGES` pages of its list, descriptions and results are cut, and texts are sanitised
//!   where they are shown.

use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ContentBlock,
    Implementation, PaginatedRequestParams, ProtocolVersion, Tool,
};
use rmcp::service::{ClientInitializeError, RunningService};
use rmcp::{RoleClient, ServiceError, ServiceExt};
use serde_json::Value;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::ToolError;

/// The longest line a server may send.
const MAX_LINE: usize = 4 << 20;
/// The most tools taken from one server, from at most so many pages of its list (a server
/// could page forever), and the longest description kept.
const MAX_TOOLS: usize = 200;
const MAX_PAGES: usize = 20;
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

/// A running server: the SDK's session over its pipes, and its process group.
struct Conn {
    service: RunningService<RoleClient, ClientConfig>,
    /// What the guard on its output saw, if it ended the connection.
    fault: Arc<OnceLock<Fault>>,
    _group: Group,
}

/// The server's process, its group killed on drop: a server's own children (`npx` starts
/// `node`) go with it.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(pgid) = self
            .0
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
    /// Well-formed, but not what the request asks for (as the SDK judges it).
    #[error("gave an unexpected answer to {0}")]
    Unexpected(&'static str),
}

/// What [`Guard`] found wrong in a server's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    TooLong,
    NotJson,
}

impl From<Fault> for McpError {
    fn from(f: Fault) -> Self {
        match f {
            Fault::TooLong => McpError::TooLong,
            Fault::NotJson => McpError::Bad("a line that is not a JSON message".into()),
        }
    }
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
            let (group, stdout, stdin) = spawn(&self.spec)?;
            let fault = Arc::new(OnceLock::new());
            let output = Guard {
                inner: stdout,
                line: Lines::default(),
                fault: fault.clone(),
            };
            let service = client_config()
                .serve((output, stdin))
                .await
                .map_err(|e| fault_or(&fault, init_error(e)))?;
            let mut tools = Vec::new();
            let mut cursor = None;
            for _ in 0..MAX_PAGES {
                let params = PaginatedRequestParams::default().with_cursor(cursor);
                let page = service
                    .list_tools(Some(params))
                    .await
                    .map_err(|e| fault_or(&fault, service_error(e, "tools/list")))?;
                let room = MAX_TOOLS - tools.len();
                tools.extend(page.tools.iter().filter_map(tool_of).take(room));
                cursor = page.next_cursor;
                if cursor.is_none() {
                    break;
                }
            }
            let conn = Conn {
                service,
                fault,
                _group: group,
            };
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
        let Some(conn) = self.conn.take() else {
            return Err(failed(McpError::Closed));
        };
        let mut params = CallToolRequestParams::new(tool.to_string());
        params.arguments = args.as_object().cloned();
        match conn.service.peer().call_tool(params).await {
            Ok(r) => {
                self.conn = Some(conn);
                let text = result_text(&r, max);
                if r.is_error == Some(true) {
                    Err(ToolError::Failed(text))
                } else {
                    Ok(text)
                }
            }
            Err(ServiceError::McpError(e)) => {
                self.conn = Some(conn);
                Err(ToolError::Failed(
                    McpError::Rpc(super::cap(e.message.into_owned(), 2000)).to_string(),
                ))
            }
            Err(e) => Err(failed(fault_or(
                &conn.fault,
                service_error(e, "tools/call"),
            ))),
        }
    }
}

/// How the client introduces itself. It offers no capability (no sampling, no roots), and
/// asks for the newest version that still has the `initialize` handshake.
fn client_config() -> ClientConfig {
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("ollama-chat", env!("CARGO_PKG_VERSION")),
    )
    .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
}

fn spawn(spec: &McpSpec) -> Result<(Group, ChildStdout, ChildStdin), McpError> {
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
    let stdout = child.stdout.take().expect("piped");
    Ok((Group(child), stdout, stdin))
}

/// The guard's reason when it ended the connection, else the SDK's.
fn fault_or(fault: &OnceLock<Fault>, e: McpError) -> McpError {
    fault.get().map_or(e, |&f| f.into())
}

/// The SDK's start-up errors in this module's terms; none carries the server's text but an
/// error message (its other messages print what the server sent).
fn init_error(e: ClientInitializeError) -> McpError {
    match e {
        ClientInitializeError::JsonRpcError(e) => {
            McpError::Rpc(super::cap(e.message.into_owned(), 2000))
        }
        ClientInitializeError::ConnectionClosed(_)
        | ClientInitializeError::TransportError { .. }
        | ClientInitializeError::Cancelled => McpError::Closed,
        _ => McpError::Unexpected("initialize"),
    }
}

/// The SDK's errors for a request (`method`) in this module's terms.
fn service_error(e: ServiceError, method: &'static str) -> McpError {
    match e {
        ServiceError::McpError(e) => McpError::Rpc(super::cap(e.message.into_owned(), 2000)),
        ServiceError::TransportClosed
        | ServiceError::TransportSend(_)
        | ServiceError::Cancelled { .. } => McpError::Closed,
        ServiceError::Timeout { timeout } => McpError::Timeout(timeout.as_secs()),
        _ => McpError::Unexpected(method),
    }
}

/// Where a server's output stands between two reads: the current line's length, and what its
/// first non-blank byte was (`None` before it).
#[derive(Debug, Default, Clone, Copy)]
struct Lines {
    len: usize,
    first: Option<u8>,
}

impl Lines {
    /// Takes the next bytes: a line past [`MAX_LINE`] is a fault as soon as it is, and a whole
    /// line whose first non-blank byte cannot start a JSON-RPC message (`{`, `[` for a batch,
    /// or a UTF-8 byte-order mark) is one at its end, as if each line were read and parsed.
    fn feed(&mut self, bytes: &[u8]) -> Result<(), Fault> {
        for &b in bytes {
            if b == b'\n' {
                if self.first.is_some_and(|f| !matches!(f, b'{' | b'[' | 0xEF)) {
                    return Err(Fault::NotJson);
                }
                *self = Lines::default();
                continue;
            }
            self.len += 1;
            if self.len > MAX_LINE {
                return Err(Fault::TooLong);
            }
            if self.first.is_none() && !b.is_ascii_whitespace() {
                self.first = Some(b);
            }
        }
        Ok(())
    }
}

/// A server's output on its way to the SDK: ends it with an error (the SDK then closes the
/// connection) at the first [`Fault`], which is kept for the message.
struct Guard<R> {
    inner: R,
    line: Lines,
    fault: Arc<OnceLock<Fault>>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Guard<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(f) = this.fault.get() {
            return Poll::Ready(Err(io::Error::other(McpError::from(*f).to_string())));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if let Err(f) = this.line.feed(&buf.filled()[before..]) {
            // A read that fails has read nothing: the good lines before the fault go too, as
            // the connection does.
            buf.set_filled(before);
            let _ = this.fault.set(f);
            return Poll::Ready(Err(io::Error::other(McpError::from(f).to_string())));
        }
        Poll::Ready(Ok(()))
    }
}

/// A listed tool, if its name is plain.
fn tool_of(t: &Tool) -> Option<McpTool> {
    if !plain_name(&t.name) {
        return None;
    }
    let description = t.description.as_deref().unwrap_or("");
    Some(McpTool {
        name: t.name.to_string(),
        description: super::cap(description.to_string(), MAX_DESCRIPTION),
        parameters: Value::Object((*t.input_schema).clone()),
    })
}

/// A call result's text parts joined; other parts named.
fn result_text(r: &CallToolResult, max: usize) -> String {
    let mut out = String::new();
    for part in &r.content {
        if !out.is_empty() {
            out.push('\n');
        }
        match part {
            ContentBlock::Text(t) => out.push_str(&t.text),
            ContentBlock::Image(_) => out.push_str("[image content]"),
            ContentBlock::Audio(_) => out.push_str("[audio content]"),
            ContentBlock::Resource(_) => out.push_str("[resource content]"),
            ContentBlock::ResourceLink(_) => out.push_str("[resource_link content]"),
            _ => out.push_str("[unknown content]"),
        }
        if out.len() > max {
            break;
        }
    }
    if out.is_empty() {
        if let Some(s) = &r.structured_content {
            out = s.to_string();
        }
    }
    super::cap(out, max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    fn tool(v: Value) -> Result<Tool, serde_json::Error> {
        serde_json::from_value(v)
    }

    #[test]
    fn listed_tools_are_checked() {
        let schema = json!({"type": "object"});
        let t = tool_of(
            &tool(json!({"name": "grep", "description": "找", "inputSchema": schema})).unwrap(),
        )
        .unwrap();
        assert_eq!((t.name.as_str(), t.description.as_str()), ("grep", "找"));
        assert_eq!(t.parameters, schema);
        for bad in ["a\u{1b}[2J", "a.b", "", "bad name"] {
            let t = tool(json!({"name": bad, "inputSchema": schema})).unwrap();
            assert!(tool_of(&t).is_none(), "{bad:?}");
        }
        let long =
            tool(json!({"name": "x", "description": "d".repeat(5000), "inputSchema": schema}));
        assert!(tool_of(&long.unwrap()).unwrap().description.len() < 2100);
        // The SDK refuses a tool without a name or an object schema (and so the page it is on).
        assert!(tool(json!({"description": "x", "inputSchema": schema})).is_err());
        assert!(tool(json!({"name": "x", "inputSchema": "nope"})).is_err());
    }

    #[test]
    fn result_texts() {
        let text = |v: Value, max| result_text(&serde_json::from_value(v).unwrap(), max);
        let r = json!({"content": [{"type": "text", "text": "一"}, {"type": "image", "data": "…", "mimeType": "image/png"}, {"type": "text", "text": "二"}]});
        assert_eq!(text(r, 100), "一\n[image content]\n二");
        assert_eq!(
            text(json!({"content": [], "structuredContent": {"a": 1}}), 100),
            r#"{"a":1}"#
        );
        assert!(text(
            json!({"content": [{"type": "text", "text": "x".repeat(50)}]}),
            10
        )
        .contains("[cut"));
    }

    #[test]
    fn sdk_errors_become_one_line() {
        let said = |e: McpError| e.to_string();
        let rpc = rmcp::ErrorData::invalid_params("x".repeat(5000), None);
        let e = said(service_error(ServiceError::McpError(rpc), "tools/call"));
        assert!(
            e.starts_with("answered with an error: xxx") && e.len() < 2100,
            "{e}"
        );
        let e = said(service_error(
            ServiceError::UnexpectedResponse,
            "tools/list",
        ));
        assert_eq!(e, "gave an unexpected answer to tools/list");
        let e = service_error(ServiceError::TransportClosed, "tools/call");
        assert_eq!(said(e), "closed its output (it may have crashed)");
        let closed = ClientInitializeError::ConnectionClosed("initialize response".into());
        assert!(matches!(init_error(closed), McpError::Closed));
        let odd = ClientInitializeError::ExpectedInitResult(None);
        assert_eq!(
            said(init_error(odd)),
            "gave an unexpected answer to initialize"
        );
    }

    /// Feeds `stream` to a fresh [`Lines`] cut in two at every point, and says what it found.
    fn scan(stream: &[u8]) -> Result<(), Fault> {
        let whole = Lines::default().feed(stream);
        for cut in 0..=stream.len() {
            let mut lines = Lines::default();
            let split = lines
                .feed(&stream[..cut])
                .and_then(|()| lines.feed(&stream[cut..]));
            assert_eq!(split, whole, "cut at {cut}");
        }
        whole
    }

    #[test]
    fn output_lines_are_checked_at_every_split() {
        let ok = b"{\"jsonrpc\":\"2.0\"}\n\n  \r\n  {\"id\":1}\r\n[{}]\n\xEF\xBB\xBF{}\n{\"half";
        assert_eq!(scan(ok), Ok(()));
        assert_eq!(scan(b"{}\n<html>\x1b[2J</html>\n"), Err(Fault::NotJson));
        assert_eq!(scan(b"  Listening on stdio\n"), Err(Fault::NotJson));
        assert_eq!(scan(b"{}\nListening, no newline yet"), Ok(()));
        let long = vec![b'a'; MAX_LINE + 1];
        assert_eq!(
            Lines::default().feed(&long),
            Err(Fault::TooLong),
            "before its end"
        );
        let mut long = vec![b'{'; MAX_LINE];
        assert_eq!(Lines::default().feed(&long), Ok(()));
        long.push(b'\n');
        long.extend_from_slice(&long.clone());
        assert_eq!(
            Lines::default().feed(&long),
            Ok(()),
            "two lines at the limit"
        );
        long.pop();
        long.push(b'}');
        let mut lines = Lines::default();
        assert_eq!(lines.feed(&long[..MAX_LINE + 3]), Ok(()));
        assert_eq!(lines.feed(&long[MAX_LINE + 3..]), Err(Fault::TooLong));
    }

    #[tokio::test]
    async fn the_guard_ends_the_output_at_a_fault_and_keeps_why() {
        use tokio::io::AsyncReadExt;
        let fault = Arc::new(OnceLock::new());
        let mut guard = Guard {
            inner: &b"{}\nnot json\n{}\n"[..],
            line: Lines::default(),
            fault: fault.clone(),
        };
        let mut out = Vec::new();
        assert!(guard.read_to_end(&mut out).await.is_err());
        assert_eq!(fault.get(), Some(&Fault::NotJson));
        assert!(
            guard.read_to_end(&mut out).await.is_err(),
            "and stays ended"
        );
        let e = fault_or(&fault, McpError::Closed);
        assert!(e
            .to_string()
            .starts_with("sent something that is not JSON-RPC"));
        assert!(matches!(
            fault_or(&OnceLock::new(), McpError::Closed),
            McpError::Closed
        ));
    }

    /// The test MCP server of `tests/fixtures`, in one of its modes.
    fn fixture(mode: &str) -> McpSpec {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mcp/server.sh");
        McpSpec {
            name: "t".into(),
            command: "sh".into(),
            args: vec![script.into(), mode.into()],
            env: Vec::new(),
        }
    }

    /// Whether any process of the group is left, within two seconds.
    async fn group_gone(pgid: u32) -> bool {
        let pgid = rustix::process::Pid::from_raw(pgid as i32).unwrap();
        for _ in 0..40 {
            if rustix::process::test_kill_process_group(pgid).is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    #[tokio::test]
    async fn a_server_lists_answers_and_its_group_dies_with_a_dropped_call() {
        let mut server = McpServer::new(fixture("ok"));
        let tools = server.start(Duration::from_secs(10)).await.unwrap();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["echo", "fail", "hang", "crash"]);
        let echo = server.call("echo", &json!({"text": "你好"}), 100).await;
        assert_eq!(echo, Ok("echo: 你好".into()));
        let failed = server.call("fail", &json!({}), 100).await;
        assert_eq!(failed, Err(ToolError::Failed("it failed".into())));
        // A call given up on (its `sleep 60` in the server's group) takes the server with it.
        let pgid = server.conn.as_ref().unwrap()._group.0.id().unwrap();
        let none = json!({});
        let hang = server.call("hang", &none, 100);
        assert!(tokio::time::timeout(Duration::from_millis(300), hang)
            .await
            .is_err());
        assert!(server.conn.is_none());
        assert!(
            group_gone(pgid).await,
            "the server's group outlived the call"
        );
        // The next call starts it again.
        let echo = server.call("echo", &json!({"text": "again"}), 100).await;
        assert_eq!(echo, Ok("echo: again".into()));
        let pgid = server.conn.as_ref().unwrap()._group.0.id().unwrap();
        drop(server);
        assert!(group_gone(pgid).await, "the server outlived its drop");
    }

    #[tokio::test]
    async fn a_server_that_prints_text_mid_call_is_dropped_with_why() {
        let mut server = McpServer::new(fixture("babble"));
        server.start(Duration::from_secs(10)).await.unwrap();
        let e = server.call("echo", &json!({"text": "x"}), 100).await;
        let Err(ToolError::Failed(e)) = e else {
            panic!("{e:?}")
        };
        assert!(
            e.starts_with("MCP server t: sent something that is not JSON-RPC"),
            "{e}"
        );
        assert!(server.conn.is_none());
    }

    /// The SDK parses a tools page whole: one malformed tool fails the list at once (the hand-
    /// written client skipped it), with one line rather than a wait for the time limit.
    #[tokio::test]
    async fn a_malformed_tool_fails_the_list_at_once() {
        let mut server = McpServer::new(fixture("badtool"));
        let started = std::time::Instant::now();
        let e = server.start(Duration::from_secs(10)).await.unwrap_err();
        assert_eq!(e.to_string(), "gave an unexpected answer to tools/list");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
