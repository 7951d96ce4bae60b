//! What `std` would otherwise provide on wasm32: a global allocator, the
//! `cabi_realloc` export and the C memory routines. The panic handler needs
//! the guest's own `host.log` binding, so it comes from
//! [`crate::panic_handler!`] instead.

// `memcmp`, `memcpy` and the like: on this target `compiler_builtins` leaves
// them to wasi-libc, which `std` would have linked. They are plain code and
// import nothing.
#[link(name = "c")]
unsafe extern "C" {}

#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

/// The allocator the canonical ABI calls to place arguments (frames, bodies)
/// in the guest's memory. `std` exports it on this target, and wit-bindgen
/// leaves it to `std`, so a `no_std` guest must export it.
///
/// # Safety
/// Called by the component runtime with the canonical ABI's contract:
/// `old_ptr`/`old_len`/`align` describe a block this allocator returned (or
/// `old_len == 0`), and `align` is a power of two.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cabi_realloc(
    old_ptr: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    use alloc::alloc::{Layout, alloc, realloc};
    if new_len == 0 {
        // A zero-sized value needs no memory, only an aligned address.
        return align as *mut u8;
    }
    // SAFETY: the runtime passes a power-of-two `align` and the layout of the
    // block it got from this function, per the canonical ABI.
    let ptr = unsafe {
        if old_len == 0 {
            alloc(Layout::from_size_align_unchecked(new_len, align))
        } else {
            realloc(
                old_ptr,
                Layout::from_size_align_unchecked(old_len, align),
                new_len,
            )
        }
    };
    if ptr.is_null() {
        // Out of memory under the host's cap: trap; there is no caller to
        // hand an error to.
        core::arch::wasm32::unreachable()
    }
    ptr
}
