// SPDX-License-Identifier: MIT
//! SIGTERM and SIGINT as a byte on a pipe (the self-pipe trick), so that
//! the main thread can wait for them with a plain read and then return from
//! main normally (atexit handlers and destructors run). The handler only
//! calls write(2), which is async-signal-safe.

use std::fs::File;
use std::io::Read;
use std::os::raw::{c_int, c_void};
use std::os::unix::io::FromRawFd;
use std::sync::atomic::{AtomicI32, Ordering};

extern "C" {
    fn pipe(fds: *mut c_int) -> c_int;
    fn write(fd: c_int, buf: *const c_void, count: usize) -> isize;
    fn signal(signum: c_int, handler: extern "C" fn(c_int)) -> usize;
    fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
}

const SIGINT: c_int = 2;
const SIGTERM: c_int = 15;
const F_SETFD: c_int = 2;
const FD_CLOEXEC: c_int = 1;
/// glibc's SIG_ERR.
const SIG_ERR: usize = usize::MAX;

/// The pipe's write end, for the handler; -1 until installed.
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: c_int) {
    let fd = PIPE_WRITE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // Nothing to do on failure: a full pipe already holds a signal.
        unsafe {
            write(fd, &b as *const u8 as *const c_void, 1);
        }
    }
}

/// The read end: one byte (the signal number) per SIGTERM or SIGINT.
pub struct SignalPipe {
    read: File,
}

impl SignalPipe {
    /// Installs the handlers for SIGTERM and SIGINT.
    pub fn install() -> std::io::Result<SignalPipe> {
        let mut fds = [0 as c_int; 2];
        if unsafe { pipe(fds.as_mut_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // Close-on-exec: the server spawns nothing, but a preloaded library
        // or a future child must not inherit the pipe.
        unsafe {
            fcntl(fds[0], F_SETFD, FD_CLOEXEC);
            fcntl(fds[1], F_SETFD, FD_CLOEXEC);
        }
        PIPE_WRITE.store(fds[1], Ordering::Relaxed);
        for sig in [SIGTERM, SIGINT] {
            if unsafe { signal(sig, on_signal) } == SIG_ERR {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(SignalPipe { read: unsafe { File::from_raw_fd(fds[0]) } })
    }

    /// Blocks until a signal arrives; its number.
    pub fn wait(&mut self) -> i32 {
        let mut b = [0u8; 1];
        loop {
            match self.read.read(&mut b) {
                Ok(1) => return b[0] as i32,
                Ok(_) => return 0,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return 0,
            }
        }
    }
}
