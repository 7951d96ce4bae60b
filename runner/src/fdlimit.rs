//! Open-file limits. Every user holds a socket (two when the embedded mock
//! runs in-process), so a level of thousands of users needs more than the
//! common soft limit of 1024.

/// Raises the soft limit on open files to the hard limit. Returns the soft
/// limit in force afterwards, or `None` where it cannot be read.
pub fn raise_to_hard_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct given.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
                return None;
            }
            if r.rlim_cur < r.rlim_max {
                let want = libc::rlimit {
                    rlim_cur: r.rlim_max,
                    rlim_max: r.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                    r = want;
                }
            }
        }
        Some(r.rlim_cur)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Open files a run needs at `users` users: one socket per user, two with
/// the in-process mock, plus a margin for files, the runtime and the log.
pub fn needed(users: u32, in_process_mock: bool) -> u64 {
    u64::from(users) * if in_process_mock { 2 } else { 1 } + 256
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_readable_and_not_lowered() {
        let before = raise_to_hard_limit();
        let after = raise_to_hard_limit();
        assert!(after >= before);
        assert_eq!(needed(1000, true), 2256);
        assert_eq!(needed(10, false), 266);
    }
}
