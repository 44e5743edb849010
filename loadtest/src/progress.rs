//! The progress line on stderr while a run goes on.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::run::TargetRun;
use crate::units;

/// Where (whether) a run reports progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Progress {
    /// On stderr: one line updated in place about once a second on a terminal, otherwise one line
    /// every 5 s (so logs stay readable).
    #[default]
    Stderr,
    /// Nothing.
    Off,
}

/// A running progress reporter; [`finish`](Self::finish) prints the last line.
pub(crate) struct Reporter {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Reporter {
    pub(crate) fn start(
        mode: Progress,
        targets: Vec<Arc<TargetRun>>,
        start: Instant,
        duration: Duration,
    ) -> Self {
        if mode == Progress::Off {
            return Reporter {
                stop: None,
                task: None,
            };
        }
        let (stop, mut stopped) = oneshot::channel();
        let terminal = std::io::stderr().is_terminal();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await; // the first tick is immediate: nothing to say yet
            let mut ticks: u64 = 0;
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => {}
                }
                ticks += 1;
                let line = line(&targets, start, duration);
                if terminal {
                    // \x1b[K clears what a longer previous line left behind.
                    eprint!("\r{line}\x1b[K");
                    let _ = std::io::stderr().flush();
                } else if ticks % 5 == 0 {
                    eprintln!("{line}");
                }
            }
            let line = line(&targets, start, duration);
            if terminal {
                eprintln!("\r{line}\x1b[K");
            } else {
                eprintln!("{line}");
            }
        });
        Reporter {
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub(crate) async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

fn line(targets: &[Arc<TargetRun>], start: Instant, duration: Duration) -> String {
    let elapsed = start.elapsed().min(duration + Duration::from_secs(3600));
    let mut parts = vec![format!(
        "{:>6}/{}",
        units::duration(Duration::from_secs(elapsed.as_secs())),
        units::duration(duration)
    )];
    for t in targets {
        let p = t.progress();
        parts.push(format!(
            "{} {} req, {} non-2xx, {} violations",
            t.target.name, p.total, p.non_2xx, p.violations
        ));
    }
    parts.join("  |  ")
}
