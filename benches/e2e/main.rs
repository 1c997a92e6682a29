//! End-to-end speed of the release binary against `curl -N`, side by side, on the in-repo fake
//! Ollama in fast-stream mode: medians over alternating runs, and each as a ratio to curl.
//!
//! `cargo bench --bench e2e [-- SCENARIO]` (or `scripts/bench`). `BENCH_RUNS=N` sets the runs per
//! scenario (default 15; the short ones run twice as many); `BENCH_CLIENT=PATH` measures another
//! build of the binary instead of this one. The `net` scenario runs both programs through a proxy
//! that delays each direction by 25 ms, as a server across a LAN or VPN would.
//!
//! Layout: `measure` (one child: wall, CPU, peak memory, first byte on a pseudo-terminal, a REPL's
//! turn); `turn_cost` (the REPL's own work per turn, in-process); `../support/delay_proxy` (the
//! link); this file (scenarios and report).
//! The fake server runs as a child process: this binary started again with `--fake-server`.

mod measure;
mod turn_cost;

// Public so that the fake's API for the tests, unused here, is not dead code.
#[path = "../support/fake_server.rs"]
pub mod fake_server;

#[path = "../support/delay_proxy.rs"]
mod delay_proxy;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use delay_proxy::DelayProxy;
use measure::{run_on_pty, run_piped, run_repl_turn, Sample};
use turn_cost::Window;

/// The binary under test: this build's, or another one named by `BENCH_CLIENT` (to compare builds).
fn client_path() -> std::ffi::OsString {
    std::env::var_os("BENCH_CLIENT").unwrap_or_else(|| env!("CARGO_BIN_EXE_ollama-chat").into())
}
const PROMPT: &str = "Tell me a story about a fox. 講個故事。";
/// The server's own time to first token in the first-token scenario.
const SERVER_DELAY: Duration = Duration::from_millis(50);

/// Targets from the issue, as ratios to curl (the per-turn one is absolute).
const TARGET_ONE_TOKEN: f64 = 1.3;
const TARGET_LONG: f64 = 3.0;
const TARGET_MEMORY: f64 = 1.5;
const TARGET_FIRST: f64 = 1.5;
const TARGET_TURN: Duration = Duration::from_millis(1);
/// Markdown rendering on a terminal against the same reply shown raw (`--raw`).
const TARGET_MARKDOWN_CPU: f64 = 2.0;
const TARGET_MARKDOWN_FIRST: f64 = 1.5;
/// Peak memory while sending a 20 MB image, as a multiple of the image's size.
const TARGET_IMAGE_MEMORY: f64 = 3.0;
/// The image of that scenario: a photo-sized file (a PNG header, then bytes that do not compress).
const IMAGE_BYTES: usize = 20_000_000;
/// Across a link with [`LINK_DELAY`] each way (the delaying proxy): the first token and the wall
/// time against curl's through the same proxy.
const TARGET_NET_FIRST: f64 = 1.1;
const TARGET_NET_WALL: f64 = 1.15;
/// Each way: a 50 ms round trip, as to a GPU box across a LAN or VPN, or a hosted Ollama.
const LINK_DELAY: Duration = Duration::from_millis(25);
/// The window of the sliding per-turn scenario: a common large one, which a 1,000-turn history
/// overflows.
const SLIDING: u64 = 131_072;

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("--fake-server") {
        args.next();
        fake_server::serve(args);
    }
    // `cargo bench` passes `--bench`; any other word picks scenarios by name.
    let filter: Option<String> = args.find(|a| !a.starts_with('-'));
    if let Err(e) = run(filter.as_deref()) {
        eprintln!("e2e benchmark failed: {e}");
        std::process::exit(1);
    }
}

fn run(filter: Option<&str>) -> Result<(), Box<dyn std::error::Error>> {
    let want = |name: &str| filter.is_none_or(|f| name.contains(f));
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(15);
    let home = tempfile::tempdir()?;
    let mut report = Report::default();
    println!(
        "ollama-chat (release) vs curl -N on the fake Ollama in fast-stream mode; one-shot, \
         turn log on; medians of {runs} alternating runs ({} for the short ones)",
        runs * 2
    );

    if want("one-token") || want("long") {
        check_curl()?;
        let fast = FakeServer::start(Duration::ZERO)?;
        // Warm the page cache and both programs' first-run costs.
        for _ in 0..3 {
            run_piped(client(fast.port, home.path(), 1))?;
            run_piped(curl(fast.port, 1))?;
        }
        if want("one-token") {
            let one = alternate(
                runs * 2,
                || run_piped(client(fast.port, home.path(), 1)),
                || run_piped(curl(fast.port, 1)),
            )?;
            check_output(&one, 1)?;
            let what = "one-token reply, wall (start → exit)";
            report.ratio(what, Unit::Ms, &one, |s| s.wall, TARGET_ONE_TOKEN);
        }
        if want("long") {
            let long = alternate(
                runs,
                || run_piped(client(fast.port, home.path(), 100_000)),
                || run_piped(curl(fast.port, 100_000)),
            )?;
            check_output(&long, 100_000)?;
            let what = "long: 100,000-token reply, wall";
            report.ratio(what, Unit::Ms, &long, |s| s.wall, TARGET_LONG);
            let what = "long: 100,000-token reply, CPU (user+sys)";
            report.ratio(what, Unit::Ms, &long, |s| s.cpu, TARGET_LONG);
            let what = "long: 100,000-token reply, peak RSS";
            let rss = |s: &Sample| Duration::from_nanos(s.max_rss);
            report.ratio(what, Unit::MiB, &long, rss, TARGET_MEMORY);
        }
    }
    if want("first-token") {
        check_curl()?;
        let delayed = FakeServer::start(SERVER_DELAY)?;
        let first = alternate(
            runs * 2,
            || run_on_pty(client(delayed.port, home.path(), 10)),
            || run_on_pty(curl(delayed.port, 10)),
        )?;
        let what = "first-token on a terminal, beyond the server's delay";
        let beyond = |s: &Sample| s.first_byte.unwrap_or(s.wall).saturating_sub(SERVER_DELAY);
        report.ratio(what, Unit::Ms, &first, beyond, TARGET_FIRST);
    }
    if want("markdown") {
        markdown(runs, home.path(), &mut report)?;
    }
    if want("image") {
        image(runs, home.path(), &mut report)?;
    }
    if want("net") {
        check_curl()?;
        net(runs, home.path(), &mut report)?;
    }
    if want("preload") {
        preload(runs, home.path(), &mut report)?;
    }
    if want("turn") {
        // Beside the project rather than in the temporary folder: the session is synced every
        // turn, which costs what the disk a home folder is on costs.
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))?;
        let turn = turn_cost::per_turn(1000, Window::Whole, runs * 10, dir.path());
        let what = "turn: REPL own time per turn, 1,000-turn history, all sent";
        report.absolute(what, turn, TARGET_TURN);
        let turn = turn_cost::per_turn(1000, Window::Sliding(SLIDING), runs * 10, dir.path());
        let what = "turn: the same in a full 128k window (oldest exchange left out)";
        report.absolute(what, turn, TARGET_TURN);
    }
    report.print();
    Ok(())
}

/// A markdown-heavy reply to a pseudo-terminal, rendered against `--raw`: the CPU of 100,000
/// tokens, and the first token beyond the server's delay. (The report's columns: rendered, raw.)
fn markdown(
    runs: usize,
    home: &Path,
    report: &mut Report,
) -> Result<(), Box<dyn std::error::Error>> {
    let fast = FakeServer::start_with(Duration::ZERO, &["--markdown"])?;
    let run = |server: &FakeServer, tokens: usize, raw: bool, color: bool| {
        let mut cmd = client(server.port, home, tokens);
        cmd.env("COLUMNS", "100");
        if raw {
            cmd.arg("--raw");
        }
        if !color {
            cmd.env("NO_COLOR", "1");
        }
        run_on_pty(cmd)
    };
    let on_pty = |server: &FakeServer, tokens: usize, raw: bool| run(server, tokens, raw, true);
    for _ in 0..2 {
        on_pty(&fast, 1000, false)?;
        on_pty(&fast, 1000, true)?;
    }
    let long = alternate(
        runs,
        || on_pty(&fast, 100_000, false),
        || on_pty(&fast, 100_000, true),
    )?;
    let what = "markdown: 100,000-token reply on a terminal, CPU, rendered vs --raw";
    report.ratio(what, Unit::Ms, &long, |s| s.cpu, TARGET_MARKDOWN_CPU);
    // The same without colour: the markdown itself, without syntax highlighting.
    let plain = alternate(
        runs,
        || run(&fast, 100_000, false, false),
        || run(&fast, 100_000, true, false),
    )?;
    let what = "markdown: the same with NO_COLOR (no highlighting), CPU";
    report.ratio(what, Unit::Ms, &plain, |s| s.cpu, TARGET_MARKDOWN_CPU);
    let delayed = FakeServer::start_with(SERVER_DELAY, &["--markdown"])?;
    let first = alternate(
        runs * 2,
        || on_pty(&delayed, 10, false),
        || on_pty(&delayed, 10, true),
    )?;
    let what = "markdown: first token beyond the server's delay, rendered vs --raw";
    let beyond = |s: &Sample| s.first_byte.unwrap_or(s.wall).saturating_sub(SERVER_DELAY);
    report.ratio(what, Unit::Ms, &first, beyond, TARGET_MARKDOWN_FIRST);
    Ok(())
}

/// One-shot `--image` of a 20 MB file to a vision model: the peak RSS of the whole run (read,
/// encode, send, reply) against the image's size. No curl column: curl would send a body someone
/// else encoded.
fn image(runs: usize, home: &Path, report: &mut Report) -> Result<(), Box<dyn std::error::Error>> {
    let server = FakeServer::start_with(Duration::ZERO, &["--models", "llava-vision:latest"])?;
    let path = home.join("photo.png");
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while bytes.len() < IMAGE_BYTES {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes.truncate(IMAGE_BYTES);
    std::fs::write(&path, &bytes)?;
    drop(bytes);
    let run = || {
        let mut cmd = Command::new(client_path());
        cmd.args([
            "-m",
            "llava-vision",
            "-o",
            "num_predict=10",
            "-o",
            "num_ctx=8192",
        ])
        .args(["-p", "What is in this photo?", "--image"])
        .arg(&path)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("OLLAMA_HOST", format!("127.0.0.1:{}", server.port));
        run_piped(cmd)
    };
    run()?;
    let mut samples = Vec::new();
    for _ in 0..runs.div_ceil(3) {
        let s = run()?;
        if !String::from_utf8_lossy(&s.output.head).starts_with(" The") {
            return Err("the image run did not get its reply".into());
        }
        samples.push(s);
    }
    let mut rss: Vec<Duration> = samples
        .iter()
        .map(|s| Duration::from_nanos(s.max_rss))
        .collect();
    let peak = median(&mut rss);
    report.of_size(
        "image: 20 MB --image sent, peak RSS vs the image's size",
        peak.as_nanos() as u64,
        IMAGE_BYTES as u64,
        TARGET_IMAGE_MEMORY,
    );
    Ok(())
}

/// Through a TCP proxy that delays each direction by [`LINK_DELAY`]: one-shot on a terminal
/// (first token and exit) and the REPL's first turn (Enter to the first token, and to the next
/// prompt), each against `curl -N` through the same proxy, from its start.
fn net(runs: usize, home: &Path, report: &mut Report) -> Result<(), Box<dyn std::error::Error>> {
    let fake = FakeServer::start(Duration::ZERO)?;
    let proxy = DelayProxy::start(([127, 0, 0, 1], fake.port).into(), LINK_DELAY)?;
    let linked = proxy.port();
    // Each run starts with a fresh home: nothing learned by an earlier run.
    let fresh = || tempfile::tempdir_in(home);
    for _ in 0..2 {
        run_on_pty(client(linked, fresh()?.path(), 10))?;
        run_on_pty(curl(linked, 10))?;
    }
    let oneshot = alternate(
        runs,
        || run_on_pty(client(linked, fresh()?.path(), 10)),
        || run_on_pty(curl(linked, 10)),
    )?;
    let first = |s: &Sample| s.first_byte.unwrap_or(s.wall);
    let what = "net: one-shot through a 25 ms link, first token";
    report.ratio(what, Unit::Ms, &oneshot, first, TARGET_NET_FIRST);
    let what = "net: one-shot through a 25 ms link, wall";
    report.ratio(what, Unit::Ms, &oneshot, |s| s.wall, TARGET_NET_WALL);
    let repl = alternate(
        runs,
        || {
            let dir = fresh()?;
            run_repl_turn(
                repl_client(linked, dir.path(), 10),
                PROMPT,
                Duration::ZERO,
                "The",
            )
        },
        || run_on_pty(curl(linked, 10)),
    )?;
    let what = "net: REPL first turn through a 25 ms link, Enter to first token";
    report.ratio(what, Unit::Ms, &repl, first, TARGET_NET_FIRST);
    let what = "net: REPL first turn, Enter to the next prompt";
    report.ratio(what, Unit::Ms, &repl, |s| s.wall, TARGET_NET_WALL);
    Ok(())
}

/// The REPL against a server that takes [`LOAD`] to load the model, the person typing for as
/// long before pressing Enter: the first token after Enter with the preload and with
/// `--no-preload` (a fresh server each run, so the model is never loaded already).
fn preload(
    runs: usize,
    home: &Path,
    report: &mut Report,
) -> Result<(), Box<dyn std::error::Error>> {
    const LOAD: Duration = Duration::from_secs(2);
    let run = |preload: bool| -> std::io::Result<Sample> {
        let fake = FakeServer::start_with(Duration::ZERO, &["--load-delay-ms", "2000"])
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let dir = tempfile::tempdir_in(home)?;
        let mut cmd = repl_client(fake.port, dir.path(), 10);
        if !preload {
            cmd.arg("--no-preload");
        }
        run_repl_turn(cmd, PROMPT, LOAD, "The")
    };
    let runs = runs.div_ceil(3);
    let pair = alternate(runs, || run(true), || run(false))?;
    let first = |s: &Sample| s.first_byte.unwrap_or(s.wall);
    let what = "preload: first token after typing for 2 s (vs --no-preload) on a 2 s load";
    report.sooner(what, &pair, first, Duration::from_millis(1500));
    Ok(())
}

/// Both programs' samples for one scenario.
struct Pair {
    client: Vec<Sample>,
    curl: Vec<Sample>,
}

/// Runs the two programs in turn, `runs` times each, so that a change in the machine's load
/// affects both alike.
fn alternate(
    runs: usize,
    mut client: impl FnMut() -> std::io::Result<Sample>,
    mut curl: impl FnMut() -> std::io::Result<Sample>,
) -> std::io::Result<Pair> {
    let mut pair = Pair {
        client: Vec::with_capacity(runs),
        curl: Vec::with_capacity(runs),
    };
    for i in 0..runs {
        if i % 2 == 0 {
            pair.client.push(client()?);
            pair.curl.push(curl()?);
        } else {
            pair.curl.push(curl()?);
            pair.client.push(client()?);
        }
    }
    Ok(pair)
}

/// Checks that both programs got the whole reply: the client prints the text, curl the NDJSON.
fn check_output(pair: &Pair, tokens: usize) -> Result<(), String> {
    // The fake cycles through 20 tokens of 4.4 bytes on average: 88 bytes per cycle.
    let text_bytes = tokens / 20 * 88;
    for s in &pair.client {
        let text = String::from_utf8_lossy(&s.output.head);
        if !text.starts_with(" The") || s.output.bytes < text_bytes {
            return Err(format!(
                "unexpected client output ({} bytes): {:?}",
                s.output.bytes,
                &text[..text.len().min(200)]
            ));
        }
    }
    for s in &pair.curl {
        if s.output.lines != tokens + 1 {
            return Err("curl did not get the whole stream".into());
        }
    }
    Ok(())
}

/// The client as a person would run it in a pipe: one-shot, model named, turn log on (in a
/// private temporary home).
fn client(port: u16, home: &Path, tokens: usize) -> Command {
    let mut cmd = repl_client(port, home, tokens);
    cmd.args(["-p", PROMPT]);
    cmd
}

/// The same without a prompt: the REPL.
fn repl_client(port: u16, home: &Path, tokens: usize) -> Command {
    let mut cmd = Command::new(client_path());
    cmd.args(["-m", "tiny", "-o"])
        .arg(format!("num_predict={tokens}"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("TERM", "xterm-256color")
        .env("OLLAMA_HOST", format!("127.0.0.1:{port}"));
    cmd
}

/// The floor: the same request with curl, the raw stream to stdout.
fn curl(port: u16, tokens: usize) -> Command {
    let body = serde_json::json!({
        "model": "tiny",
        "messages": [{"role": "user", "content": PROMPT}],
        "options": {"num_predict": tokens},
    });
    let mut cmd = Command::new("curl");
    cmd.args(["-sSN", "--fail", "--data-binary"])
        .arg(body.to_string())
        .arg(format!("http://127.0.0.1:{port}/api/chat"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TERM", "xterm-256color");
    cmd
}

fn check_curl() -> Result<(), String> {
    match Command::new("curl").arg("--version").output() {
        Ok(o) if o.status.success() => Ok(()),
        _ => Err("curl is needed for the comparison and was not found on PATH".into()),
    }
}

/// The fake Ollama as a child process (this binary with `--fake-server`); killed when dropped.
struct FakeServer {
    child: Child,
    port: u16,
}

impl FakeServer {
    fn start(first_delay: Duration) -> Result<FakeServer, Box<dyn std::error::Error>> {
        Self::start_with(first_delay, &[])
    }

    fn start_with(
        first_delay: Duration,
        extra: &[&str],
    ) -> Result<FakeServer, Box<dyn std::error::Error>> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("--fake-server")
            .arg("--first-token-delay-ms")
            .arg(first_delay.as_millis().to_string())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        BufReader::new(stdout).read_line(&mut line)?;
        let port = line
            .trim()
            .parse()
            .map_err(|_| format!("the fake server said {line:?}, not a port"))?;
        Ok(FakeServer { child, port })
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The median, by sorting in place.
pub fn median(xs: &mut [Duration]) -> Duration {
    xs.sort();
    match xs.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2,
    }
}

#[derive(Clone, Copy)]
enum Unit {
    Ms,
    /// Bytes carried in a `Duration`'s nanoseconds, shown in MiB.
    MiB,
}

impl Unit {
    fn show(self, d: Duration) -> String {
        match self {
            Unit::Ms => format!("{:.2} ms", d.as_secs_f64() * 1e3),
            Unit::MiB => format!("{:.1} MiB", d.as_nanos() as f64 / (1024.0 * 1024.0)),
        }
    }
}

#[derive(Default)]
struct Report {
    rows: Vec<[String; 6]>,
    missed: usize,
}

impl Report {
    fn ratio(
        &mut self,
        what: &str,
        unit: Unit,
        pair: &Pair,
        metric: impl Fn(&Sample) -> Duration,
        target: f64,
    ) {
        let mut ours: Vec<Duration> = pair.client.iter().map(&metric).collect();
        let mut theirs: Vec<Duration> = pair.curl.iter().map(&metric).collect();
        let (ours, theirs) = (median(&mut ours), median(&mut theirs));
        let ratio = ours.as_secs_f64() / theirs.as_secs_f64().max(1e-9);
        let met = ratio <= target;
        self.missed += usize::from(!met);
        self.rows.push([
            what.to_string(),
            unit.show(ours),
            unit.show(theirs),
            format!("{ratio:.2}×"),
            format!("≤ {target}×"),
            if met { "met" } else { "NOT MET" }.to_string(),
        ]);
    }

    /// A size against a reference size (memory against the input it handled).
    fn of_size(&mut self, what: &str, bytes: u64, reference: u64, target: f64) {
        let ratio = bytes as f64 / reference as f64;
        let met = ratio <= target;
        self.missed += usize::from(!met);
        let mib = |b: u64| format!("{:.1} MiB", b as f64 / (1 << 20) as f64);
        self.rows.push([
            what.to_string(),
            mib(bytes),
            format!("(image {})", mib(reference)),
            format!("{ratio:.2}×"),
            format!("≤ {target}×"),
            if met { "met" } else { "NOT MET" }.to_string(),
        ]);
    }

    /// A row whose second column is not curl but the client without a feature, and whose
    /// target is how much sooner the feature makes it.
    fn sooner(
        &mut self,
        what: &str,
        pair: &Pair,
        metric: impl Fn(&Sample) -> Duration,
        target: Duration,
    ) {
        let mut with: Vec<Duration> = pair.client.iter().map(&metric).collect();
        let mut without: Vec<Duration> = pair.curl.iter().map(&metric).collect();
        let (with, without) = (median(&mut with), median(&mut without));
        let gain = without.saturating_sub(with);
        let met = gain >= target;
        self.missed += usize::from(!met);
        self.rows.push([
            what.to_string(),
            Unit::Ms.show(with),
            Unit::Ms.show(without),
            format!("{:.0} ms sooner", gain.as_secs_f64() * 1e3),
            format!("≥ {} ms sooner", target.as_millis()),
            if met { "met" } else { "NOT MET" }.to_string(),
        ]);
    }

    fn absolute(&mut self, what: &str, value: Duration, target: Duration) {
        let met = value < target;
        self.missed += usize::from(!met);
        self.rows.push([
            what.to_string(),
            format!("{:.3} ms", value.as_secs_f64() * 1e3),
            "—".to_string(),
            "—".to_string(),
            format!("< {} ms", target.as_millis()),
            if met { "met" } else { "NOT MET" }.to_string(),
        ]);
    }

    fn print(&self) {
        let header = ["", "ollama-chat", "curl -N", "ratio", "target", ""].map(String::from);
        let mut widths = [0usize; 6];
        for row in std::iter::once(&header).chain(&self.rows) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = format!("{:<w$}", row[0], w = widths[0]);
            for (cell, w) in row.iter().zip(widths).skip(1) {
                let pad = w - cell.chars().count();
                line.push_str("  ");
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            }
            println!("{}", line.trim_end());
        }
        if self.missed == 0 {
            println!("every target met");
        } else {
            println!("{} target(s) not met", self.missed);
        }
    }
}
