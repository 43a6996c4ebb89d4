//! A one-connection-at-a-time HTTP/1.1 server on 127.0.0.1 that records
//! every request and answers each with the current canned response: the
//! samples' error paths (401, a proxy's HTML 502) need answers the daemon
//! does not give on demand.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Lower-case names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

struct Canned {
    status: &'static str,
    headers: Vec<(&'static str, String)>,
    body: String,
}

pub struct Server {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    canned: Arc<Mutex<Canned>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let canned = Arc::new(Mutex::new(Canned {
            status: "500 Internal Server Error",
            headers: vec![],
            body: String::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (received, canned, stop) = (received.clone(), canned.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            if let Some(request) = serve_one(stream, &canned) {
                                received.lock().unwrap().push(request);
                            }
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        Server {
            port,
            received,
            canned,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn answer(&self, status: &'static str, content_type: &str, body: String) {
        let mut headers = vec![("Content-Type", content_type.to_string())];
        if status.starts_with("401") {
            headers.push((
                "WWW-Authenticate",
                "Bearer realm=\"eventward\", error=\"invalid_token\"".to_string(),
            ));
        }
        *self.canned.lock().unwrap() = Canned {
            status,
            headers,
            body,
        };
        self.received.lock().unwrap().clear();
    }

    pub fn take(&self) -> Vec<Received> {
        std::mem::take(&mut *self.received.lock().unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve_one(stream: TcpStream, canned: &Mutex<Canned>) -> Option<Received> {
    stream.set_nonblocking(false).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .ok()?;
    let mut writer = stream.try_clone().ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = HashMap::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        let (name, value) = l.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    if headers
        .get("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").ok()?;
    }
    let mut body = Vec::new();
    if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        loop {
            line.clear();
            reader.read_line(&mut line).ok()?;
            let size = usize::from_str_radix(line.trim().split(';').next()?, 16).ok()?;
            if size == 0 {
                // Trailers up to the empty line.
                loop {
                    line.clear();
                    if reader.read_line(&mut line).ok()? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(len) = headers.get("content-length") {
        body = vec![0; len.parse().ok()?];
        reader.read_exact(&mut body).ok()?;
    }
    let response = {
        let canned = canned.lock().unwrap();
        let mut r = format!("HTTP/1.1 {}\r\n", canned.status);
        for (name, value) in &canned.headers {
            r.push_str(&format!("{name}: {value}\r\n"));
        }
        r.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
            canned.body.len(),
            canned.body
        ));
        r
    };
    writer.write_all(response.as_bytes()).ok()?;
    let _ = writer.flush();
    let _ = writer.shutdown(std::net::Shutdown::Write);
    Some(Received {
        method,
        path,
        headers,
        body,
    })
}
