// SPDX-License-Identifier: MIT
//! `start`: launches the `quickstart` database, serves HTTP until SIGTERM
//! or SIGINT, then stops cleanly and returns from main (exit status 0).
//!
//! Threads: the main thread (waits for a signal, then shuts down); one
//! `http-listener` thread accepting; one thread per connection, named
//! `tokio-runtime-worker` like the tokio workers that run SpacetimeDB's
//! handlers; and one `wasm-<10 hex>` executor thread per database, which
//! runs every reducer, SQL statement and subscription evaluation.

use crate::signals::SignalPipe;
use spacetimedb::host::host_controller::HostController;
use spacetimedb::host::ModuleHost;
use spacetimedb::identity::Identity;
use spacetimedb_client_api::http::serve_connection;
use spacetimedb_client_api::routes::router;
use spacetimedb_client_api::{ControlStateDelegate, NodeDelegate};
use std::collections::HashMap;
use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

struct StandaloneEnv {
    host_controller: HostController,
}

impl NodeDelegate for StandaloneEnv {
    fn gather_metrics(&self) -> String {
        spacetimedb::worker_metrics::gather_text()
    }
}

impl ControlStateDelegate for StandaloneEnv {
    fn get_module_host(&self, name_or_identity: &str) -> Option<ModuleHost> {
        self.host_controller.find(name_or_identity)
    }
}

struct Options {
    listen_addr: String,
    data_dir: PathBuf,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut listen_addr = "127.0.0.1:3000".to_string();
    let mut data_dir = None;
    let mut i = 0;
    while i < args.len() {
        let (flag, inline) = match args[i].split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (args[i].clone(), None),
        };
        let takes_value = matches!(
            flag.as_str(),
            "--listen-addr" | "-l" | "--data-dir" | "--jwt-key-dir" | "--jwt-pub-key-path" | "--jwt-priv-key-path" | "--pg-port"
        );
        let value = if takes_value {
            match inline {
                Some(v) => Some(v),
                None => {
                    i += 1;
                    Some(args.get(i).cloned().ok_or_else(|| format!("{flag} needs a value"))?)
                }
            }
        } else if matches!(flag.as_str(), "--in-memory" | "--enable-tracy") {
            None
        } else {
            return Err(format!("unknown argument {}", args[i]));
        };
        match flag.as_str() {
            "--listen-addr" | "-l" => listen_addr = value.unwrap_or_default(),
            "--data-dir" => data_dir = value.map(PathBuf::from),
            _ => {} // accepted for compatibility, unused by the stand-in
        }
        i += 1;
    }
    let data_dir = data_dir.ok_or("--data-dir is required")?;
    Ok(Options { listen_addr, data_dir })
}

/// Open connections, so that shutdown can close them, with their threads.
#[derive(Default)]
struct Connections {
    next_id: u64,
    open: HashMap<u64, (TcpStream, Option<JoinHandle<()>>)>,
}

fn accept_loop(listener: TcpListener, env: Arc<StandaloneEnv>, conns: Arc<Mutex<Connections>>, stopping: Arc<AtomicBool>) {
    for stream in listener.incoming() {
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        let stream = match stream {
            Ok(s) => s,
            Err(_) => continue,
        };
        let _ = stream.set_nodelay(true);
        let tracked = match stream.try_clone() {
            Ok(t) => t,
            Err(_) => continue,
        };
        let id = {
            let mut c = conns.lock().unwrap_or_else(|e| e.into_inner());
            c.next_id += 1;
            let id = c.next_id;
            c.open.insert(id, (tracked, None));
            id
        };
        let (env2, conns2) = (env.clone(), conns.clone());
        let spawned = std::thread::Builder::new().name("tokio-runtime-worker".to_string()).spawn(move || {
            serve_connection(stream, &|req| router(&*env2, req));
            conns2.lock().unwrap_or_else(|e| e.into_inner()).open.remove(&id);
        });
        let mut c = conns.lock().unwrap_or_else(|e| e.into_inner());
        match spawned {
            Ok(handle) => {
                if let Some(entry) = c.open.get_mut(&id) {
                    entry.1 = Some(handle);
                }
            }
            Err(_) => {
                c.open.remove(&id);
            }
        }
    }
}

pub fn exec(args: &[String]) -> ExitCode {
    let opts = match parse_options(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("spacetimedb-standalone: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&opts.data_dir) {
        eprintln!("spacetimedb-standalone: cannot create {}: {e}", opts.data_dir.display());
        return ExitCode::from(1);
    }
    let pid_file = opts.data_dir.join("spacetime.pid");
    if let Err(e) = std::fs::write(&pid_file, format!("{}\n", std::process::id())) {
        eprintln!("spacetimedb-standalone: cannot write {}: {e}", pid_file.display());
        return ExitCode::from(1);
    }
    let code = serve(&opts);
    let _ = std::fs::remove_file(&pid_file);
    code
}

fn serve(opts: &Options) -> ExitCode {
    let mut signals = match SignalPipe::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("spacetimedb-standalone: cannot install signal handlers: {e}");
            return ExitCode::from(1);
        }
    };
    let host_controller = HostController::new(opts.data_dir.clone());
    if let Err(e) = host_controller.launch_database("quickstart", Identity::from_name("owner"), spacetime_module::describe_module()) {
        eprintln!("spacetimedb-standalone: cannot launch the quickstart database: {e}");
        return ExitCode::from(1);
    }
    let env = Arc::new(StandaloneEnv { host_controller });

    let listener = match TcpListener::bind(&opts.listen_addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("spacetimedb-standalone: cannot listen on {}: {e}", opts.listen_addr);
            env.host_controller.shutdown_all();
            return ExitCode::from(1);
        }
    };
    let local: SocketAddr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("spacetimedb-standalone: {e}");
            env.host_controller.shutdown_all();
            return ExitCode::from(1);
        }
    };
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "spacetimedb-standalone pid {} listening on {local}", std::process::id());
        let _ = out.flush();
    }

    let conns = Arc::new(Mutex::new(Connections::default()));
    let stopping = Arc::new(AtomicBool::new(false));
    let acceptor = {
        let (env, conns, stopping) = (env.clone(), conns.clone(), stopping.clone());
        std::thread::Builder::new().name("http-listener".to_string()).spawn(move || accept_loop(listener, env, conns, stopping))
    };
    let acceptor = match acceptor {
        Ok(a) => a,
        Err(e) => {
            eprintln!("spacetimedb-standalone: cannot start the listener thread: {e}");
            env.host_controller.shutdown_all();
            return ExitCode::from(1);
        }
    };

    let sig = signals.wait();

    // Stop accepting: set the flag, then wake accept() with a connection.
    stopping.store(true, Ordering::SeqCst);
    let mut wake = local;
    if wake.ip().is_unspecified() {
        wake.set_ip(if wake.is_ipv4() { [127, 0, 0, 1].into() } else { std::net::Ipv6Addr::LOCALHOST.into() });
    }
    let _ = TcpStream::connect(wake);
    let _ = acceptor.join();
    // Close every connection; their threads finish their request first.
    let open: Vec<(TcpStream, Option<JoinHandle<()>>)> =
        conns.lock().unwrap_or_else(|e| e.into_inner()).open.drain().map(|(_, v)| v).collect();
    for (stream, handle) in open {
        let _ = stream.shutdown(Shutdown::Both);
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
    env.host_controller.shutdown_all();
    println!("spacetimedb-standalone: signal {sig}, stopped");
    ExitCode::SUCCESS
}
