//! Saved sessions at scale: generates 10,000 sessions with 1 GiB of mixed English and Chinese
//! text in a temporary home (deleted at the end), then times the release binary: the first
//! index build (`sessions reindex`), `sessions search` for a rare word, a common phrase and a
//! Chinese word once indexed, the first search after 100 new sessions, the list, and start-up
//! with `--continue`. Medians, peak memory (from `wait4`) and the index's size.
//!
//! `cargo bench --bench sessions` (or `scripts/bench sessions`). `BENCH_RUNS=N` runs per
//! scenario (default 15); `BENCH_SESSIONS` and `BENCH_MIB` shrink or grow the data.
//! `BENCH_HOME=DIR` keeps the generated home in DIR (made when missing, reused as it is when
//! present, never deleted) for timing commands by hand against it.

#[path = "e2e/measure.rs"]
#[allow(dead_code)]
mod measure;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use measure::{run_piped, Sample};
use ollama_chat::conversation::TurnStatus;
use ollama_chat::options::Options;
use ollama_chat::session::format::{event_line, header_line, Change, Event, Header, Reply};

/// The targets.
const SEARCH: Duration = Duration::from_millis(100);
const FIRST_AFTER_NEW: Duration = Duration::from_secs(1);
const LIST: Duration = Duration::from_millis(200);
const CONTINUE: Duration = Duration::from_millis(100);

/// A word that only three sessions hold.
const RARE: &str = "zygomorphic";
/// A phrase in about one session of ten, made of words found everywhere.
const PHRASE: &str = "\"the weather today\"";
const CHINESE: &str = "天气";

fn main() {
    if let Err(e) = run() {
        eprintln!("sessions benchmark failed: {e}");
        std::process::exit(1);
    }
}

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let runs = env_num("BENCH_RUNS", 15);
    let sessions = env_num("BENCH_SESSIONS", 10_000);
    let mib = env_num("BENCH_MIB", 1024);
    let home = match std::env::var_os("BENCH_HOME") {
        Some(dir) => Home::Kept(dir.into()),
        None => Home::Temporary(tempfile::tempdir()?),
    };
    let dir = home.path().join(".local/share/ollama-chat/sessions");
    std::fs::create_dir_all(&dir)?;
    let reused = std::fs::read_dir(&dir)?.next().is_some();
    let per_session = mib * 1024 * 1024 / sessions;

    let started = Instant::now();
    let mut rng = Rng(0x5e55_1015);
    let bytes = if reused {
        dir_size(&dir)
    } else {
        let mut bytes = 0;
        for i in 0..sessions {
            bytes += write_session(&dir, &mut rng, i, per_session)?.0;
        }
        bytes as u64
    };
    println!(
        "{} {sessions} sessions, {:.0} MiB of English and Chinese, in {:.1} s",
        if reused { "reused" } else { "generated" },
        bytes as f64 / 1048576.0,
        started.elapsed().as_secs_f64()
    );

    let cmd = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ollama-chat"));
        c.args(args)
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            // Nothing listens there: `--continue -p` starts, loads the session, and fails at once.
            .env("OLLAMA_HOST", "127.0.0.1:9")
            .env("COLUMNS", "120");
        c
    };
    let once = |args: &[&str]| -> Result<Sample, Box<dyn std::error::Error>> {
        let s = run_piped(cmd(args))?;
        Ok(s)
    };

    // A kept home's index is built once (a hundred seconds), on the first run.
    if !reused || !home.path().join(".local/share/ollama-chat/index").exists() {
        let s = once(&["sessions", "reindex"])?;
        let index_size = dir_size(&home.path().join(".local/share/ollama-chat/index"));
        println!(
            "first index build (sessions reindex): {:.1} s (CPU {:.1} s), peak {:.0} MiB; index {:.0} MiB ({:.0}% of the text)",
            s.wall.as_secs_f64(),
            s.cpu.as_secs_f64(),
            mib_of(s.max_rss),
            index_size as f64 / 1048576.0,
            100.0 * index_size as f64 / bytes as f64
        );
    }

    let mut ok = true;
    let mut report = |what: &str,
                      args: &[&str],
                      target: Duration|
     -> Result<(), Box<dyn std::error::Error>> {
        let mut walls = Vec::new();
        let mut cpus = Vec::new();
        let mut rss = 0;
        let mut lines = 0;
        for _ in 0..runs {
            let s = once(args)?;
            walls.push(s.wall);
            cpus.push(s.cpu);
            rss = rss.max(s.max_rss);
            lines = s.output.lines;
        }
        walls.sort();
        cpus.sort();
        let median = walls[walls.len() / 2];
        let pass = median < target;
        ok &= pass;
        println!(
            "{what:<38} median {:>7.1} ms (min {:.1}, max {:.1}; CPU {:.1}), peak {:>5.1} MiB, {lines} lines out  [target < {} ms: {}]",
            ms(median),
            ms(walls[0]),
            ms(walls[walls.len() - 1]),
            ms(cpus[cpus.len() / 2]),
            mib_of(rss),
            target.as_millis(),
            if pass { "ok" } else { "MISSED" }
        );
        Ok(())
    };
    report("search, a rare word", &["sessions", "search", RARE], SEARCH)?;
    report(
        "search, a common phrase",
        &["sessions", "search", PHRASE],
        SEARCH,
    )?;
    report(
        "search, a Chinese word (天气)",
        &["sessions", "search", CHINESE],
        SEARCH,
    )?;
    report(
        "search, common phrase, --json -n 100",
        &["sessions", "search", "--json", "-n", "100", PHRASE],
        SEARCH,
    )?;
    report("sessions (the list)", &["sessions"], LIST)?;
    // `--continue -p` finds and loads the newest session, then fails at once to reach the server
    // (nothing listens on port 9): the whole run is the start-up plus a refused connection.
    for (what, args) in [
        (
            "--continue start-up (to the request)",
            &["--continue", "-p", "hi"][..],
        ),
        (
            "the same without a session (reference)",
            &["-m", "x", "-p", "hi"][..],
        ),
    ] {
        let mut walls = Vec::new();
        for _ in 0..runs {
            let started = Instant::now();
            let out = cmd(args).output()?;
            walls.push(started.elapsed());
            let err = String::from_utf8_lossy(&out.stderr);
            if out.status.code() != Some(3) || !err.contains("cannot reach") {
                return Err(format!("--continue did not get as far as the request: {err}").into());
            }
        }
        walls.sort();
        let median = walls[walls.len() / 2];
        let pass = median < CONTINUE;
        if !what.contains("reference") {
            ok &= pass;
        }
        println!(
            "{:<38} median {:>7.1} ms (min {:.1}, max {:.1})  [target < {} ms: {}]",
            what,
            ms(median),
            ms(walls[0]),
            ms(walls[walls.len() - 1]),
            CONTINUE.as_millis(),
            if pass { "ok" } else { "MISSED" }
        );
    }

    // 100 chats happened since: the next search indexes them first.
    let mut new = Vec::new();
    for i in sessions..sessions + 100 {
        new.push(write_session(&dir, &mut rng, i, per_session)?.1);
    }
    let s = once(&["sessions", "search", RARE])?;
    let pass = s.wall < FIRST_AFTER_NEW;
    ok &= pass;
    println!(
        "first search after 100 new sessions: {:.0} ms (CPU {:.0} ms), peak {:.1} MiB  [target < 1 s: {}]",
        ms(s.wall),
        ms(s.cpu),
        mib_of(s.max_rss),
        if pass { "ok" } else { "MISSED" }
    );
    let index_size = dir_size(&home.path().join(".local/share/ollama-chat/index"));
    println!("index now {:.0} MiB", index_size as f64 / 1048576.0);
    println!("(load average while measuring: {})", load_average());
    if let Home::Kept(_) = home {
        // A kept home stays as it was generated (the next search drops these from the index).
        for path in new {
            std::fs::remove_file(path)?;
        }
    }
    drop(home);
    if !ok {
        return Err("a target was missed".into());
    }
    Ok(())
}

/// Where the generated sessions live.
enum Home {
    Temporary(tempfile::TempDir),
    /// `BENCH_HOME`: kept, and reused by the next run.
    Kept(std::path::PathBuf),
}

impl Home {
    fn path(&self) -> &Path {
        match self {
            Home::Temporary(t) => t.path(),
            Home::Kept(p) => p,
        }
    }
}

/// Other work on the machine slows every figure: say how much there was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib_of(bytes: u64) -> f64 {
    bytes as f64 / 1048576.0
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// xorshift64*: the same data every run, no crate needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Roughly Zipf: small indices far more often.
    fn zipf(&mut self, n: usize) -> usize {
        let r = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((n as f64).powf(r) as usize).saturating_sub(1).min(n - 1)
    }
}

const ENGLISH: &str = "the of and to in is it that for you was with on as have be at this are \
    but not by from or which one all had they we an there were your can more if will about \
    would when what so no out up into has them some time could these two way like then my \
    other make than first been its who now people see only over know water long little very \
    after words called just where most get through back much before go good new write our \
    used me man too any day same right look think also around another came come work three \
    word must because does part even place well such here take why help put different away \
    again off went old number great tell men say small every found still between name should \
    home big give air line set own under read last never us left end along while might next \
    sound below saw something thought both few those always show large often together asked \
    house world going want school important until form food keep children feet land side \
    without boy once animal life enough took four head above kind began almost live page got \
    earth need far hand high year mother light country father let night picture being study \
    second soon story since white ever paper hard near sentence better best across during \
    today however sure knew try told young sun thing whole hear example heard several change \
    answer room sea against top turned learn point city play toward five himself usually \
    money seen car morning rust memory borrow checker compiler thread async function value \
    weather forecast rain cloud model token context window session search index query";

const HANZI: &str = "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于\
    着下自之年过发后作里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心\
    她本前开但因只从想实日军者意无力它与长把机十民第公此已工使情明性知全三又关点正业外将两高间由问很最重\
    并物手应战向头文体政美相见被利什二等产或新己制身果加西斯月话合回特代内信表化老给世位次度门任常先海通\
    教儿原东声提立及比员解水名真论处走义各入几口认条平系气题活尔更别打女变四神总何电数安少报才结反受目太\
    量再感建务做接必场件计管期市直德资命山金指克许统区保至队形社便空决治展马科司五基眼书非则听白却界达光\
    放强即像难且权思王象完设式色路记南品住告类求据程北边死张该交规万取拉格望觉术领共确传师观清今切院让识";

fn words(list: &str) -> Vec<&str> {
    list.split_whitespace().collect()
}

/// One sentence: English (Zipf-chosen words) or Chinese (characters and two-character words).
fn sentence(rng: &mut Rng, out: &mut String, english: &[&str], hanzi: &[char]) {
    if rng.below(3) == 0 {
        for _ in 0..12 + rng.below(30) {
            out.push(hanzi[rng.zipf(hanzi.len())]);
        }
        if rng.below(40) == 0 {
            out.push_str("上海的天气");
        }
        out.push('。');
    } else {
        let n = 6 + rng.below(16);
        for i in 0..n {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(english[rng.zipf(english.len())]);
        }
        out.push_str(". ");
    }
}

fn text(rng: &mut Rng, bytes: usize, english: &[&str], hanzi: &[char]) -> String {
    let mut s = String::with_capacity(bytes + 200);
    while s.len() < bytes {
        sentence(rng, &mut s, english, hanzi);
    }
    s
}

/// Writes session `i` (about `bytes` long) as a chat would: a header, then turns of a short
/// question and a long answer. Returns its size and path.
fn write_session(
    dir: &Path,
    rng: &mut Rng,
    i: usize,
    bytes: usize,
) -> std::io::Result<(usize, std::path::PathBuf)> {
    let english = words(ENGLISH);
    let hanzi: Vec<char> = HANZI.chars().filter(|c| !c.is_whitespace()).collect();
    let model = ["llama3.2:latest", "qwen3:8b", "mistral:7b"][i % 3];
    let mut h = Header::new(model, "http://127.0.0.1:11434", None, &Options::default());
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
        + chrono::Duration::minutes(i as i64 * 50);
    h.created = start;
    let mut file = header_line(&h) + "\n";
    let turns = 20;
    let answer = bytes / turns;
    for t in 0..turns {
        let at = start + chrono::Duration::seconds(t as i64 * 30);
        let mut q = text(rng, 200, &english, &hanzi);
        if i % 10 == 3 && t == 2 {
            q.push_str(" What about the weather today?");
        }
        let mut a = text(rng, answer.saturating_sub(400), &english, &hanzi);
        if [17, 4242, 9001].contains(&i) && t == 5 {
            a.push_str(&format!(" The flower is {RARE}."));
        }
        for change in [
            Change::User {
                content: q,
                images: Vec::new(),
            },
            Change::Assistant(Reply {
                content: a,
                thinking: String::new(),
                status: TurnStatus::Ok,
                error: None,
                latency: 1.0,
                ttft: Some(0.1),
                prompt_tokens: Some(100),
                completion_tokens: Some(500),
                tokens_per_second: Some(50.0),
                done_reason: Some("stop".into()),
                tool_calls: Vec::new(),
            }),
        ] {
            file.push_str(&event_line(&Event { at, change }));
            file.push('\n');
        }
    }
    let path = dir.join(format!("{}.jsonl", h.id));
    let mut f = std::fs::File::create(&path)?;
    f.write_all(file.as_bytes())?;
    // Old sessions look old; the newest is the last one written.
    let mtime =
        std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(start.timestamp() as u64 + 600);
    f.set_modified(mtime)?;
    Ok((file.len(), path))
}
