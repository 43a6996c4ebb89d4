//! A TCP proxy a test can cut: from the daemon's side, the server behind it
//! goes away (every connection closed, new ones refused) and comes back. It
//! can also freeze: connections stay open, but no byte goes through, as when
//! a peer hangs; new connections are frozen too, until `thaw`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
    frozen: watch::Sender<bool>,
}

impl Proxy {
    pub async fn start(target: (&'static str, u16)) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let (cut, _) = watch::channel(0u64);
        let (frozen, _) = watch::channel(false);
        let (accepting, cuts, freezes) = (up.clone(), cut.clone(), frozen.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !accepting.load(Ordering::SeqCst) {
                    continue; // dropped: connection closed at once
                }
                let mut cut = cuts.subscribe();
                let mut frozen = freezes.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
                        _ = cut.changed() => return,
                        _ = frozen.wait_for(|f| *f) => {}
                    }
                    // Frozen: both ends stay open and nothing moves, until cut.
                    let _held = (client, server);
                    let _ = cut.changed().await;
                });
            }
        });
        Proxy {
            port,
            up,
            cut,
            frozen,
        }
    }

    /// Closes every open connection and refuses new ones until `restore`.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    /// Keeps every connection open but lets no byte through (bytes in
    /// flight are dropped), until `cut`.
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    /// Ends a freeze the way a hung peer's connection ends: the frozen
    /// connections are closed; new ones pass again.
    pub fn thaw(&self) {
        self.frozen.send_replace(false);
        self.cut.send_modify(|n| *n += 1);
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}
