//! A TCP proxy on 127.0.0.1 that delays every byte by a fixed time in each direction: a link to a
//! server across a LAN, a VPN or the internet (25 ms each way is a 50 ms round trip), for measuring
//! what round trips cost a client. Bandwidth is not limited: bytes that arrive together leave
//! together, one delay later, so a fast stream stays fast and only its latency grows.
//!
//! std only: a thread accepts, and each connection gets four (a reader and a delayed writer per
//! direction). Stops accepting when dropped; open connections end when either side closes.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// A running proxy to one upstream address.
pub struct DelayProxy {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
}

impl DelayProxy {
    /// Listens on 127.0.0.1:0 and forwards each connection to `upstream`, `delay` late each way.
    pub fn start(upstream: SocketAddr, delay: Duration) -> io::Result<DelayProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&stopping);
        thread::Builder::new()
            .name("delay-proxy-accept".into())
            .spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(client) = client else { continue };
                    let _ = thread::Builder::new()
                        .name("delay-proxy-conn".into())
                        .spawn(move || connect(client, upstream, delay));
                }
            })?;
        Ok(DelayProxy { addr, stopping })
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wakes the acceptor so that it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn connect(client: TcpStream, upstream: SocketAddr, delay: Duration) {
    let Ok(server) = TcpStream::connect(upstream) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let up = thread::spawn(move || relay(client, server, delay));
    relay(s2, c2, delay);
    let _ = up.join();
}

/// Copies `from` to `to`, each read written `delay` after it arrived; passes the end of the
/// stream on (half-close) once everything before it has been written.
fn relay(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let writer = thread::spawn(move || {
        for (due, bytes) in rx {
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            if to.write_all(&bytes).is_err() {
                let _ = to.shutdown(Shutdown::Both);
                return;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx
                    .send((Instant::now() + delay, buf[..n].to_vec()))
                    .is_err()
                {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.join();
    let _ = from.shutdown(Shutdown::Read);
}
