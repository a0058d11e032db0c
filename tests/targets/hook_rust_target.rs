// SPDX-License-Identifier: MIT
//! hook_rust_target.rs: a cdylib whose functions test_hook_engine hooks to
//! check that a Rust panic unwinds through hooked frames and is caught by
//! catch_unwind above them. rust_inner panics when n % 3 == 0 (panic from a
//! hooked function); rust_middle calls it (panic through a hooked
//! function); rust_catch catches and returns -n. The two hooked
//! functions keep the Rust ABI (as a Rust server's functions do), so the
//! panic never crosses an extern "C" boundary; #[no_mangle] only lets the
//! test find them with dlsym. No std::hint::black_box or "C-unwind": both
//! are newer than Debian's rustc 1.63, which scripts/test.sh may install.

use std::panic;

/// Keeps the optimizer from folding values it could otherwise see through.
#[inline(always)]
fn opaque(n: i32) -> i32 {
    unsafe { std::ptr::read_volatile(&n) }
}

#[inline(never)]
#[no_mangle]
pub fn rust_inner(n: i32) -> i32 {
    if n % 3 == 0 {
        panic!("boom {}", n);
    }
    opaque(n) * 7
}

#[inline(never)]
#[no_mangle]
pub fn rust_middle(n: i32) -> i32 {
    let r = rust_inner(opaque(n));
    opaque(r) + 100
}

#[no_mangle]
pub extern "C" fn rust_catch(n: i32) -> i32 {
    match panic::catch_unwind(|| rust_middle(n)) {
        Ok(v) => v,
        Err(_) => -n,
    }
}

/// Silences the default panic message (the test panics on purpose).
#[no_mangle]
pub extern "C" fn rust_quiet_panics() {
    panic::set_hook(Box::new(|_| {}));
}
