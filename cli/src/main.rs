//! `mba`: list, inspect, print, create, remove, watch, export, import and clean up mba arrays.
//!
//! Exit status: 0 on success, 1 on failure (the library's message on stderr, one line), 2 on
//! misuse (clap's message and usage).

/// `eprintln!` that cannot panic: a message that cannot be written (stderr closed or full) is
/// dropped, and the exit status still tells.
macro_rules! warn {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

mod elem;
mod gc;
mod npy;
mod out;

use clap::{Parser, Subcommand, ValueEnum};
use elem::{numpy_name, Style};
use mba::list::{self, Entry, Liveness};
use mba::{Array, Dtype, Options};
use out::{json_str, local_time, Progress};
use std::io::{BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const URI_HELP: &str = "Inspect and manage mba arrays: typed, growable arrays in shared memory.

Arrays are named by URI: shm://NAME (POSIX shared memory, /dev/shm/NAME) or \
file://PATH. A bare NAME means shm://NAME, as in SharedArray; a name starting with '/', './' or \
'../' means file://NAME.";

#[derive(Parser)]
#[command(
    name = "mba",
    version,
    about = "Inspect and manage mba arrays: typed, growable arrays in shared memory",
    long_about = URI_HELP,
    after_help = "Examples:
  mba ls                                   arrays in /dev/shm
  mba info shm://sensor                    everything in its header
  mba cat sensor --tail 5                  the last five rows
  mba create shm://grid --dtype float32 --shape 0,3
  mba export sensor sensor.npy             for numpy.load
  mba gc --older-than 1d                   what looks leaked (add --yes to remove it)

Exit status: 0 success, 1 failure (message on stderr), 2 misuse."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
enum Format {
    /// One row per line, values separated by spaces.
    Text,
    /// One row per line, values separated by commas.
    Csv,
    /// A JSON list of rows (nested lists for shaped arrays); NaN and infinities as Python writes them.
    Json,
    /// The elements' bytes, as stored (native byte order).
    Raw,
}

#[derive(Subcommand)]
enum Cmd {
    /// List the arrays in /dev/shm, or the file arrays in DIR
    #[command(
        long_about = "List the arrays in /dev/shm, or the file arrays in DIR, without attaching to them.\n\n\
            Files that are not mba arrays, or that cannot be read, are skipped; an array whose header does \
            not hold up is listed as corrupt. LEN and CAPACITY count elements (scalars); SHAPE starts \
            with the number of rows.",
        after_help = "Examples:\n  mba ls\n  mba ls /data/arrays\n  mba ls --json | jq '.[] | select(.creator_alive == false) | .uri'"
    )]
    Ls {
        /// A directory of file:// arrays (default: /dev/shm)
        dir: Option<PathBuf>,
        /// One JSON list: uri, dtype, shape, len, capacity, bytes, owner, mode, created, creator_pid, creator_alive ...
        #[arg(long)]
        json: bool,
    },
    /// Show everything in an array's header
    #[command(after_help = "Examples:\n  mba info shm://sensor\n  mba info ./data.mba --json")]
    Info {
        /// The array (see `mba --help` for names)
        uri: String,
        #[arg(long)]
        json: bool,
    },
    /// Print an array's elements
    #[command(
        long_about = "Print an array's elements, one row per line (text, csv), as JSON, or as raw bytes.\n\n\
            --head, --tail and --range count rows (elements of a one-dimensional array). The rows \
            published when the command starts are printed; a store another process truncates \
            meanwhile ends the command with an error (exit 1).",
        after_help = "Examples:\n  mba cat sensor\n  mba cat sensor --tail 10\n  mba cat shm://grid --range 100:200 --format csv\n  mba cat sensor --format json | python3 -c 'import json,sys; print(sum(json.load(sys.stdin)))'\n  mba cat sensor --format raw > sensor.bin"
    )]
    Cat {
        uri: String,
        /// The first N rows
        #[arg(long, value_name = "N", conflicts_with_all = ["tail", "range"])]
        head: Option<u64>,
        /// The last N rows
        #[arg(long, value_name = "N", conflicts_with = "range")]
        tail: Option<u64>,
        /// Rows A (included) to B (excluded); either may be left out: 10:, :20
        #[arg(long, value_name = "A:B", value_parser = parse_range)]
        range: Option<(Option<u64>, Option<u64>)>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Create an array
    #[command(
        long_about = "Create an array of --dtype. --shape is numpy's shape: the first extent is the \
            number of zero-filled rows to start with (0 for none), the others the extents of each row; \
            rows are appended along the first axis. Without --shape the array is one-dimensional and empty.",
        after_help = "Examples:\n  mba create shm://sensor --dtype float64\n  mba create shm://frames --dtype uint8 --shape 0,480,640 --capacity 30000000\n  mba create ./table.mba --dtype int32 --shape 10,4 --mode 0644"
    )]
    Create {
        uri: String,
        /// Element type: a numpy name (int8 ... uint64, float16, float32, float64, bool, complex64, complex128) or mba's (i8 ... f64)
        #[arg(long, value_parser = parse_dtype_arg)]
        dtype: Dtype,
        /// numpy shape, comma-separated: ROWS[,EXTENT...]
        #[arg(long, value_delimiter = ',', value_name = "ROWS,...")]
        shape: Vec<u64>,
        /// Elements (scalars) to make room for now (default: 64 KiB worth)
        #[arg(long, value_name = "N")]
        capacity: Option<u64>,
        /// Permission bits in octal, including owner read and write (default 0600)
        #[arg(long, value_parser = parse_mode)]
        mode: Option<u32>,
        /// Replace an existing array of that name
        #[arg(long)]
        overwrite: bool,
    },
    /// Remove arrays (attached handles keep working)
    #[command(
        after_help = "Examples:\n  mba rm shm://sensor\n  mba rm a b c\n  mba rm --force ./not-an-array"
    )]
    Rm {
        #[arg(required = true)]
        uris: Vec<String>,
        /// Remove even a file that is not an mba array
        #[arg(long)]
        force: bool,
    },
    /// Follow an array's length, growth rate and writers, refreshing in place
    #[command(
        long_about = "Follow an array's length, growth rate and writer state (append lock holder, \
            writer lease) until interrupted (Ctrl-C). On a terminal the line refreshes in place; \
            otherwise one line is printed per sample.",
        after_help = "Examples:\n  mba watch shm://sensor\n  mba watch sensor --interval 0.2\n  mba watch sensor --count 3 --interval 1"
    )]
    Watch {
        uri: String,
        /// Seconds between samples
        #[arg(long, default_value_t = 1.0, value_parser = parse_interval)]
        interval: f64,
        /// Stop after N samples, at least 1 (default: until interrupted)
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        count: Option<u64>,
    },
    /// Write an array to a numpy .npy file
    #[command(
        after_help = "Examples:\n  mba export shm://sensor sensor.npy\n  python3 -c 'import numpy; print(numpy.load(\"sensor.npy\"))'"
    )]
    Export {
        uri: String,
        /// The .npy file to write (replaced if it exists)
        file: PathBuf,
    },
    /// Create an array from a numpy .npy file
    #[command(
        long_about = "Create an array from a numpy .npy file (format 1.0, 2.0 or 3.0) of a dtype mba \
            has. Its first axis becomes the growing one. Big-endian files are converted to this \
            machine's byte order.",
        after_help = "Examples:\n  mba import x.npy shm://eye          (after numpy.save(\"x.npy\", numpy.eye(3)))\n  mba import x.npy shm://eye --overwrite --mode 0644"
    )]
    Import {
        file: PathBuf,
        uri: String,
        #[arg(long, value_parser = parse_mode)]
        mode: Option<u32>,
        /// Replace an existing array of that name
        #[arg(long)]
        overwrite: bool,
    },
    /// Find (and with --yes remove) arrays that look leaked
    #[command(
        long_about = "Find arrays that look leaked, in /dev/shm or DIR: staging files of creates whose \
            process died (.NAME.mba-new.PID.*), and arrays whose creator has exited and that no live \
            process has open or mapped (from /proc/*/fd and /proc/*/maps). Without --yes nothing is \
            removed, and a name is removed only if it still leads to the file inspected. Processes \
            of other users can only be inspected as root; the command says how many it could not see. \
            Run by another user than root, it never takes other users' files, nor, while some \
            processes could not be inspected, this user's files that other users may open (group or \
            other permission bits): one of their processes may hold them.",
        after_help = "Examples:\n  mba gc\n  mba gc --older-than 7d\n  mba gc --older-than 1h --yes\n  mba gc /data/arrays --yes"
    )]
    Gc {
        /// A directory of file:// arrays (default: /dev/shm)
        dir: Option<PathBuf>,
        /// Only arrays created (staging files modified) at least this long ago: 90, 30s, 15m, 2h, 7d
        #[arg(long, value_name = "DURATION", value_parser = gc::parse_duration)]
        older_than: Option<Duration>,
        /// Remove what is found
        #[arg(long)]
        yes: bool,
    },
}

fn parse_dtype_arg(s: &str) -> Result<Dtype, String> {
    elem::parse_dtype(s).ok_or_else(|| format!("unknown dtype {s:?}; one of: {}", elem::names()))
}

fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| format!("bad mode {s:?}: octal permission bits, 0 to 0777, such as 0644"))
}

fn parse_interval(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        // At least 10 ms: each sample inspects the store and its writers; less is a busy loop.
        Ok(v) if (0.01..=86400.0).contains(&v) => Ok(v),
        _ => Err(format!("bad interval {s:?}: seconds, from 0.01 to 86400")),
    }
}

fn parse_range(s: &str) -> Result<(Option<u64>, Option<u64>), String> {
    let (a, b) = s.split_once(':').ok_or_else(|| format!("bad range {s:?}: A:B"))?;
    let num = |t: &str| -> Result<Option<u64>, String> {
        if t.is_empty() {
            Ok(None)
        } else {
            t.parse().map(Some).map_err(|_| format!("bad range {s:?}: A and B are row numbers"))
        }
    };
    Ok((num(a)?, num(b)?))
}

/// How a command fails.
enum Fail {
    /// Exit 1 with this message.
    Msg(String),
    /// Exit 1: writing the output failed (a full disk, an I/O error).
    Out(std::io::Error),
    /// The reader of stdout went away (`mba cat | head`): stop quietly.
    Pipe,
}

impl From<mba::Error> for Fail {
    fn from(e: mba::Error) -> Self {
        Fail::Msg(e.to_string())
    }
}

impl From<std::io::Error> for Fail {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Fail::Pipe
        } else {
            Fail::Out(e)
        }
    }
}

impl From<String> for Fail {
    fn from(s: String) -> Self {
        Fail::Msg(s)
    }
}

type Res<T = ()> = Result<T, Fail>;

fn main() {
    let cli = Cli::try_parse().unwrap_or_else(|e| {
        // --help and --version go to stdout, which may fail too; misuse to stderr, exit 2.
        match e.print() {
            Err(w) if e.exit_code() == 0 && w.kind() != std::io::ErrorKind::BrokenPipe => {
                warn!("mba: write to stdout: {w}");
                std::process::exit(1)
            }
            _ => std::process::exit(e.exit_code()),
        }
    });
    let what = cli.cmd.what();
    on_sigbus_exit(&what);
    let r = match cli.cmd {
        Cmd::Ls { dir, json } => ls(dir.as_deref(), json),
        Cmd::Info { uri, json } => info(&resolve(&uri), json),
        Cmd::Cat { uri, head, tail, range, format } => cat(&resolve(&uri), head, tail, range, format),
        Cmd::Create { uri, dtype, shape, capacity, mode, overwrite } => {
            create(&resolve(&uri), dtype, &shape, capacity, mode, overwrite)
        }
        Cmd::Rm { uris, force } => rm(&uris, force),
        Cmd::Watch { uri, interval, count } => watch(&resolve(&uri), interval, count),
        Cmd::Export { uri, file } => export(&resolve(&uri), &file),
        Cmd::Import { file, uri, mode, overwrite } => import(&file, &resolve(&uri), mode, overwrite),
        Cmd::Gc { dir, older_than, yes } => gc_cmd(dir.as_deref(), older_than, yes),
    };
    match r {
        Ok(()) | Err(Fail::Pipe) => {}
        Err(Fail::Msg(m)) => {
            warn!("mba: {}", m.replace('\n', " "));
            std::process::exit(1);
        }
        Err(Fail::Out(e)) => {
            warn!("mba: {what}: write to stdout: {e}");
            std::process::exit(1);
        }
    }
}

/// The message `on_sigbus` writes: set once, before any array is mapped.
static SIGBUS_MSG: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();

extern "C" fn on_sigbus(_: libc::c_int) {
    if let Some(m) = SIGBUS_MSG.get() {
        // SAFETY: write and _exit are async-signal-safe; m lives for the whole process.
        unsafe { libc::write(2, m.as_ptr().cast(), m.len()) };
    }
    // SAFETY: as above.
    unsafe { libc::_exit(1) }
}

/// Turns SIGBUS into exit 1 with a message. Another process that shrinks a store (ftruncate)
/// while this one reads it makes the reads of the cut pages raise SIGBUS, which the library
/// leaves to its host process (docs/GUARANTEES.md §10): for this command, a failure to report,
/// not a crash with a core dump.
fn on_sigbus_exit(what: &str) {
    let _ = SIGBUS_MSG.set(
        format!(
            "mba: {what}: the store was truncated by another process while this command read it (SIGBUS)\n"
        )
        .into_bytes(),
    );
    // SAFETY: the handler only calls async-signal-safe functions.
    unsafe { libc::signal(libc::SIGBUS, on_sigbus as *const () as libc::sighandler_t) };
}

impl Cmd {
    /// The operation and its subject, for messages: `cat shm://x`, `ls /dev/shm`.
    fn what(&self) -> String {
        let dir = |d: &Option<PathBuf>| d.as_deref().unwrap_or(Path::new(mba::SHM_DIR)).display().to_string();
        match self {
            Cmd::Ls { dir: d, .. } => format!("ls {}", dir(d)),
            Cmd::Gc { dir: d, .. } => format!("gc {}", dir(d)),
            Cmd::Info { uri, .. } => format!("info {}", resolve(uri)),
            Cmd::Cat { uri, .. } => format!("cat {}", resolve(uri)),
            Cmd::Watch { uri, .. } => format!("watch {}", resolve(uri)),
            Cmd::Create { uri, .. } => format!("create {}", resolve(uri)),
            Cmd::Export { uri, .. } => format!("export {}", resolve(uri)),
            Cmd::Import { uri, .. } => format!("import {}", resolve(uri)),
            Cmd::Rm { .. } => "rm".into(),
        }
    }
}

/// The URI of a command-line name: URIs as they are, paths as file://, bare names as shm://.
fn resolve(s: &str) -> String {
    if s.contains("://") {
        s.to_owned()
    } else if s.starts_with('/') || s.starts_with("./") || s.starts_with("../") {
        format!("file://{s}")
    } else {
        format!("shm://{s}")
    }
}

fn stdout() -> BufWriter<std::io::StdoutLock<'static>> {
    BufWriter::with_capacity(1 << 16, std::io::stdout().lock())
}

fn ro() -> Options {
    Options { read_only: true, ..Options::default() }
}

// ----- shapes -----

/// Extents of every axis but the first.
fn trailing(a: &Array) -> Vec<u64> {
    a.shape()[1..].to_vec()
}

/// Scalars per row of an array whose rows have the extents `trailing`; only for shapes the library
/// has checked (an attached array's), as their product fits. See [`checked_product`] for others.
fn row_size(trailing: &[u64]) -> u64 {
    trailing.iter().product::<u64>().max(1)
}

/// The product of extents from the command line or a file (a row's size, or a whole shape's
/// element count), `None` if it overflows.
fn checked_product(extents: &[u64]) -> Option<u64> {
    extents.iter().try_fold(1u64, |a, &b| a.checked_mul(b))
}

/// Creates an array whose rows have the extents `trailing` (none: one-dimensional).
fn create_shaped(uri: &str, dtype: Dtype, trailing: &[u64], capacity: u64, opts: Options) -> Res<Array> {
    let mut dims = vec![0];
    dims.extend_from_slice(trailing);
    Ok(Array::create(uri, dtype, capacity, opts.shaped(&dims))?)
}

// ----- ls -----

fn dtype_of(e: &Entry) -> String {
    e.dtype.map_or_else(|| format!("code {}", e.header.dtype), |d| numpy_name(d).to_owned())
}

fn liveness_json(l: Liveness) -> &'static str {
    match l {
        Liveness::Alive => "true",
        Liveness::Dead => "false",
        Liveness::Unknown => "null",
    }
}

fn entry_json(e: &Entry) -> String {
    let shape = if e.is_valid() {
        format!("[{}]", e.shape.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))
    } else {
        "null".into()
    };
    format!(
        "{{\"uri\": {}, \"status\": {}, \"problem\": {}, \"dtype\": {}, \"shape\": {shape}, \"len\": {}, \
         \"capacity\": {}, \"bytes\": {}, \"size\": {}, \"owner\": {}, \"uid\": {}, \"mode\": {}, \"created\": {}, \
         \"created_ns\": {}, \"creator_pid\": {}, \"creator_alive\": {}}}",
        json_str(&e.uri.to_string_lossy()),
        json_str(if e.is_valid() { "ok" } else { "corrupt" }),
        e.problem.as_deref().map_or_else(|| "null".into(), json_str),
        e.dtype.filter(|_| e.is_valid()).map_or_else(|| "null".into(), |d| json_str(numpy_name(d))),
        e.len,
        e.capacity,
        e.bytes,
        e.size,
        json_str(&e.owner),
        e.uid,
        json_str(&format!("{:04o}", e.mode)),
        json_str(&local_time(e.created_ns, 'T', true)),
        e.created_ns,
        e.creator_pid,
        liveness_json(e.creator),
    )
}

fn ls(dir: Option<&Path>, json: bool) -> Res {
    let entries = list::list(dir)?;
    let mut o = stdout();
    if json {
        writeln!(o, "[")?;
        for (i, e) in entries.iter().enumerate() {
            let comma = if i + 1 < entries.len() { "," } else { "" };
            writeln!(o, "  {}{comma}", entry_json(e))?;
        }
        writeln!(o, "]")?;
        return Ok(o.flush()?);
    }
    let mut rows =
        vec![["URI", "DTYPE", "SHAPE", "LEN", "CAPACITY", "BYTES", "OWNER", "MODE", "CREATED", "CREATOR"]
            .map(String::from)
            .to_vec()];
    for e in &entries {
        let creator = format!("{} {}", e.creator_pid, e.creator.name());
        let mut r = vec![out::name_text(&e.uri)];
        if e.is_valid() {
            r.extend([dtype_of(e), out::shape_text(&e.shape), e.len.to_string(), e.capacity.to_string()]);
        } else {
            r.extend(["corrupt".into(), "-".into(), "-".into(), "-".into()]);
        }
        r.extend([
            out::human_bytes(e.bytes),
            e.owner.clone(),
            format!("{:04o}", e.mode),
            local_time(e.created_ns, ' ', false),
            creator,
        ]);
        if let Some(p) = &e.problem {
            r.push(format!("({p})"));
        }
        rows.push(r);
    }
    if entries.is_empty() {
        let d = dir.map_or_else(|| mba::SHM_DIR.into(), |d| d.display().to_string());
        writeln!(o, "no mba arrays in {d}")?;
    } else {
        out::table(&mut o, &rows, &[false, false, false, true, true, true, false, false, false, false])?;
    }
    Ok(o.flush()?)
}

// ----- info -----

/// The append lock word, with its holder's pid from the slot table.
fn lock_text(e: &Entry) -> String {
    let w = e.header.lock;
    let (slot, gen) = (e.lock_slot(), w >> 25);
    if slot == 0 {
        return format!("free (generation {gen})");
    }
    let contended = if w & (1 << 24) != 0 { ", waiters" } else { "" };
    format!("held by {} (generation {gen}{contended})", writer_text(e, slot))
}

/// The writer-lease word, with its holder's pid.
fn lease_text(e: &Entry) -> String {
    match e.lease_slot() {
        0 => "none".into(),
        slot => format!("{} (generation {})", writer_text(e, slot), e.header.lease >> 25),
    }
}

fn writer_text(e: &Entry, slot: u32) -> String {
    match e.writer(slot) {
        Some(w) => format!("slot {slot}, pid {} ({})", w.pid, w.alive.name()),
        None => format!("slot {slot} (empty)"),
    }
}

fn writers_text(e: &Entry) -> String {
    let live = e.writers.iter().filter(|w| w.alive != Liveness::Dead).count();
    let dead = e.writers.len() - live;
    let pids: Vec<String> =
        e.writers.iter().filter(|w| w.alive != Liveness::Dead).map(|w| w.pid.to_string()).collect();
    let mut t = format!("{live} live");
    if !pids.is_empty() {
        t.push_str(&format!(" (pid {})", pids.join(", ")));
    }
    if dead > 0 {
        t.push_str(&format!(", {dead} dead slots"));
    }
    t
}

fn typecode_text(t: u32) -> String {
    match char::from_u32(t) {
        _ if t == 0 => "none".into(),
        Some(c) if c.is_ascii_graphic() => format!("'{c}' ({t})"),
        _ => t.to_string(),
    }
}

fn info(uri: &str, json: bool) -> Res {
    let e = list::inspect(uri)?;
    let h = &e.header;
    let mut o = stdout();
    let endian = if h.endian == mba::layout::ENDIAN_TAG { "native" } else { "foreign" };
    let magic = String::from_utf8_lossy(&h.magic[..7]).into_owned();
    let nums = |v: &[u64]| format!("[{}]", v.iter().map(u64::to_string).collect::<Vec<_>>().join(", "));
    if json {
        let writers: Vec<String> = e
            .writers
            .iter()
            .map(|w| {
                format!("{{\"slot\": {}, \"pid\": {}, \"alive\": {}}}", w.slot, w.pid, liveness_json(w.alive))
            })
            .collect();
        let fields: Vec<(&str, String)> = vec![
            ("uri", json_str(&e.uri.to_string_lossy())),
            ("path", json_str(&e.path.to_string_lossy())),
            ("status", json_str(if e.is_valid() { "ok" } else { "corrupt" })),
            ("problem", e.problem.as_deref().map_or_else(|| "null".into(), json_str)),
            ("magic", json_str(&magic)),
            ("version", h.version.to_string()),
            ("endian", json_str(endian)),
            ("header_size", h.header_size.to_string()),
            ("dtype", e.dtype.map_or_else(|| "null".into(), |d| json_str(numpy_name(d)))),
            ("dtype_code", h.dtype.to_string()),
            ("itemsize", h.itemsize.to_string()),
            ("ndim", h.ndim.to_string()),
            ("shape", if e.is_valid() { nums(&e.shape) } else { "null".into() }),
            ("header_shape", nums(&h.shape)),
            ("data_offset", h.data_offset.to_string()),
            ("flags", h.flags.to_string()),
            ("len", h.len.to_string()),
            ("capacity", h.capacity.to_string()),
            ("max_capacity", h.max_capacity.to_string()),
            ("lock", h.lock.to_string()),
            ("lock_slot", e.lock_slot().to_string()),
            ("lease", h.lease.to_string()),
            ("lease_slot", e.lease_slot().to_string()),
            ("lock_seq", h.lock_seq.to_string()),
            ("len_waiters", h.len_waiters.to_string()),
            ("writers", format!("[{}]", writers.join(", "))),
            ("pidns", h.pidns.to_string()),
            ("typecode", h.typecode.to_string()),
            ("created", json_str(&local_time(e.created_ns, 'T', true))),
            ("created_ns", e.created_ns.to_string()),
            ("creator_pid", e.creator_pid.to_string()),
            ("creator_start", e.creator_start.to_string()),
            ("creator_alive", liveness_json(e.creator).into()),
            ("size", e.size.to_string()),
            ("bytes", e.bytes.to_string()),
            ("owner", json_str(&e.owner)),
            ("uid", e.uid.to_string()),
            ("mode", json_str(&format!("{:04o}", e.mode))),
        ];
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("{}: {v}", json_str(k))).collect();
        writeln!(o, "{{{}}}", body.join(", "))?;
        return Ok(o.flush()?);
    }
    let status = match &e.problem {
        None => "ok".to_owned(),
        Some(p) => format!("corrupt: {p}"),
    };
    let dtype = format!("{} (code {}, itemsize {})", dtype_of(&e), h.dtype, h.itemsize);
    let shape = if e.is_valid() {
        format!("{} (row size {})", out::shape_text(&e.shape), row_size(&e.shape[1..]))
    } else {
        format!("{:?}", h.shape)
    };
    let rows: Vec<(&str, String)> = vec![
        ("uri", out::name_text(&e.uri)),
        ("path", out::name_text(e.path.as_os_str())),
        ("status", status),
        ("magic", magic),
        ("version", h.version.to_string()),
        ("endian", format!("{:#010x} ({endian})", h.endian)),
        ("header size", h.header_size.to_string()),
        ("dtype", dtype),
        ("typecode", typecode_text(h.typecode)),
        ("ndim", h.ndim.to_string()),
        ("shape", shape),
        ("data offset", h.data_offset.to_string()),
        ("flags", format!("{:#x}", h.flags)),
        ("len", h.len.to_string()),
        ("capacity", h.capacity.to_string()),
        ("max capacity", h.max_capacity.to_string()),
        ("append lock", lock_text(&e)),
        ("writer lease", lease_text(&e)),
        ("writers", writers_text(&e)),
        ("lock seq", h.lock_seq.to_string()),
        ("len waiters", h.len_waiters.to_string()),
        ("created", format!("{} ({} ns)", local_time(e.created_ns, ' ', true), e.created_ns)),
        ("creator", format!("pid {} start {} ({})", e.creator_pid, e.creator_start, e.creator.name())),
        ("pid namespace", h.pidns.to_string()),
        ("store size", format!("{} bytes", e.size)),
        ("allocated", format!("{} bytes ({})", e.bytes, out::human_bytes(e.bytes))),
        ("owner", format!("{} (uid {})", e.owner, e.uid)),
        ("mode", format!("{:04o}", e.mode)),
    ];
    let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    for (k, v) in rows {
        writeln!(o, "{k:w$}  {v}")?;
    }
    Ok(o.flush()?)
}

// ----- cat -----

/// Rows `[start, end)` selected by the options out of `rows`.
fn select(
    rows: u64,
    head: Option<u64>,
    tail: Option<u64>,
    range: Option<(Option<u64>, Option<u64>)>,
) -> (u64, u64) {
    if let Some(n) = head {
        return (0, n.min(rows));
    }
    if let Some(n) = tail {
        return (rows - n.min(rows), rows);
    }
    if let Some((a, b)) = range {
        let end = b.unwrap_or(rows).min(rows);
        return (a.unwrap_or(0).min(end), end);
    }
    (0, rows)
}

/// Writes one row's scalars as nested JSON lists following `dims`.
fn json_nested(o: &mut String, d: Dtype, bytes: &[u8], dims: &[u64]) {
    let n = d.itemsize();
    match dims {
        [] => elem::write_value(o, d, bytes, Style::Json),
        [first, rest @ ..] => {
            let inner = rest.iter().product::<u64>() as usize * n;
            o.push('[');
            for i in 0..*first as usize {
                if i > 0 {
                    o.push_str(", ");
                }
                json_nested(o, d, &bytes[i * inner..(i + 1) * inner], rest);
            }
            o.push(']');
        }
    }
}

fn cat(
    uri: &str,
    head: Option<u64>,
    tail: Option<u64>,
    range: Option<(Option<u64>, Option<u64>)>,
    format: Format,
) -> Res {
    let a = Array::attach(uri, ro())?;
    let d = a.dtype();
    let dims = trailing(&a);
    let row = row_size(&dims);
    let rows = a.len() / row;
    let (start, end) = select(rows, head, tail, range);
    let row_bytes =
        (row as usize).checked_mul(d.itemsize()).ok_or_else(|| format!("cat {uri}: row size overflows"))?;
    let per_chunk = ((1usize << 20) / row_bytes.max(1)).max(1) as u64;
    let mut buf = Vec::new();
    let mut o = stdout();
    let mut text = String::new();
    if format == Format::Json {
        o.write_all(b"[")?;
    }
    let mut r = start;
    while r < end {
        let n = per_chunk.min(end - r);
        buf.resize(n as usize * row_bytes, 0);
        // SAFETY: buf holds n rows of row * itemsize bytes.
        unsafe { a.read_raw(r * row, n * row, buf.as_mut_ptr()) }?;
        if format == Format::Raw {
            o.write_all(&buf)?;
            r += n;
            continue;
        }
        text.clear();
        for (i, rb) in buf.chunks_exact(row_bytes.max(1)).enumerate() {
            match format {
                Format::Json => {
                    if r + i as u64 > start {
                        text.push_str(",\n ");
                    }
                    json_nested(&mut text, d, rb, &dims);
                }
                _ => {
                    let sep = if format == Format::Csv { ',' } else { ' ' };
                    for (j, v) in rb.chunks_exact(d.itemsize()).enumerate() {
                        if j > 0 {
                            text.push(sep);
                        }
                        elem::write_value(&mut text, d, v, Style::Text);
                    }
                    text.push('\n');
                }
            }
        }
        o.write_all(text.as_bytes())?;
        r += n;
    }
    if format == Format::Json {
        o.write_all(b"]\n")?;
    }
    Ok(o.flush()?)
}

// ----- create, rm -----

fn create(
    uri: &str,
    dtype: Dtype,
    shape: &[u64],
    capacity: Option<u64>,
    mode: Option<u32>,
    overwrite: bool,
) -> Res {
    let (rows, dims) = match shape {
        [] => (0, &[][..]),
        [rows, dims @ ..] => (*rows, dims),
    };
    if dims.len() > 7 {
        return Err(Fail::Msg(format!("create {uri}: at most 8 dimensions, not {}", shape.len())));
    }
    if dims.contains(&0) {
        return Err(Fail::Msg(format!("create {uri}: every extent but the first must be at least 1")));
    }
    let overflows = || format!("create {uri}: shape {} overflows", out::shape_text(shape));
    let row = checked_product(dims).ok_or_else(overflows)?;
    let initial = rows.checked_mul(row).ok_or_else(overflows)?;
    let cap = capacity.unwrap_or(0).max(initial);
    let a = create_shaped(uri, dtype, dims, cap, Options { mode, overwrite, ..Options::default() })?;
    fill_zeros(&a, initial).inspect_err(|_| {
        let _ = mba::delete(uri);
    })
}

/// Appends `n` zero scalars in steps of whole rows of at most 1 MiB.
fn fill_zeros(a: &Array, n: u64) -> Res {
    let row = row_size(&trailing(a));
    let step = ((1u64 << 20) / (row * a.itemsize() as u64)).max(1) * row;
    let zeros = vec![0u8; (step.min(n) as usize) * a.itemsize()];
    let mut done = 0;
    while done < n {
        let k = step.min(n - done);
        // SAFETY: zeros holds at least k elements.
        unsafe { a.extend_raw(zeros.as_ptr(), k) }?;
        done += k;
    }
    Ok(())
}

fn rm(uris: &[String], force: bool) -> Res {
    let mut failed = Vec::new();
    for u in uris {
        let uri = resolve(u);
        let r = (|| -> Res {
            if !force {
                if let Err(e) = list::inspect(&uri) {
                    if e.kind() == mba::ErrorKind::Corrupt {
                        return Err(Fail::Msg(format!(
                            "rm {uri}: not an mba array (use --force to remove it)"
                        )));
                    }
                }
            }
            Ok(mba::delete_with(&uri, force)?)
        })();
        if let Err(Fail::Msg(m)) = r {
            warn!("mba: {m}");
            failed.push(uri);
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        // The messages are printed; exit 1 without another.
        std::process::exit(1)
    }
}

// ----- watch -----

static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

fn watch(uri: &str, interval: f64, count: Option<u64>) -> Res {
    let a = Array::attach(uri, ro())?;
    let tty = std::io::stdout().is_terminal();
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_interrupt as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_interrupt as *const () as libc::sighandler_t);
    }
    let row = row_size(&trailing(&a));
    let mut o = std::io::stdout().lock();
    let start = Instant::now();
    let (mut prev_len, mut prev_t) = (a.len(), start);
    let first_len = prev_len;
    let mut n = 0u64;
    loop {
        let now = Instant::now();
        let len = a.len();
        let dt = now.duration_since(prev_t).as_secs_f64();
        let rate = if n == 0 || dt <= 0.0 { 0.0 } else { (len as f64 - prev_len as f64) / dt };
        let total = now.duration_since(start).as_secs_f64();
        let avg = if total > 0.0 { (len as f64 - first_len as f64) / total } else { 0.0 };
        // The writer state, from the header and slot table as the store holds them now.
        let (lock, lease, writers) = match list::inspect(uri) {
            Ok(e) => (lock_text(&e), lease_text(&e), writers_text(&e)),
            Err(e) => (format!("? ({e})"), "?".into(), "?".into()),
        };
        let rows = if row > 1 { format!(" ({} rows)", len / row) } else { String::new() };
        let line = format!(
            "{uri}  len {len}{rows}  {rate:+.1}/s (avg {avg:+.1}/s)  capacity {}  lock {lock}  lease {lease}  writers {writers}",
            a.capacity()
        );
        if tty {
            write!(o, "\r\x1b[2K{line}")?;
        } else {
            writeln!(o, "{line}")?;
        }
        o.flush()?;
        n += 1;
        prev_len = len;
        prev_t = now;
        if count.is_some_and(|c| n >= c) {
            break;
        }
        let until = now + Duration::from_secs_f64(interval);
        while Instant::now() < until && !INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
            std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
        }
        if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
    }
    if tty {
        writeln!(o)?;
    }
    Ok(())
}

// ----- export, import -----

fn export(uri: &str, file: &Path) -> Res {
    let a = Array::attach(uri, ro())?;
    let d = a.dtype();
    let dims = trailing(&a);
    let row = row_size(&dims);
    let rows = a.len() / row;
    let count = rows * row;
    let mut shape = vec![rows];
    shape.extend_from_slice(&dims);
    // A temporary beside the file, renamed into place when whole. Made new (O_CREAT|O_EXCL,
    // which never follows a symlink): its name is predictable, and in a directory others may
    // write, a link planted there must not make the export overwrite the link's target.
    let name = file.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut tmp = PathBuf::new();
    let mut made = None;
    for n in 0..100u32 {
        tmp = file.with_file_name(format!(".{name}.mba-export.{}.{n}", std::process::id()));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            r => {
                made = Some(r.map_err(|e| format!("export {uri}: create {}: {e}", tmp.display()))?);
                break;
            }
        }
    }
    let Some(f) = made else {
        return Err(Fail::Msg(format!(
            "export {uri}: create {}: every temporary name is taken",
            tmp.display()
        )));
    };
    let r = (|| -> Res {
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let io = |e: std::io::Error| Fail::Msg(format!("export {uri}: write {}: {e}", file.display()));
        npy::write_header(&mut w, d, &shape).map_err(io)?;
        let total = count * d.itemsize() as u64;
        let mut p = Progress::new(&format!("export {uri}"), total);
        let step = ((4u64 << 20) / (row * d.itemsize() as u64)).max(1) * row;
        let mut buf = Vec::new();
        let mut done = 0;
        while done < count {
            let k = step.min(count - done);
            buf.resize(k as usize * d.itemsize(), 0);
            // SAFETY: buf holds k elements.
            unsafe { a.read_raw(done, k, buf.as_mut_ptr()) }?;
            w.write_all(&buf).map_err(io)?;
            p.add(buf.len() as u64);
            done += k;
        }
        let f = w.into_inner().map_err(|e| io(e.into_error()))?;
        f.sync_all().map_err(io)?;
        p.finish();
        std::fs::rename(&tmp, file)
            .map_err(|e| format!("export {uri}: rename to {}: {e}", file.display()))?;
        Ok(())
    })();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

fn import(file: &Path, uri: &str, mode: Option<u32>, overwrite: bool) -> Res {
    let shown = file.display();
    let f = std::fs::File::open(file).map_err(|e| format!("import {shown}: {e}"))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut r = std::io::BufReader::with_capacity(1 << 20, f);
    // The library's parser refuses what mba cannot hold: other dtypes (naming them), more than
    // 8 dimensions, Fortran order that changes the layout.
    let (h, off) = npy::read_header(&mut r).map_err(|e| format!("import {shown}: {e}"))?;
    let (d, swap) = (h.dtype, h.swap);
    let shape = if h.shape.is_empty() { vec![1] } else { h.shape.clone() };
    let dims = &shape[1..];
    if dims.contains(&0) {
        return Err(Fail::Msg(format!("import {shown}: every extent but the first must be at least 1")));
    }
    let count = checked_product(&shape).ok_or(format!("import {shown}: shape overflows"))?;
    let bytes = count.checked_mul(d.itemsize() as u64).ok_or(format!("import {shown}: shape overflows"))?;
    let have = size.saturating_sub(off as u64);
    if have < bytes {
        return Err(Fail::Msg(format!(
            "import {shown}: truncated: shape {} of {} needs {bytes} data bytes, the file has {have}",
            out::shape_text(&shape),
            elem::numpy_name(d)
        )));
    }
    let a = create_shaped(uri, d, dims, count, Options { mode, overwrite, ..Options::default() })?;
    let res = (|| -> Res {
        let row = row_size(dims);
        let step = ((4u64 << 20) / (row * d.itemsize() as u64)).max(1) * row;
        let mut buf = Vec::new();
        let mut p = Progress::new(&format!("import {uri}"), bytes);
        let mut done = 0;
        while done < count {
            let k = step.min(count - done);
            buf.resize(k as usize * d.itemsize(), 0);
            r.read_exact(&mut buf).map_err(|e| format!("import {shown}: read: {e}"))?;
            if swap {
                let part = if matches!(elem::kind(d), elem::Kind::Complex) {
                    d.itemsize() / 2
                } else {
                    d.itemsize()
                };
                for c in buf.chunks_exact_mut(part) {
                    c.reverse();
                }
            }
            // SAFETY: buf holds k elements.
            unsafe { a.extend_raw(buf.as_ptr(), k) }?;
            p.add(buf.len() as u64);
            done += k;
        }
        p.finish();
        Ok(())
    })();
    if res.is_err() {
        let _ = mba::delete(uri);
    }
    res
}

// ----- gc -----

/// Something `gc` found: a leaked array or a staging leftover.
struct Leak {
    /// The URI (an array) or path (a staging file), as shown.
    shown: String,
    why: String,
    bytes: u64,
    /// The exact name, never a lossy conversion: removing the shown text could remove another file.
    path: PathBuf,
    /// The URI of an array; `None` for a staging file.
    uri: Option<std::ffi::OsString>,
    /// The file that was inspected: removed only if the name still leads to it.
    dev: u64,
    ino: u64,
}

/// Removes `l` if its name still leads to the file that was inspected.
fn remove_leak(l: &Leak) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::symlink_metadata(&l.path).map_err(|e| format!("{}: {e}", l.shown))?;
    if (md.dev(), md.ino()) != (l.dev, l.ino) {
        return Err(format!("{}: replaced since it was inspected; left alone", l.shown));
    }
    match &l.uri {
        Some(uri) => mba::delete(uri).map_err(|e| e.to_string()),
        None => std::fs::remove_file(&l.path).map_err(|e| format!("remove {}: {e}", l.shown)),
    }
}

fn gc_cmd(dir: Option<&Path>, older_than: Option<Duration>, yes: bool) -> Res {
    use std::os::unix::fs::MetadataExt;
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let old_enough = |ns: u64| older_than.is_none_or(|age| now.saturating_sub(ns) >= age.as_nanos() as u64);
    // Without /proc nothing can be said of what is in use: every array would look unused.
    let in_use =
        gc::InUse::scan().map_err(|e| format!("gc: read /proc: {e} (it tells which arrays are in use)"))?;
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    let (mut others, mut shared) = (0usize, 0usize);
    // Whether gc may count a file of this owner and mode as leaked. Not root: never another
    // user's file; nor, when some processes could not be inspected, one that other users may
    // open, for one of theirs may hold it.
    let mut mine = |uid: u32, mode: u32| {
        if euid == 0 {
            true
        } else if uid != euid {
            others += 1;
            false
        } else if in_use.uninspected > 0 && mode & 0o066 != 0 {
            shared += 1;
            false
        } else {
            true
        }
    };
    let mut found: Vec<Leak> = Vec::new();
    for s in list::staging(dir)? {
        if !s.alive && old_enough(s.mtime_ns) {
            let Ok(md) = std::fs::symlink_metadata(&s.path) else { continue };
            if md.file_type().is_file() && !in_use.holds(md.dev(), md.ino()) && mine(md.uid(), md.mode()) {
                found.push(Leak {
                    shown: out::name_text(s.path.as_os_str()),
                    why: format!("staging file of dead process {}", s.pid),
                    bytes: s.bytes,
                    path: s.path.clone(),
                    uri: None,
                    dev: md.dev(),
                    ino: md.ino(),
                });
            }
        }
    }
    for e in list::list(dir)? {
        if e.is_valid()
            && e.creator == Liveness::Dead
            && !in_use.holds(e.dev, e.ino)
            && old_enough(e.created_ns)
            && mine(e.uid, e.mode)
        {
            let why = format!(
                "creator {} exited, not open or mapped, created {}",
                e.creator_pid,
                local_time(e.created_ns, ' ', false)
            );
            found.push(Leak {
                shown: out::name_text(&e.uri),
                why,
                bytes: e.bytes,
                path: e.path.clone(),
                uri: Some(e.uri.clone()),
                dev: e.dev,
                ino: e.ino,
            });
        }
    }
    let mut o = stdout();
    if in_use.uninspected > 0 {
        let (whose, so) = if euid == 0 {
            ("", "arrays only they hold may be listed")
        } else {
            (
                " to this user; root can read them",
                "only this user's arrays that other users cannot open are considered",
            )
        };
        warn!(
            "mba: gc: {} processes could not be inspected (their /proc/PID/fd or maps are not readable{whose}): {so}",
            in_use.uninspected
        );
    }
    if others > 0 || shared > 0 {
        warn!("mba: gc: left alone: {others} files of other users, {shared} of this user's that other users may open");
    }
    let mut failed = false;
    for l in &found {
        if yes {
            match remove_leak(l) {
                Ok(()) => writeln!(o, "removed {}  ({}; {})", l.shown, l.why, out::human_bytes(l.bytes))?,
                Err(m) => {
                    warn!("mba: gc: {m}");
                    failed = true;
                }
            }
        } else {
            writeln!(o, "{}  ({}; {})", l.shown, l.why, out::human_bytes(l.bytes))?;
        }
    }
    let total: u64 = found.iter().map(|l| l.bytes).sum();
    if found.is_empty() {
        writeln!(o, "nothing looks leaked")?;
    } else if !yes {
        writeln!(o, "{} found, {}; run with --yes to remove them", found.len(), out::human_bytes(total))?;
    }
    o.flush()?;
    if failed {
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve() {
        assert_eq!(resolve("x"), "shm://x");
        assert_eq!(resolve("shm://x"), "shm://x");
        assert_eq!(resolve("/tmp/a"), "file:///tmp/a");
        assert_eq!(resolve("./a"), "file://./a");
        assert_eq!(resolve("file://a"), "file://a");
    }

    #[test]
    fn selections() {
        assert_eq!(select(10, Some(3), None, None), (0, 3));
        assert_eq!(select(10, Some(30), None, None), (0, 10));
        assert_eq!(select(10, None, Some(3), None), (7, 10));
        assert_eq!(select(10, None, Some(30), None), (0, 10));
        assert_eq!(select(10, None, None, Some((Some(2), Some(5)))), (2, 5));
        assert_eq!(select(10, None, None, Some((Some(8), None))), (8, 10));
        assert_eq!(select(10, None, None, Some((Some(12), Some(20)))), (10, 10));
        assert_eq!(select(10, None, None, Some((Some(5), Some(2)))), (2, 2));
        assert_eq!(parse_range("3:"), Ok((Some(3), None)));
        assert!(parse_range("3").is_err());
        assert!(parse_range("a:b").is_err());
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
