//! CPU profiles for the diagnostics panel: the whole process sampled for a
//! few seconds (pprof-rs, SIGPROF at [`FREQUENCY_HZ`]), kept as a tree for
//! the panel's flame graph, as an SVG flame graph and in Google's pprof
//! format for `go tool pprof` and the like.
//!
//! A profile holds function and thread names only, never data. One profile
//! at a time per process: the sampler is process-wide.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use crate::i18n::{Lang, Message};

/// Samples per second: enough to see where seconds go, cheap enough to
/// leave the desk usable while it runs.
pub const FREQUENCY_HZ: i32 = 100;
/// The longest profile the panel records.
pub const MAX_SECONDS: u32 = 60;
/// Frames deeper than this are cut, so that a runaway recursion cannot make
/// the tree (and the IPC answer) unbounded.
const MAX_DEPTH: usize = 128;

/// Whether this platform can record CPU profiles.
pub const fn available() -> bool {
    cfg!(unix)
}

/// One frame of the flame graph: a function (or a thread at the top), the
/// samples in it and below it, and its callees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct FlameNode {
    pub name: String,
    #[ts(type = "number")]
    pub value: u64,
    pub children: Vec<FlameNode>,
}

impl FlameNode {
    fn new(name: String) -> FlameNode {
        FlameNode {
            name,
            value: 0,
            children: Vec::new(),
        }
    }

    /// Adds `count` samples of the stack `path` (outermost first).
    fn add<'a>(&mut self, mut path: impl Iterator<Item = &'a str>, count: u64) {
        self.value += count;
        if let Some(name) = path.next() {
            let child = match self.children.iter().position(|c| c.name == name) {
                Some(i) => &mut self.children[i],
                None => {
                    self.children.push(FlameNode::new(name.to_owned()));
                    self.children.last_mut().expect("just pushed")
                }
            };
            child.add(path, count);
        }
    }

    /// Heaviest callees first, as flame graphs and people read them.
    fn sort(&mut self) {
        self.children
            .sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.name.cmp(&b.name)));
        for c in &mut self.children {
            c.sort();
        }
    }

    /// The stacks as `a;b;c count` lines, the folded format flame graph
    /// tools read.
    pub fn folded(&self) -> String {
        fn walk(node: &FlameNode, prefix: &mut Vec<String>, out: &mut String) {
            prefix.push(node.name.clone());
            let below: u64 = node.children.iter().map(|c| c.value).sum();
            if node.value > below {
                out.push_str(&prefix.join(";"));
                out.push(' ');
                out.push_str(&(node.value - below).to_string());
                out.push('\n');
            }
            for c in &node.children {
                walk(c, prefix, out);
            }
            prefix.pop();
        }
        let mut out = String::new();
        let mut prefix = Vec::new();
        for c in &self.children {
            walk(c, &mut prefix, &mut out);
        }
        out
    }
}

/// A recorded profile.
#[derive(Debug, Clone)]
pub struct Profile {
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    pub samples: u64,
    /// All threads under one root; each thread's stacks below its name.
    pub root: FlameNode,
    /// The flame graph as an SVG file (inferno), searchable in a browser.
    pub svg: Vec<u8>,
    /// Google's pprof protobuf (`profile.proto`), uncompressed.
    pub pprof: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("CPU profiles are not available on this platform")]
    Unsupported,
    #[error("a CPU profile is already being recorded")]
    Busy,
    #[error("the CPU profile was cancelled")]
    Cancelled,
    #[error("the CPU profiler failed: {0}")]
    Failed(String),
}

impl crate::tasks::TaskError for ProfileError {
    fn is_cancelled(&self) -> bool {
        matches!(self, ProfileError::Cancelled)
    }
}

impl ProfileError {
    /// In plain words for the panel.
    pub fn message(&self, lang: Lang) -> String {
        self.msg().render(lang)
    }

    /// The message, in no language yet.
    pub fn msg(&self) -> Message {
        match self {
            ProfileError::Unsupported => Message::new("core.profile.unsupported"),
            ProfileError::Busy => Message::new("core.profile.busy"),
            ProfileError::Cancelled => Message::new("core.profile.cancelled"),
            ProfileError::Failed(d) => Message::new("core.profile.failed").with("detail", d),
        }
    }
}

/// Set while a profile is recorded: pprof-rs has one sampler per process.
static RECORDING: AtomicBool = AtomicBool::new(false);

/// Clears [`RECORDING`] however the recording ends.
struct Recording;

impl Recording {
    fn start() -> Result<Recording, ProfileError> {
        RECORDING
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| Recording)
            .map_err(|_| ProfileError::Busy)
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        RECORDING.store(false, Ordering::Release);
    }
}

/// Samples the whole process for `duration` (at most [`MAX_SECONDS`]), or
/// until `cancel` fires, which discards the samples.
pub async fn record(
    duration: Duration,
    cancel: &CancellationToken,
) -> Result<Profile, ProfileError> {
    let duration = duration.min(Duration::from_secs(u64::from(MAX_SECONDS)));
    let _recording = Recording::start()?;
    imp::record(duration, cancel).await
}

#[cfg(unix)]
mod imp {
    use std::time::Duration;

    use pprof::protos::Message as _;
    use tokio_util::sync::CancellationToken;

    use super::{FREQUENCY_HZ, FlameNode, MAX_DEPTH, Profile, ProfileError};

    pub(super) async fn record(
        duration: Duration,
        cancel: &CancellationToken,
    ) -> Result<Profile, ProfileError> {
        let started_at = chrono::Utc::now();
        let failed = |e: pprof::Error| ProfileError::Failed(e.to_string());
        let guard = pprof::ProfilerGuardBuilder::default()
            .frequency(FREQUENCY_HZ)
            // Unwinding inside these from a signal handler can deadlock.
            .blocklist(&["libc", "libgcc", "pthread", "vdso"])
            .build()
            .map_err(failed)?;
        tokio::select! {
            () = tokio::time::sleep(duration) => {}
            () = cancel.cancelled() => return Err(ProfileError::Cancelled),
        }
        // Symbolizing reads debug information: off the async workers.
        tokio::task::spawn_blocking(move || {
            let report = guard.report().build().map_err(failed)?;
            drop(guard);
            let mut root = FlameNode::new("all".into());
            let mut samples = 0u64;
            for (frames, count) in &report.data {
                let count = u64::try_from(*count).unwrap_or(0);
                samples += count;
                let names: Vec<String> = frames
                    .frames
                    .iter()
                    .rev()
                    .flat_map(|f| f.iter().rev().map(|s| s.name()))
                    .take(MAX_DEPTH)
                    .collect();
                let thread = frames.thread_name_or_id();
                root.add(
                    std::iter::once(thread.as_str()).chain(names.iter().map(String::as_str)),
                    count,
                );
            }
            root.sort();
            let mut svg = Vec::new();
            report.flamegraph(&mut svg).map_err(failed)?;
            let pprof = report.pprof().map_err(failed)?.encode_to_vec();
            Ok(Profile {
                started_at,
                duration: report.timing.duration,
                samples,
                root,
                svg,
                pprof,
            })
        })
        .await
        .map_err(|e| ProfileError::Failed(e.to_string()))?
    }
}

#[cfg(not(unix))]
mod imp {
    use std::time::Duration;

    use tokio_util::sync::CancellationToken;

    use super::{Profile, ProfileError};

    pub(super) async fn record(
        _duration: Duration,
        _cancel: &CancellationToken,
    ) -> Result<Profile, ProfileError> {
        Err(ProfileError::Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_fold_into_a_tree_heaviest_first_and_back() {
        let mut root = FlameNode::new("all".into());
        root.add(["main", "sync", "push"].into_iter(), 3);
        root.add(["main", "sync"].into_iter(), 1);
        root.add(["main", "save"].into_iter(), 5);
        root.add(["writer", "commit"].into_iter(), 2);
        root.sort();
        assert_eq!(root.value, 11);
        let main = &root.children[0];
        assert_eq!((main.name.as_str(), main.value), ("main", 9));
        let names: Vec<&str> = main.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["save", "sync"]);
        assert_eq!(
            root.folded(),
            "main;save 5\nmain;sync 1\nmain;sync;push 3\nwriter;commit 2\n"
        );
    }
}

#[cfg(all(test, unix))]
mod recording_tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use pprof::protos::Message as _;
    use tokio_util::sync::CancellationToken;

    use super::*;

    #[inline(never)]
    fn spin_until(stop: &AtomicBool) -> u64 {
        let mut x = 0u64;
        while !stop.load(Ordering::Relaxed) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        x
    }

    /// One test records for real: the sampler is one per process.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_profile_sees_a_busy_thread_and_saves_as_svg_and_pprof() {
        let stop = Arc::new(AtomicBool::new(false));
        let busy = std::thread::Builder::new()
            .name("profile-probe".into())
            .spawn({
                let stop = stop.clone();
                move || spin_until(&stop)
            })
            .unwrap();
        let cancel = CancellationToken::new();
        let recording = tokio::spawn({
            let cancel = cancel.clone();
            async move { record(Duration::from_millis(1500), &cancel).await }
        });
        // The first recording holds the sampler: a second one is refused.
        while !RECORDING.load(Ordering::Acquire) {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            record(Duration::from_millis(10), &CancellationToken::new())
                .await
                .err(),
            Some(ProfileError::Busy)
        );
        let profile = recording.await.unwrap().unwrap();
        stop.store(true, Ordering::Relaxed);
        busy.join().unwrap();

        assert!(profile.samples >= 50, "{} samples", profile.samples);
        assert_eq!(profile.root.value, profile.samples);
        let probe = profile
            .root
            .children
            .iter()
            .find(|t| t.name == "profile-probe")
            .unwrap_or_else(|| panic!("threads: {:?}", profile.root.children));
        assert!(
            probe.value * 2 >= profile.samples,
            "the busy thread dominates"
        );
        assert!(
            profile.root.folded().contains("spin_until"),
            "{}",
            profile.root.folded()
        );
        let svg = String::from_utf8(profile.svg.clone()).unwrap();
        assert!(svg.contains("<svg") && svg.contains("spin_until"));
        let decoded = pprof::protos::Profile::decode(profile.pprof.as_slice()).unwrap();
        let counted: i64 = decoded.sample.iter().map(|s| s.value[0]).sum();
        assert_eq!(u64::try_from(counted).unwrap(), profile.samples);

        // Cancelling a recording ends it at once, and frees the sampler.
        let cancel = CancellationToken::new();
        cancel.cancel();
        assert_eq!(
            record(Duration::from_secs(30), &cancel).await.err(),
            Some(ProfileError::Cancelled)
        );
        assert!(!RECORDING.load(Ordering::Acquire));
    }
}
