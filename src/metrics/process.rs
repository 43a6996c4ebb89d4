//! The standard `process_*` metrics, read from `/proc/self` at scrape time.

/// `USER_HZ`: the unit of the CPU times in `/proc/<pid>/stat`; 100 on every
/// Linux architecture Debian ships (the kernel converts to it).
const TICKS_PER_SEC: f64 = 100.0;

pub struct Process {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub virtual_bytes: u64,
    pub open_fds: u64,
    pub max_fds: Option<u64>,
    pub start_time_seconds: f64,
}

/// `None` where `/proc` is not readable (not Linux, or hidden).
pub fn read() -> Option<Process> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // fields[0] is field 3 (state); field N is fields[N - 3].
    let field = |n: usize| -> Option<u64> { fields.get(n - 3)?.parse().ok() };
    let cpu_ticks = field(14)? + field(15)?;
    let start_ticks = field(22)?;
    let virtual_bytes = field(23)?;
    let boot_time: u64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())?;
    let resident_bytes = std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| {
            let kb: u64 = l
                .strip_prefix("VmRSS:")?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            Some(kb * 1024)
        })?;
    let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    let max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits.lines().find_map(|l| {
                l.strip_prefix("Max open files")?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
        });
    Some(Process {
        cpu_seconds: cpu_ticks as f64 / TICKS_PER_SEC,
        resident_bytes,
        virtual_bytes,
        open_fds,
        max_fds,
        start_time_seconds: boot_time as f64 + start_ticks as f64 / TICKS_PER_SEC,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_is_readable() {
        let p = super::read().expect("/proc/self is readable on Linux");
        assert!(p.resident_bytes > 0);
        assert!(p.open_fds >= 3);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(
            p.start_time_seconds <= now + 1.0 && p.start_time_seconds > now - 3600.0,
            "{} vs now {now}",
            p.start_time_seconds
        );
    }
}
