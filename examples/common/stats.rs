//! Measuring helpers shared by the benchmark's load generators
//! (`plain_publisher`, `http_load`), so both report alike.

/// utime + stime of this process in microseconds, from /proc/self/stat
/// (Linux; clock ticks taken as the usual 100 Hz).
pub fn process_cpu_us() -> Option<u64> {
    pid_cpu_us("self")
}

/// utime + stime of process `pid` ("self" for this one) in microseconds.
pub fn pid_cpu_us(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks * 10_000)
}

/// The `p`th percentile of sorted microsecond latencies, in milliseconds.
pub fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    // Nearest rank, as wrk and most tools report it.
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    sorted_us[rank.clamp(1, sorted_us.len()) - 1] as f64 / 1000.0
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
