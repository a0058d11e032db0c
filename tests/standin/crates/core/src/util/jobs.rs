// SPDX-License-Identifier: MIT
//! `SingleThreadedExecutor`: one named thread that owns a state `S` (a
//! database's module instance) and runs jobs on it one at a time, in the
//! order they were sent. Any thread may send a job and wait for its result
//! (`run_sync_job`); jobs arrive over a std mpsc channel. A job that panics
//! is reported to its sender as an error; the thread and state go on.

use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread::JoinHandle;

type Job<S> = Box<dyn FnOnce(&mut S) + Send>;

pub struct SingleThreadedExecutor<S> {
    /// None once shut down. A Mutex because mpsc::Sender is not Sync on
    /// older Rust; sends are short.
    sender: Mutex<Option<mpsc::Sender<Job<S>>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// The executor is gone, or the job panicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobFailed;

impl<S: 'static> SingleThreadedExecutor<S> {
    /// Starts thread `name`; `init` builds the state on that thread.
    pub fn spawn(name: String, init: impl FnOnce() -> S + Send + 'static) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::channel::<Job<S>>();
        let thread = std::thread::Builder::new().name(name).spawn(move || {
            let mut state = init();
            for job in receiver {
                // A panicking job drops its result sender: its caller sees
                // JobFailed. The state is kept (jobs leave it consistent at
                // each await point, as the datastore rolls back on drop).
                let _ = panic::catch_unwind(AssertUnwindSafe(|| job(&mut state)));
            }
        })?;
        Ok(SingleThreadedExecutor { sender: Mutex::new(Some(sender)), thread: Mutex::new(Some(thread)) })
    }

    /// Runs `f` on the executor thread and waits for its result.
    pub fn run_sync_job<R: Send + 'static>(&self, f: impl FnOnce(&mut S) -> R + Send + 'static) -> Result<R, JobFailed> {
        let (result_tx, result_rx) = mpsc::sync_channel::<R>(1);
        let job: Job<S> = Box::new(move |state: &mut S| {
            let _ = result_tx.send(f(state));
        });
        {
            let sender = self.sender.lock().unwrap_or_else(|e| e.into_inner());
            match sender.as_ref() {
                Some(s) => s.send(job).map_err(|_| JobFailed)?,
                None => return Err(JobFailed),
            }
        }
        result_rx.recv().map_err(|_| JobFailed)
    }

    /// Stops taking jobs, lets the queued ones finish and joins the thread.
    pub fn shutdown(&self) {
        self.sender.lock().unwrap_or_else(|e| e.into_inner()).take();
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}
