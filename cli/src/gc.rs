//! Which stores live processes hold: open descriptors (`/proc/*/fd`) and mappings (`/proc/*/maps`).

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;

/// The (device, inode) pairs of every file some process has open or mapped, and how many
/// processes could not be inspected (other users' processes, when not root).
pub struct InUse {
    pub files: HashSet<(u64, u64)>,
    pub uninspected: usize,
}

impl InUse {
    /// Errors: `/proc` cannot be read (not mounted, or empty), so nothing can be said of what is
    /// in use: this process's own entry must be there.
    pub fn scan() -> std::io::Result<InUse> {
        let mut files = HashSet::new();
        let mut uninspected = 0;
        std::fs::read_dir("/proc/self/fd")?;
        let procs = std::fs::read_dir("/proc")?;
        for p in procs.flatten() {
            let name = p.file_name();
            let Some(pid) = name.to_str().filter(|n| n.bytes().all(|c| c.is_ascii_digit())) else { continue };
            let mut complete = true;
            match std::fs::read_dir(format!("/proc/{pid}/fd")) {
                Ok(fds) => {
                    for fd in fds.flatten() {
                        // metadata() follows the magic link to the open file, even a deleted one.
                        if let Ok(md) = std::fs::metadata(fd.path()) {
                            files.insert((md.dev(), md.ino()));
                        }
                    }
                }
                Err(_) => complete = false,
            }
            match std::fs::read_to_string(format!("/proc/{pid}/maps")) {
                Ok(maps) => {
                    for line in maps.lines() {
                        if let Some(id) = map_file(line) {
                            files.insert(id);
                        }
                    }
                }
                Err(_) => complete = false,
            }
            // A process that exited meanwhile holds nothing; one we may not read is unknown.
            if !complete && std::path::Path::new(&format!("/proc/{pid}")).exists() {
                uninspected += 1;
            }
        }
        Ok(InUse { files, uninspected })
    }

    pub fn holds(&self, dev: u64, ino: u64) -> bool {
        self.files.contains(&(dev, ino))
    }
}

/// The (device, inode) of a `/proc/PID/maps` line that maps a file:
/// `start-end perms offset MAJOR:MINOR INODE [path]` with numbers in hex but the inode in decimal.
fn map_file(line: &str) -> Option<(u64, u64)> {
    let mut f = line.split_whitespace();
    let dev = f.nth(3)?;
    let ino: u64 = f.next()?.parse().ok()?;
    if ino == 0 {
        return None;
    }
    let (maj, min) = dev.split_once(':')?;
    let (maj, min) = (u32::from_str_radix(maj, 16).ok()?, u32::from_str_radix(min, 16).ok()?);
    Some((libc::makedev(maj, min), ino))
}

/// Parses a duration: a number with an optional unit, `s`, `m`, `h`, `d` or `w` (seconds by
/// default): `90`, `30s`, `15m`, `2h`, `7d`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("bad duration {s:?} (try 30s, 15m, 2h, 7d)"))?;
    let mult = match unit.trim() {
        "" | "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        "w" => 7.0 * 86400.0,
        _ => return Err(format!("bad duration unit in {s:?} (s, m, h, d or w)")),
    };
    // try_: from_secs_f64 panics on what does not fit (more than 2^64 seconds).
    std::time::Duration::try_from_secs_f64(n * mult).map_err(|_| format!("bad duration {s:?}: too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines() {
        let l = "7f0000000000-7f0000001000 rw-s 00000000 00:1a 12345    /dev/shm/x (deleted)";
        assert_eq!(map_file(l), Some((libc::makedev(0, 0x1a), 12345)));
        assert_eq!(map_file("7f00-7f01 r-xp 00000000 08:01 0 "), None);
        assert_eq!(map_file("7ffd-7ffe rw-p 00000000 00:00 0    [stack]"), None);
    }

    #[test]
    fn this_process_holds_its_own_executable() {
        let md = std::fs::metadata(std::env::current_exe().unwrap()).unwrap();
        assert!(InUse::scan().unwrap().holds(md.dev(), md.ino()));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("15m").unwrap().as_secs(), 900);
        assert_eq!(parse_duration("2h").unwrap().as_secs(), 7200);
        assert_eq!(parse_duration("1.5d").unwrap().as_secs(), 129600);
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3y").is_err());
        assert!(parse_duration("999999999999999999999999w").is_err());
    }
}
