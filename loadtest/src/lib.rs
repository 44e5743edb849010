//! Load tests for origin-verify: drive URLs at a fixed rate for a fixed time, check what each must
//! answer (2xx through CloudFront, 401/403 straight at the API), mark events such as rotations on the
//! timeline, and report as a text table, JSON, and an HTML page with charts.
//!
//! ```no_run
//! # async fn example() -> Result<(), origin_verify_loadtest::Error> {
//! use std::time::Duration;
//! use origin_verify_loadtest::{run, Expect, Plan, Target, Timeline};
//!
//! let mut plan = Plan::new(vec![
//!     Target::new("through", "http://127.0.0.1:8080/hello", Expect::Success),
//!     Target::new("direct", "http://127.0.0.1:9090/hello", Expect::Refused),
//! ]);
//! plan.duration = Duration::from_secs(20);
//! let timeline = Timeline::new();
//! let marks = timeline.clone();
//! tokio::spawn(async move {
//!     marks.sleep_until_elapsed(Duration::from_secs(10)).await;
//!     marks.mark("rotation started");
//! });
//! let report = run(&plan, timeline).await?;
//! println!("{}", report.summary());
//! assert_eq!(report.violations(), 0);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![warn(clippy::all, rust_2018_idioms)]
#![forbid(unsafe_code)]

mod chart;
mod error;
mod html;
mod plan;
mod progress;
mod record;
mod report;
mod rotate;
mod run;
mod timeline;
mod units;
mod value_source;

pub use error::Error;
pub use plan::{Expect, Mode, Plan, Target};
pub use progress::Progress;
pub use report::{Latency, PlanInfo, Report, Second, StatusClass, StatusKey, TargetReport};
pub use rotate::{run_rotations, secrets_manager_client, RotationAction, RotationOutcome, RotationSchedule};
pub use run::{run, run_with_progress};
pub use timeline::{Marker, Timeline};
pub use value_source::{ValueSource, MAX_VALUE_BYTES};
