use clap::Parser;

use presence_server::Config;
use tracing_subscriber::EnvFilter;

// jemalloc: measured against the system allocator on the connect path (hello + join,
// one core), 76 -> 57 ms of server CPU per 1,000 connects, and no more memory per
// idle connection (docs/benchmarks.md). Built with the crate's `background_threads`
// feature (`background_thread:true`): without it jemalloc purges freed pages only when
// it allocates again, so an idle server kept its high-water mark (161 MB RSS 25 s after
// a 558 MB burst); its background thread returns them after the decay time (10 s).
// Measured (tests/connection/memory.rs, queue bounds off, debug build): a 295 MB burst
// was back to 25 MB 8 s after the clients hung up, and stayed at 295 MB without it.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let config = Config::parse();
    // Refuse a bad configuration before binding anything.
    config.check(config.bind)?;
    // Every connection is a file: the soft limit (often 1,024) would lock clients out
    // long before memory does, so it goes up to the hard limit.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open-files limit (RLIMIT_NOFILE)"),
        Err(e) => tracing::warn!("cannot raise the open-files limit (RLIMIT_NOFILE): {e}"),
    }
    let listener = listen(config.bind)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.bind))?;
    presence_server::run(listener, config, presence_server::shutdown_signal()).await
}

/// Binds with a deep accept backlog: `TcpListener::bind`'s 128 overflows in a
/// reconnect storm, and a dropped SYN is only retried a second later.
fn listen(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}
