//! The coordinator side: servers under test, worker processes, the
//! publisher and the progress bar.

pub mod http;
pub mod pg;
pub mod pool;
pub mod progress;
pub mod publisher;
pub mod servers;
