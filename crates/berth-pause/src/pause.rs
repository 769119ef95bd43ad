//! `berth-pause`: the process of a pod's infra container. It only holds the
//! pod's namespaces open: it sleeps in pause(2) and exits 0 on SIGTERM or
//! SIGINT. As PID 1 of its PID namespace the kernel would drop those
//! signals without a handler, so it installs one. It reaps nothing: nothing
//! else runs in its PID namespace.
//!
//! No std and no libc (raw x86-64 syscalls, its own `_start`): it is
//! copied into infra containers whose root filesystem is otherwise empty,
//! so it must be one static file, and it stays a few KB. `build.rs`
//! compiles it (with `panic=abort`, which a no_std binary needs and cargo
//! cannot set for one package of the dev profile); `lib.rs` embeds it.

#![no_std]
#![no_main]

use core::arch::asm;

const SYS_RT_SIGACTION: usize = 13;
const SYS_PAUSE: usize = 34;
const SYS_EXIT_GROUP: usize = 231;
const SIGINT: usize = 2;
const SIGTERM: usize = 15;
/// x86-64 refuses to deliver to a handler without a restorer.
const SA_RESTORER: usize = 0x0400_0000;

/// The kernel's `struct sigaction` on x86-64.
#[repr(C)]
struct SigAction {
    handler: extern "C" fn(i32) -> !,
    flags: usize,
    restorer: usize,
    mask: u64,
}

unsafe fn syscall4(n: usize, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret: isize;
    asm!("syscall", inlateout("rax") n as isize => ret, in("rdi") a, in("rsi") b,
         in("rdx") c, in("r10") d, lateout("rcx") _, lateout("r11") _, options(nostack));
    ret
}

fn exit(code: usize) -> ! {
    unsafe {
        syscall4(SYS_EXIT_GROUP, code, 0, 0, 0);
    }
    loop {}
}

extern "C" fn leave(_: i32) -> ! {
    exit(0)
}

/// Entry point (no C runtime).
#[no_mangle]
pub extern "C" fn _start() -> ! {
    let act = SigAction {
        handler: leave,
        flags: SA_RESTORER,
        // Never used: the handler exits instead of returning.
        restorer: leave as usize,
        mask: 0,
    };
    for sig in [SIGTERM, SIGINT] {
        if unsafe { syscall4(SYS_RT_SIGACTION, sig, &act as *const _ as usize, 0, 8) } < 0 {
            exit(1);
        }
    }
    loop {
        unsafe {
            syscall4(SYS_PAUSE, 0, 0, 0, 0);
        }
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    exit(2)
}
