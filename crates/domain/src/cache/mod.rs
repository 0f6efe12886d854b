//! The parts of the API's in-process cache: [`table`], values by Redis key that an invalidation
//! can never leave stale, and [`tracker`], the connection they are read on, which Redis tells
//! when a key it served changes. What is cached, and how reads use it, is `store::cached`.

pub mod table;
pub mod tracker;

pub use table::{Table, Ticket};
pub use tracker::{OnInvalidate, Tracker};
