//! Runs one child process and measures it from outside: wall time, CPU time and peak memory (from
//! `wait4`), and, under a pseudo-terminal, the time to its first output byte.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What one run cost.
#[derive(Debug, Clone)]
pub struct Sample {
    pub wall: Duration,
    /// User plus system time of the child.
    pub cpu: Duration,
    /// Peak resident set size of the child, in bytes.
    pub max_rss: u64,
    /// Spawn → first byte on the terminal (pseudo-terminal runs only).
    pub first_byte: Option<Duration>,
    pub output: Output,
}

/// What the child printed, summarised as it streams by: keeping a 12 MB stream per run would grow
/// this process, and a child's peak memory counts its parent's pages at `fork` time.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub bytes: usize,
    pub lines: usize,
    /// The first few KiB.
    pub head: Vec<u8>,
    /// The last few KiB.
    pub tail: Vec<u8>,
}

const KEEP: usize = 4096;

impl Output {
    fn push(&mut self, data: &[u8]) {
        self.bytes += data.len();
        self.lines += data.iter().filter(|&&b| b == b'\n').count();
        let room = KEEP.saturating_sub(self.head.len());
        self.head.extend_from_slice(&data[..room.min(data.len())]);
        self.tail
            .extend_from_slice(&data[data.len().saturating_sub(KEEP)..]);
        let excess = self.tail.len().saturating_sub(KEEP);
        self.tail.drain(..excess);
    }
}

/// Runs `cmd` with stdin from /dev/null and stdout into a pipe that is drained as fast as it fills.
pub fn run_piped(mut cmd: Command) -> io::Result<Sample> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn()?;
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let drain = thread::spawn(move || summarise(stdout));
    let drain_err = thread::spawn(move || summarise(stderr));
    let (status, usage) = wait4(child.id())?;
    let wall = start.elapsed();
    let output = drain.join().expect("drain thread")?;
    let errors = drain_err.join().expect("drain thread")?;
    check_status(status, &errors.tail)?;
    Ok(Sample {
        wall,
        cpu: cpu_time(&usage),
        max_rss: max_rss(&usage),
        first_byte: None,
        output,
    })
}

/// Runs `cmd` with stdin, stdout and stderr on a fresh pseudo-terminal, timing the first byte it
/// shows there.
pub fn run_on_pty(mut cmd: Command) -> io::Result<Sample> {
    let (master, slave) = open_pty()?;
    cmd.stdin(Stdio::from(slave.try_clone()?))
        .stdout(Stdio::from(slave.try_clone()?))
        .stderr(Stdio::from(slave));
    let start = Instant::now();
    let child = cmd.spawn()?;
    // The command holds the parent's copies of the terminal's slave side: close them, so that
    // reading the master ends when the child exits.
    drop(cmd);
    let mut master = File::from(master);
    let mut output = Output::default();
    let mut first_byte = None;
    let mut buf = [0u8; 16 * 1024];
    loop {
        match master.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                first_byte.get_or_insert_with(|| start.elapsed());
                output.push(&buf[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // EIO: every slave descriptor is closed, i.e. the child is gone.
            Err(_) => break,
        }
    }
    let (status, usage) = wait4(child.id())?;
    let wall = start.elapsed();
    check_status(status, &output.tail)?;
    Ok(Sample {
        wall,
        cpu: cpu_time(&usage),
        max_rss: max_rss(&usage),
        first_byte,
        output,
    })
}

/// Runs the REPL in `cmd` on a fresh pseudo-terminal as a person would: waits for its prompt,
/// takes `typing` to type `line`, presses Enter, and times from that Enter to the first byte of
/// `reply_starts` on the screen (`first_byte`) and to the next prompt (`wall`); then Ctrl-D.
/// Start-up before the first prompt is not counted.
pub fn run_repl_turn(
    mut cmd: Command,
    line: &str,
    typing: Duration,
    reply_starts: &str,
) -> io::Result<Sample> {
    const PROMPT: &[u8] = b">>> ";
    let (master, slave) = open_pty()?;
    cmd.stdin(Stdio::from(slave.try_clone()?))
        .stdout(Stdio::from(slave.try_clone()?))
        .stderr(Stdio::from(slave));
    let child = cmd.spawn()?;
    drop(cmd);
    let master = File::from(master);
    let mut input = master.try_clone()?;
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, Vec<u8>)>();
    let reader = thread::spawn(move || {
        let mut master = master;
        let mut buf = [0u8; 16 * 1024];
        loop {
            match master.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    });
    let timeout = Duration::from_secs(30);
    let mut screen = Screen::default();
    let wait_for = |needle: &[u8], from: usize, screen: &mut Screen| -> io::Result<Instant> {
        loop {
            if contains(&screen.seen[from..], needle) {
                return Ok(screen.last);
            }
            let (at, bytes) = rx.recv_timeout(timeout).map_err(|_| {
                let tail = &screen.seen[screen.seen.len().saturating_sub(400)..];
                io::Error::other(format!(
                    "the REPL never showed {:?}: {:?}",
                    String::from_utf8_lossy(needle),
                    String::from_utf8_lossy(tail)
                ))
            })?;
            screen.output.push(&bytes);
            screen.seen.extend_from_slice(&bytes);
            screen.last = at;
        }
    };
    wait_for(PROMPT, 0, &mut screen)?;
    thread::sleep(typing);
    let typed_at = screen.seen.len();
    input.write_all(line.as_bytes())?;
    let start = Instant::now();
    input.write_all(b"\r")?;
    let first = wait_for(reply_starts.as_bytes(), typed_at, &mut screen)?;
    let reply_at = screen.seen.len();
    let end = wait_for(PROMPT, reply_at, &mut screen)?;
    input.write_all(b"\x04")?;
    let (status, usage) = wait4(child.id())?;
    drop(input);
    let _ = reader.join();
    check_status(status, &screen.output.tail)?;
    Ok(Sample {
        wall: end.saturating_duration_since(start),
        cpu: cpu_time(&usage),
        max_rss: max_rss(&usage),
        first_byte: Some(first.saturating_duration_since(start)),
        output: screen.output,
    })
}

/// What a REPL run has shown so far, and when its last bytes arrived.
struct Screen {
    seen: Vec<u8>,
    output: Output,
    last: Instant,
}

impl Default for Screen {
    fn default() -> Self {
        Screen {
            seen: Vec::new(),
            output: Output::default(),
            last: Instant::now(),
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn summarise(mut r: impl Read) -> io::Result<Output> {
    let mut out = Output::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.push(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn check_status(status: i32, output: &[u8]) -> io::Result<()> {
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        return Ok(());
    }
    let tail = &output[output.len().saturating_sub(400)..];
    Err(io::Error::other(format!(
        "child failed (wait status {status:#x}): {}",
        String::from_utf8_lossy(tail)
    )))
}

/// Reaps the child and returns its exit status and resource usage.
fn wait4(pid: u32) -> io::Result<(i32, libc::rusage)> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    let mut status = 0;
    // SAFETY: rusage is plain old data, so all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers refer to live locals of the right types.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            return Ok((status, usage));
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

fn cpu_time(u: &libc::rusage) -> Duration {
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn max_rss(u: &libc::rusage) -> u64 {
    // Linux reports kibibytes.
    (u.ru_maxrss as u64) * 1024
}

fn open_pty() -> io::Result<(OwnedFd, OwnedFd)> {
    let (mut master, mut slave) = (-1, -1);
    let size = libc::winsize {
        ws_row: 40,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors into the locals; name and termios may be null.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // The child gets the slave side only.
    // SAFETY: `master` is an open descriptor; F_SETFD with FD_CLOEXEC only sets its flag.
    unsafe { libc::fcntl(master, libc::F_SETFD, libc::FD_CLOEXEC) };
    // SAFETY: openpty succeeded, so both are open descriptors that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) })
}
